"""Small talk and hesitation: what callers say that is neither a question nor a misunderstanding.

"Bonjour", "allô" get the invitation to speak; "attendez", "une seconde" make the bot wait longer
(`settings.hold_seconds`) before it asks again, and "euh" alone makes it wait in silence; "vous
êtes un robot ?" gets the AI disclosure again. None of these counts as a miss. The intents are
optional in the flows (flows/intents/control.yaml): without them such words are misses as before.
"""

from __future__ import annotations

from enum import StrEnum

from callbot.dialog.conversation_base import ConversationBase
from callbot.dialog.normalize import HESITATIONS, simplify
from callbot.dialog.states import State
from callbot.dialog.types import Action, Prompt, Reply, Understanding


def _only_fillers(text: str) -> bool:
    """Whether the words are hesitations only ("euh", "hum"). Words the normaliser cannot read at
    all (another script, symbols) are not: they get "je n'ai pas compris", not silence."""
    words = simplify(text).split()
    return bool(words) and all(w in HESITATIONS for w in words)


class SmallTalkIntent(StrEnum):
    GREETING = "salutation"
    HOLD = "attendre"
    ROBOT = "robot"


class SmallTalk(ConversationBase):
    holding = False  # the caller asked the bot to wait: the next silence is not a miss

    def _small_talk(self, u: Understanding) -> Reply | None:
        """The reply to small talk, or None when `u` is something else."""
        p = self.flows.prompts
        if u.action == Action.FALLBACK and u.fallback_reason == "empty" and _only_fillers(u.text):
            # Only fillers ("euh", "hum"): the caller is thinking. Say nothing, and ask again after
            # the usual silence (not `hold_seconds`, which is for "attendez").
            return self._hold(u, [], self._node(self.state).no_input_timeout)
        if u.intent == SmallTalkIntent.HOLD:
            return self._hold(u, self._prompts(p.waiting))
        if u.intent == SmallTalkIntent.GREETING:
            return self._then_ask_again(u, self._prompts(p.hello_again))
        if u.intent == SmallTalkIntent.ROBOT:
            return self._then_ask_again(u, [Prompt(self._text(p.disclosure), interruptible=False)])
        return None

    def _then_ask_again(self, u: Understanding, lead: list[Prompt]) -> Reply:
        """`lead`, then the invitation to speak, or the question the caller was asked (a slot, a
        confirmation…), which stays open."""
        p = self.flows.prompts
        if self.state == State.MAIN or not self.last_prompts:
            invitation = self._prompts(p.anything_else if self.answered else p.listening)
            return self._reply([*lead, *invitation], Action.CONTROL, u, remember=False)
        return self._reply([*lead, *self.last_prompts], Action.CONTROL, u, node=self.state,
                           expect=self.last_expect, remember=False)

    def _hold(self, u: Understanding, prompts: list[Prompt], wait: float | None = None) -> Reply:
        self.holding = True
        u.action = Action.CONTROL
        reply = self._reply(prompts, Action.CONTROL, u, node=self.state, expect=self.last_expect,
                            remember=False)
        reply.no_input_timeout = self.flows.settings.hold_seconds if wait is None else wait
        return reply

    def _after_hold(self, u: Understanding) -> Reply | None:
        """The silence after "attendez": ask again, without counting a miss."""
        if not self.holding:
            return None
        self.holding = False
        p = self.flows.prompts
        if self.state == State.MAIN:
            invitation = p.anything_else if self.answered else p.listening
            return self._reply(self._prompts(p.still_there, invitation), Action.REPEAT, u)
        prompts = [*self._prompts(p.still_there), *self.last_prompts]
        return self._reply(prompts, Action.REPEAT, u, node=self.state, expect=self.last_expect,
                           remember=False)
