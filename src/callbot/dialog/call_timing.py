"""How long a scripted call lasts for the caller: from the start to the first answer, and in all.

A flow test (flowtests.py) is played on a timeline: the bot's replies take what the voice takes to
say them (`seconds_of`: real Piper durations with `callbot flows test --timing`, else words at
`settings.speech.words_per_second`); the caller speaks at CALLER_WORDS_PER_SECOND, presses keys,
or stays silent until the reply's no-input timeout; each answer starts RESPONSE_SECS after the
caller's turn (the latency target).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from callbot.dialog.answer_length import estimated_seconds, word_count
from callbot.dialog.types import Action, Reply

CALLER_WORDS_PER_SECOND = 2.5  # a caller asking a question on the phone, hesitations included
MIN_CALLER_SECS = 1.0
KEY_PRESS_SECS = 0.4
RESPONSE_SECS = 1.0  # end of the caller's turn → first audio of the reply
ANSWERS = frozenset({Action.ANSWER, Action.OUT_OF_SCOPE, Action.ORIENT, Action.EMERGENCY})


def words_clock(words_per_second: float) -> Callable[[str], float]:
    return lambda text: estimated_seconds(text, words_per_second)


@dataclass
class CallClock:
    """The caller's clock through one scripted call."""

    seconds_of: Callable[[str], float]
    now: float = 0.0
    first_answer_at: float | None = None

    def bot(self, reply: Reply) -> None:
        for p in reply.prompts:
            self.now += self.seconds_of(p.text)

    def caller_says(self, text: str) -> None:
        self.now += max(MIN_CALLER_SECS, word_count(text) / CALLER_WORDS_PER_SECOND) + RESPONSE_SECS

    def caller_presses(self, keys: str) -> None:
        self.now += KEY_PRESS_SECS * len(keys) + RESPONSE_SECS

    def caller_silent(self, after: Reply | None) -> None:
        self.now += after.no_input_timeout if after else 7.0

    def answer(self, reply: Reply) -> None:
        """The reply to a caller turn: note when the first answer starts, then speak it."""
        if self.first_answer_at is None and reply.action in ANSWERS and reply.prompts:
            self.first_answer_at = self.now
        self.bot(reply)
