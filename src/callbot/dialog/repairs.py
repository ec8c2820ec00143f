"""Conversation repair: confirm a medium-confidence reading, clarify between two close intents,
repeat, and count what was not understood or not heard until people take over.

Kept apart from the business intents: nothing here knows what the commune answers.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from callbot.dialog.control import ControlIntent
from callbot.dialog.conversation_base import ConversationBase
from callbot.dialog.normalize import simplify
from callbot.dialog.schema import SlotDef
from callbot.dialog.states import State
from callbot.dialog.types import Action, Expect, Reply, Understanding
from callbot.vocabulary import Outcome, TransferReason

# A clarification answered with words of one label: how sure, and how far ahead of the other.
LABEL_MATCH_MIN = 75
LABEL_MATCH_MARGIN = 10


class Repairs(ConversationBase):
    def _in_confirm(self, u: Understanding) -> Reply | None:
        pending, self.pending = self.pending, None
        if pending is None:
            return None
        if u.intent == ControlIntent.YES:
            return self._deliver(pending.intent, pending.slots, u)
        if u.intent == ControlIntent.NO:
            self.state = State.MAIN
            return self._reply([self._prompt(self.flows.prompts.confirm_denied)], Action.CONTROL, u)
        if u.intent == pending.intent.id:
            return self._deliver(pending.intent, {**pending.slots, **u.slots}, u)
        return None

    def _in_clarify(self, u: Understanding) -> Reply | None:
        candidates, self.candidates = self.candidates, []
        # "l'urbanisme" answers "horaires de la mairie ou d'un service ?": the one whose slot it fills.
        filling = [c for c in candidates
                   if any(self._slot_value(sl.name, sl.type, u) is not None for sl in c.slots)]
        u.slots = {**self.clarify_slots, **(u.slots or {})}
        for c in candidates:
            if u.intent == c.id:
                return self._deliver(c, dict(u.slots), u)
        if u.intent == ControlIntent.NO:
            self.state = State.MAIN
            return self._reply([self._prompt(self.flows.prompts.confirm_denied)], Action.CONTROL, u)
        if len(filling) == 1:
            return self._deliver(filling[0], dict(u.slots), u)
        # "le premier", "la deuxième", or words of one of the two labels.
        said = simplify(u.text)
        if re.search(r"\b(premier|premiere|1)\b", said):
            return self._deliver(candidates[0], dict(u.slots), u)
        if re.search(r"\b(deuxieme|second|seconde|2|autre)\b", said):
            return self._deliver(candidates[1], dict(u.slots), u)
        scores = [fuzz.token_set_ratio(said, simplify(self._label(c))) for c in candidates]
        if scores and max(scores) >= LABEL_MATCH_MIN and abs(scores[0] - scores[1]) >= LABEL_MATCH_MARGIN:
            return self._deliver(candidates[scores.index(max(scores))], dict(u.slots), u)
        return None

    def _repeat(self, u: Understanding) -> Reply:
        prompts = self.last_prompts or [self._prompt(self.flows.prompts.listening)]
        return self._reply(prompts, Action.REPEAT, u, node=self.state, expect=self.last_expect,
                           remember=False)

    def _miss(self, u: Understanding, *, no_input: bool, lead: list[str] | None = None) -> Reply:
        p = self.flows.prompts
        self.misses += 1
        u.fallback_reason = u.fallback_reason or ("no_input" if no_input else "no_match")
        if self.misses >= self.flows.settings.max_misses:
            # Already at the callback (nobody on duty): escalating again would offer it forever.
            if self.state in (State.CALLBACK_NUMBER, State.CALLBACK_OFFER):
                return self._end(u, [p.callback_declined], Outcome.ENDED_NO_AGENT, Action.GOODBYE)
            self.state = State.MAIN
            self._summary.append("non compris après plusieurs essais" if not no_input else "silence prolongé")
            reason = TransferReason.NO_INPUT if no_input else TransferReason.MISUNDERSTANDING
            return self._escalate(u, reason, lead)
        if self.state == State.CALLBACK_NUMBER:
            prompt = self._prompt(p.callback_bad_number, State.CALLBACK_NUMBER)
            return self._reply([prompt], Action.FALLBACK, u, node=State.CALLBACK_NUMBER, expect=Expect.DIGITS)
        texts = p.no_input if no_input else p.not_understood
        text = texts[min(self.misses, len(texts)) - 1]
        if self.state in (State.CONFIRM, State.CLARIFY, State.FOLLOW_UP):
            self.state, self.pending, self.candidates = State.MAIN, None, []
        if self.state == State.SLOT and self.pending and self.pending.slot_name:
            return self._ask_slot_again(u, self.pending.slot(), Action.FALLBACK)
        node = State.SLOT if self.state == State.SLOT else State.MAIN
        return self._reply(self._prompts(*(lead or []), text, node=node), Action.FALLBACK, u, node=node)

    def _ask_slot_again(self, u: Understanding, slot: SlotDef, action: str) -> Reply:
        """« Je n'ai pas compris », then the slot's question again."""
        prompts = self._prompts(self.flows.prompts.slot_not_understood, slot.question, node=State.SLOT)
        return self._reply(prompts, action, u, node=State.SLOT)

    def _escalate(self, u: Understanding, reason: str, lead: list[str] | None = None) -> Reply:
        return self._transfer(u, reason, None, lead or [])
