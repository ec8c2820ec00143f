"""The end of a call: goodbye, with the flows' optional satisfaction note (1 to 5) first."""

from __future__ import annotations

from callbot.dialog.conversation_base import ConversationBase
from callbot.dialog.slots import digits_from_speech
from callbot.dialog.states import State
from callbot.dialog.types import Action, Expect, Reply, Understanding
from callbot.vocabulary import Outcome

SATISFACTION_SCORES = "12345"


class Ending(ConversationBase):
    def _goodbye(self, u: Understanding) -> Reply:
        sat = self.flows.satisfaction
        if sat.enabled and self.answered and self.state != State.SATISFACTION:
            self.state = State.SATISFACTION
            return self._reply([self._prompt(sat.question, State.SATISFACTION)], Action.GOODBYE, u,
                               node=State.SATISFACTION, expect=Expect.DIGITS)
        return self._end_goodbye(u, [])

    def _end_goodbye(self, u: Understanding, lead: list[str]) -> Reply:
        outcome = Outcome.RESOLVED if self.answered else Outcome.ABANDONED
        return self._end(u, [*lead, self.flows.prompts.goodbye], outcome, Action.GOODBYE)

    def _in_satisfaction(self, u: Understanding) -> Reply | None:
        digits = digits_from_speech(u.text)
        if is_score(digits):
            return self._satisfaction(int(digits), u)
        return self._end_goodbye(u, [])

    def _satisfaction(self, score: int, u: Understanding) -> Reply:
        reply = self._end(u, [self.flows.satisfaction.thanks], Outcome.RESOLVED, Action.GOODBYE)
        reply.satisfaction = score
        return reply


def is_score(digits: str) -> bool:
    return len(digits) == 1 and digits in SATISFACTION_SCORES
