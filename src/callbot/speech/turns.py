"""Hearing the caller: voice activity (Silero VAD) and end-of-turn detection (Smart Turn v3).

Choices (numbers from bench/bench_speech.py and tests/speech/test_turns.py):
- Silero VAD at 8 kHz with a short `stop_secs` (0.2 s): the VAD only says "silence started";
  deciding that the caller has finished is the turn model's job.
- Stop strategy: pipecat's bundled Smart Turn v3 (`smart-turn-v3.2-cpu.onnx`, multilingual,
  French included, onnxruntime only, no torch). It ends the turn as soon as the sentence sounds
  finished, and waits while the caller is mid-sentence or spelling a number. If it says
  "incomplete", the turn still ends after `turn_silence_secs` of silence (speech-timeout fallback).
  If the model cannot be loaded, a plain speech timeout (`speech_timeout_secs`) is used instead.
- `wait_for_transcript=False`: the turn processor sits before the recogniser in our pipeline,
  so it never sees transcripts; the recogniser finalises when the turn ends instead
  (VoskSTTService finalises on `UserStoppedSpeakingFrame`).
- Words as evidence (`WordsHint`): when Smart Turn says "incomplete", the recogniser's text at
  the pause (its final starts at the VAD stop) is judged by the dialog; a complete, confidently
  understood request ends the turn then, instead of after `turn_silence_secs`. A flat question
  ("quels sont les horaires de la mairie") often sounds unfinished to the acoustic model.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from loguru import logger
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import Frame
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.turns.user_start import BaseUserTurnStartStrategy, VADUserTurnStartStrategy
from pipecat.turns.user_stop import (
    BaseUserTurnStopStrategy,
    SpeechTimeoutUserTurnStopStrategy,
    TurnAnalyzerUserTurnStopStrategy,
)
from pipecat.turns.user_turn_processor import UserTurnProcessor
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from callbot.speech.shared_onnx import GatedSileroVADAnalyzer


@dataclass(frozen=True)
class HearingSettings:
    """Named turn-taking thresholds. Each can be overridden by a same-named attribute on the
    application Settings (e.g. CALLBOT_VAD_STOP_SECS once the lead exposes it)."""

    vad_confidence: float = 0.7  # Silero speech probability to count a frame as speech
    vad_start_secs: float = 0.2  # speech needed before the caller's turn starts (ignores clicks)
    vad_stop_secs: float = 0.2  # silence before the VAD reports "stopped"
    vad_min_volume: float = 0.5  # phone lines are quieter than microphones; pipecat default is 0.6
    use_smart_turn: bool = True
    turn_silence_secs: float = 1.2  # Smart Turn said "not finished": end the turn anyway after this
    speech_timeout_secs: float = 0.5  # fallback stop strategy without the Smart Turn model
    turn_stop_timeout_secs: float = 5.0  # safety net if no stop strategy fires at all

    @classmethod
    def from_settings(cls, settings: Any) -> HearingSettings:  # noqa: ANN401
        values = {f.name: getattr(settings, f.name) for f in fields(cls)
                  if getattr(settings, f.name, None) is not None}
        return cls(**values)


class WordsHint:
    """The caller's words at a pause, passed from the recogniser to the turn strategy.

    `judge(text)` says whether the words make a complete request (the dialog's
    `Conversation.sounds_complete`). The turn strategy `arm()`s it at each VAD stop; the
    recogniser `offer()`s the text of the final it started at that stop."""

    def __init__(self, judge: Callable[[str], bool]) -> None:
        self._judge = judge
        self._words: asyncio.Future[str] | None = None
        self.turns_ended = 0  # turns ended on the words' evidence (for logs and tests)
        # What ended the caller's last turn: "model" (Smart Turn heard a finished sentence),
        # "words", "silence" (`turn_silence_secs` after an unfinished one). Read by the dialog's
        # per-turn timing record, with when (monotonic seconds) the turn was ended.
        self.ended_by: str | None = None
        self.ended_at: float | None = None

    def arm(self) -> None:
        self._words = asyncio.get_running_loop().create_future()
        self.ended_by = self.ended_at = None

    @property
    def turn_end(self) -> tuple[str | None, float | None]:
        return self.ended_by, self.ended_at

    def offer(self, text: str) -> None:
        if self._words is not None and not self._words.done():
            self._words.set_result(text)

    async def complete(self, timeout: float) -> bool:
        """Wait (at most `timeout`) for the words of the pause just armed, and judge them."""
        words = self._words
        if words is None:
            return False
        try:
            text = await asyncio.wait_for(asyncio.shield(words), timeout)
        except TimeoutError:
            return False
        try:
            return bool(text) and self._judge(text)
        except Exception:  # a judge failure only means waiting out the silence
            logger.exception("end-of-turn judge failed")
            return False


class WordsAwareTurnStop(TurnAnalyzerUserTurnStopStrategy):
    """Smart Turn, plus the words: see the module docstring."""

    def __init__(self, *, hint: WordsHint, wait_secs: float, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(**kwargs)
        self._hint = hint
        self._wait_secs = wait_secs
        self._words_task: asyncio.Task | None = None
        self._cause = "model"  # what would end the turn if the base class triggered it now

    async def _handle_vad_user_stopped_speaking(self, frame: Frame) -> None:
        self._hint.arm()
        self._cause = "model"
        await super()._handle_vad_user_stopped_speaking(frame)
        # Ended already (the model heard a finished sentence): the words have nothing to add.
        if self._hint.ended_at is None and not self._turn_complete:
            self._words_task = self.task_manager.create_task(self._judge_words(), f"{self}::words")

    async def _judge_words(self) -> None:
        complete = await self._hint.complete(self._wait_secs)
        self._words_task = None
        if (complete and not self._vad_user_speaking and not self._turn_complete
                and self._hint.ended_at is None):
            logger.debug("end of turn: the turn model heard an unfinished sentence, the words are complete")
            self._turn_complete = True
            self._hint.turns_ended += 1
            self._cause = "words"
            await self._maybe_trigger_user_turn_stopped()

    async def _handle_input_audio(self, frame: Frame) -> None:
        self._cause = "silence"  # the analyzer's own timeout after an unfinished sentence
        await super()._handle_input_audio(frame)

    async def trigger_user_turn_stopped(self, **kwargs: Any) -> None:  # noqa: ANN401
        if self._hint.ended_at is None:
            self._hint.ended_by, self._hint.ended_at = self._cause, time.monotonic()
        await super().trigger_user_turn_stopped(**kwargs)

    async def _discard_pending_end_of_turn(self) -> None:
        if self._words_task is not None:
            task, self._words_task = self._words_task, None
            if task is not asyncio.current_task():
                await self.task_manager.cancel_task(task)
        await super()._discard_pending_end_of_turn()


def build_stop_strategy(h: HearingSettings, hint: WordsHint | None = None) -> BaseUserTurnStopStrategy:
    if h.use_smart_turn:
        try:
            from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams

            from callbot.speech.shared_onnx import SharedSmartTurnAnalyzerV3

            analyzer = SharedSmartTurnAnalyzerV3(params=SmartTurnParams(stop_secs=h.turn_silence_secs))
            if hint is not None:
                return WordsAwareTurnStop(hint=hint, wait_secs=h.turn_silence_secs, turn_analyzer=analyzer,
                                          wait_for_transcript=False)
            return TurnAnalyzerUserTurnStopStrategy(turn_analyzer=analyzer, wait_for_transcript=False)
        except Exception:  # missing onnxruntime or model: a plain timeout still ends turns
            logger.exception("Smart Turn v3 unavailable: falling back to a {} s speech timeout",
                             h.speech_timeout_secs)
    return SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=h.speech_timeout_secs,
                                             wait_for_transcript=False)


def build_hearing(
    settings: Any = None,  # noqa: ANN401
    *,
    start_strategies: list[BaseUserTurnStartStrategy] | None = None,
    hearing: HearingSettings | None = None,
    hint: WordsHint | None = None,
    vad_processor: type[VADProcessor] = VADProcessor,
) -> tuple[VADProcessor, UserTurnProcessor, float]:
    """The two processors that go before the recogniser, and the VAD's stop delay in seconds
    (the dialog subtracts it to time "caller stopped" → "bot answers")."""
    h = hearing or HearingSettings.from_settings(settings)
    vad = vad_processor(vad_analyzer=GatedSileroVADAnalyzer(params=VADParams(
        confidence=h.vad_confidence, start_secs=h.vad_start_secs, stop_secs=h.vad_stop_secs,
        min_volume=h.vad_min_volume,
    )))
    turns = UserTurnProcessor(
        user_turn_strategies=UserTurnStrategies(
            start=start_strategies or [VADUserTurnStartStrategy()],
            stop=[build_stop_strategy(h, hint)],
        ),
        user_turn_stop_timeout=h.turn_stop_timeout_secs,
    )
    return vad, turns, h.vad_stop_secs
