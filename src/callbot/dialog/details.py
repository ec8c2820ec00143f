"""Answers that fit a phone call: what would take longer than the flows' limit to say is cut after
the sentences that fit, and the rest is offered ("Voulez-vous le détail ?"). A "oui" says the
rest; either way the intent's own follow-up question (if any) comes next.

The cut falls between sentences; authors see where with `callbot flows check`, which warns on
every answer over the limit, and are better off writing a short answer with a follow-up.
"""

from __future__ import annotations

from typing import Any

from callbot.dialog.answer_length import estimated_seconds
from callbot.dialog.answers import sentences
from callbot.dialog.control import ControlIntent
from callbot.dialog.conversation_base import ConversationBase, Pending
from callbot.dialog.schema import IntentDef
from callbot.dialog.states import State
from callbot.dialog.types import Action, Expect, Reply, Understanding


def fit(texts: list[str], then: str, limit_secs: float, words_per_second: float,
        *, last_then: str = "") -> tuple[list[str], list[str]]:
    """(what is said now, what is offered as detail), each as one text: the sentences that fit in
    `limit_secs` with the question `then` after them (at least one), and the rest. The whole
    answer is said only if it fits with `last_then`, the question that follows it then."""
    all_sentences = [s for t in texts for s in sentences(t)]
    said: list[str] = []
    for i, sentence in enumerate(all_sentences):
        after = last_then if i == len(all_sentences) - 1 else then
        if said and estimated_seconds(" ".join([*said, sentence, after]), words_per_second) > limit_secs:
            return [" ".join(said)], [" ".join(all_sentences[i:])]
        said.append(sentence)
    return [" ".join(said)], []


class Details(ConversationBase):
    def _split_answer(self, texts: list[str], closing: str) -> tuple[list[str], list[str]]:
        """The answer's sentences that fit with `closing` (the question said after them)."""
        speech = self.flows.settings.speech
        limit, rate = speech.answer_max_seconds, speech.words_per_second
        if estimated_seconds(" ".join([*texts, closing]), rate) <= limit:
            return texts, []
        return fit(texts, self.flows.prompts.more_detail, limit, rate, last_then=closing)

    def _offer_detail(self, intent: IntentDef, slots: dict[str, Any], u: Understanding,
                      head: list[str], detail: list[str]) -> Reply:
        self.pending = Pending(intent, slots, u, detail=detail)
        self.state = State.FOLLOW_UP
        return self._reply(self._prompts(*head, self.flows.prompts.more_detail), u.action, u,
                           node=State.FOLLOW_UP, expect=Expect.YES_NO)

    def _in_detail(self, pending: Pending, u: Understanding) -> Reply | None:
        """The caller's answer to "Voulez-vous le détail ?"."""
        if u.intent == ControlIntent.YES:
            return self._after_detail(pending, u, pending.detail or [], Action.ANSWER)
        if u.intent == ControlIntent.NO:
            return self._after_detail(pending, u, [], Action.CONTROL)
        return None

    def _after_detail(self, pending: Pending, u: Understanding, said: list[str], action: str) -> Reply:
        intent, fu = pending.intent, pending.intent.follow_up
        if fu is not None:
            self.pending = Pending(intent, pending.slots, u)
            self.state = State.FOLLOW_UP
            prompts = self._prompts(*said, self._text(fu.question, intent, pending.slots))
            return self._reply(prompts, action, u, node=State.FOLLOW_UP, expect=Expect.YES_NO)
        self.state = State.MAIN
        return self._reply(self._prompts(*said, self.flows.prompts.anything_else), action, u)
