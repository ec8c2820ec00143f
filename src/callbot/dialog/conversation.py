"""One call's dialog: a small state machine driven by the flows.

States: main (waiting for a question) → answer + "autre question ?", or a slot question, a
confirmation (medium confidence), a clarification (two close intents), a follow-up yes/no; repairs
(repeat, not understood, no input) with a miss counter that escalates to a transfer during opening
hours, else to a callback offer (number by voice or keypad, then a short reason); goodbye, with an
optional satisfaction note. Every text spoken comes from the flows.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from loguru import logger
from rapidfuzz import fuzz

from callbot.dialog.answers import split_sentences
from callbot.dialog.basic_matcher import simplify
from callbot.dialog.schema import IntentDef
from callbot.dialog.types import CallbackRequest, Prompt, Reply, Transfer, Understanding
from callbot.vocabulary import Outcome, TransferReason

if TYPE_CHECKING:
    from callbot.dialog.engine import DialogEngine

YES_NO_STATES = {"confirm", "follow_up", "callback_offer"}
DIGIT_WORDS = {"zero": "0", "un": "1", "deux": "2", "trois": "3", "quatre": "4", "cinq": "5", "six": "6",
               "sept": "7", "huit": "8", "neuf": "9"}


@dataclass
class Pending:
    intent: IntentDef
    slots: dict[str, Any] = field(default_factory=dict)
    understanding: Understanding | None = None
    slot_name: str | None = None


class Conversation:
    def __init__(self, engine: DialogEngine, caller: str | None = None) -> None:
        self.engine = engine
        self.flows = engine.flows
        self.caller = caller
        self.state = "new"
        self.misses = 0
        self.idle_after_answer = 0
        self.answered = 0
        self.pending: Pending | None = None
        self.candidates: list[IntentDef] = []
        self.clarify_slots: dict[str, Any] = {}
        self.last_prompts: list[Prompt] = []
        self.last_expect = "speech"
        self.digits = ""
        self.callback_number: str | None = None
        self.callback_topic: str | None = None
        self.ended: Reply | None = None
        self._topic: str | None = None
        self._intent: str | None = None
        self._summary: list[str] = []

    # -- what the lead stores on the call -------------------------------------------------------
    @property
    def topic(self) -> str | None:
        return self._topic

    @property
    def intent(self) -> str | None:
        return self._intent

    @property
    def summary(self) -> str:
        text = " ; ".join(dict.fromkeys(self._summary))
        return text[:1].upper() + text[1:]

    @property
    def expect(self) -> str:
        return self.last_expect

    def sounds_complete(self, text: str) -> bool:
        """Do these words, as they stand, make a request the bot would act on at once?

        Asked at the caller's pause when the turn model heard an unfinished sentence (a flat
        intonation often sounds "unfinished"): a confidently understood request that does not
        end on a linking word ends the turn without waiting out the silence. Never while the
        caller dictates a number (pauses between digit groups are normal). Read-only."""
        if self.last_expect == "digits" or self.state in ("ended", "callback_reason"):
            return False
        words = simplify(text).split()
        if not words or words[-1] in _CONTINUATION_WORDS:
            return False
        try:
            u = self.engine.understand(text, expect=self.last_expect)
        except Exception:  # the full hearing of the turn will report it
            return False
        # answer, yes/no (control), goodbye, repeat, agent (transfer), emergency, or two close readings the
        # bot will ask about (clarify): acted on as they stand. A medium-confidence reading
        # (confirm) may be the start of a longer sentence: wait.
        if u.action == "clarify":
            return u.intent is not None
        return (u.action in ("answer", "control", "goodbye", "repeat", "transfer", "emergency")
                and u.intent is not None
                and not u.fallback_reason)

    # -- events ----------------------------------------------------------------------------------
    def start(self) -> Reply:
        return self._guarded(self._start)

    def _start(self) -> Reply:
        p = self.flows.prompts
        now = self.engine.now()
        self.state = "main"
        # The AI disclosure is heard in full: barge-in cannot cut it.
        prompts = [Prompt(self.engine.greeting_text(now), interruptible=False),
                   Prompt(self._text(p.disclosure), interruptible=False),
                   self._prompt(p.listening, "greeting")]
        return self._reply(prompts, "greet", node="greeting")

    def hear(self, text: str) -> Reply:
        return self._guarded(self._hear, text)

    def _hear(self, text: str) -> Reply:
        if self.ended is not None:
            return self._after_end()
        if not text or not text.strip():
            # Speech without words (a cough, a noise): ask again, it is not a misunderstanding.
            u = Understanding(text or "", None, None, 0.0, "repeat", fallback_reason="empty transcript")
            return self._reply(self._prompts(self.flows.prompts.please_repeat, node=self.state), "repeat", u,
                               node=self.state, expect=self.last_expect, remember=False)
        if self.state in ("callback_number", "callback_reason"):
            # Free text here (a number, a reason), but an emergency is still an emergency.
            heard = self.engine.understand(text)
            if heard.action == "emergency":
                return self._emergency(heard)
            if self.state == "callback_number":
                return self._callback_number_speech(text)
            no_reason = heard.intent in ("au_revoir", "non", "merci") and heard.action != "fallback"
            return self._callback_finish(None if no_reason else text.strip())
        expect = "yes_no" if self.state in YES_NO_STATES else "speech"
        try:
            u = self.engine.understand(text, expect=expect)
        except Exception as e:  # a bug in understanding must not drop the call
            logger.exception("understanding failed on {!r}", text)
            u = Understanding(text, None, None, 0.0, "fallback", fallback_reason=f"nlu error: {e}")
        return self._on_understanding(u)

    def dtmf(self, digit: str) -> Reply:
        return self._guarded(self._dtmf, digit)

    def _dtmf(self, digit: str) -> Reply:
        digit = str(digit).strip()
        if self.ended is not None:
            return self._after_end()
        u = Understanding(text=f"#{digit}" if digit != "#" else "#", intent=None, topic=None,
                          confidence=1.0, action="control", normalized=digit)
        if self.state == "callback_number":
            return self._callback_digit(digit)
        if self.state == "callback_reason" and digit in "#*":
            # The "#" of a number already complete: the caller is being asked the reason.
            return self._reply([], "callback", u, node="callback_reason", remember=False)
        if self.state == "satisfaction":
            if digit in "12345" and len(digit) == 1:
                return self._satisfaction(int(digit), u)
            return self._goodbye(u)
        if digit == "0":
            u.intent, u.topic, u.action = "parler_agent", "parler_agent", "transfer"
            return self._to_agent(u)
        if self.state in YES_NO_STATES and digit in ("1", "2"):
            u.intent = "oui" if digit == "1" else "non"
            return self._on_understanding(u)
        menu = self.flows.settings.menu.get(digit)
        if menu and self.flows.intent(menu):
            intent = self.flows.intent(menu)
            u.intent, u.topic, u.action = intent.id, intent.topic, "answer"
            return self._deliver(intent, {}, u)
        u.action, u.fallback_reason = "fallback", f"touche {digit} sans effet ici"
        return self._miss(u, no_input=False)

    def silence(self) -> Reply:
        return self._guarded(self._silence)

    def _silence(self) -> Reply:
        if self.ended is not None:
            return self._after_end()
        u = Understanding(text="", intent=None, topic=None, confidence=0.0, action="fallback",
                          fallback_reason="no_input")
        if self.state == "callback_number":
            if len(self.digits) >= 4:
                return self._callback_digit("#")
            return self._miss(u, no_input=True)
        if self.state == "callback_reason":
            return self._callback_finish(None)
        if self.state == "satisfaction":
            return self._end_goodbye(u, [])
        if self.state == "main" and self.answered:
            # After an answer, silence usually means "no other question".
            self.idle_after_answer += 1
            if self.idle_after_answer >= 2:
                return self._goodbye(u)
            return self._reply([self._prompt(self.flows.prompts.anything_else)], "repeat", u)
        return self._miss(u, no_input=True)

    def _guarded(self, handler, *args: str) -> Reply:  # noqa: ANN001
        """A fault in the dialog must not leave a resident alone on the line: hand over to people."""
        try:
            return handler(*args)
        except Exception:
            logger.exception("dialog fault in state {} on {!r}", self.state, args)
            u = Understanding(text=str(args[0]) if args else "", intent=None, topic=None, confidence=0.0,
                              action="fallback", fallback_reason="dialog error")
            transfer = Transfer(kind="queue", target=self.engine.default_queue(),
                                reason=TransferReason.BOT_FAULT)
            reply = Reply(prompts=[Prompt(self.flows.prompts.transfer, interruptible=False)],
                          action="transfer", understanding=u, end="transfer", transfer=transfer,
                          outcome=Outcome.TRANSFERRED)
            self.state, self.ended = "ended", reply
            return reply

    # -- understanding -----------------------------------------------------------------------
    def _on_understanding(self, u: Understanding) -> Reply:
        intent_id = u.intent
        if u.action == "emergency" or intent_id == "urgence":
            return self._emergency(u)
        if intent_id == "parler_agent":
            return self._to_agent(u)
        if intent_id == "repeter":
            return self._repeat(u)
        if intent_id == "au_revoir":
            return self._goodbye(u)
        handler = {
            "confirm": self._in_confirm, "clarify": self._in_clarify, "slot": self._in_slot,
            "follow_up": self._in_follow_up, "callback_offer": self._in_callback_offer,
            "satisfaction": self._in_satisfaction,
        }.get(self.state)
        if handler is not None:
            reply = handler(u)
            if reply is not None:
                return reply
        return self._main(u)

    def _main(self, u: Understanding) -> Reply:
        p = self.flows.prompts
        self.state = "main"
        if u.intent == "oui" and self.answered:
            self.misses = 0
            return self._reply([self._prompt(p.listening)], "control", u)
        if u.intent == "non" and self.answered:
            return self._goodbye(u)
        if u.intent == "merci":
            follow = p.anything_else if self.answered else p.listening
            return self._reply(self._prompts(p.thanks, follow), "control", u)
        intent = self.flows.intent(u.intent)
        if intent is None or intent.topic is None:
            if u.action == "out_of_scope":
                u.fallback_reason = u.fallback_reason or "hors sujet sans intention connue"
                return self._miss(u, no_input=False, lead=[p.out_of_scope_generic])
            return self._miss(u, no_input=False)
        if u.action in ("answer", "out_of_scope", "transfer"):
            return self._deliver(intent, dict(u.slots), u)
        if u.action == "confirm":
            self.pending = Pending(intent, dict(u.slots), u)
            self.state = "confirm"
            text = p.confirm.replace("{label}", self._label(intent))
            return self._reply([self._prompt(text, "confirm")], "confirm", u, node="confirm", expect="yes_no")
        if u.action == "clarify":
            alts = [self.flows.intent(a.get("intent")) for a in u.alternatives]
            alts = [a for a in alts if a is not None and a.topic is not None]
            alts = list({a.id: a for a in [intent, *alts]}.values())
            if len(alts) >= 2:
                self.candidates = alts[:2]
                self.clarify_slots = dict(u.slots)  # what the first question said still counts
                self.state = "clarify"
                return self._reply([self.clarify_prompt(alts[0], alts[1])], "clarify", u, node="clarify")
            self.pending = Pending(intent, dict(u.slots), u)
            self.state = "confirm"
            text = p.confirm.replace("{label}", self._label(intent))
            return self._reply([self._prompt(text, "confirm")], "confirm", u, node="confirm", expect="yes_no")
        return self._miss(u, no_input=False)

    def _in_confirm(self, u: Understanding) -> Reply | None:
        pending, self.pending = self.pending, None
        if pending is None:
            return None
        if u.intent == "oui":
            return self._deliver(pending.intent, pending.slots, u)
        if u.intent == "non":
            self.state = "main"
            return self._reply([self._prompt(self.flows.prompts.confirm_denied)], "control", u)
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
        if u.intent == "non":
            self.state = "main"
            return self._reply([self._prompt(self.flows.prompts.confirm_denied)], "control", u)
        if len(filling) == 1:
            return self._deliver(filling[0], dict(u.slots), u)
        # "le premier", "la deuxième", or words of one of the two labels.
        said = simplify(u.text)
        if re.search(r"\b(premier|premiere|1)\b", said):
            return self._deliver(candidates[0], dict(u.slots), u)
        if re.search(r"\b(deuxieme|second|seconde|2|autre)\b", said):
            return self._deliver(candidates[1], dict(u.slots), u)
        scores = [fuzz.token_set_ratio(said, simplify(self._label(c))) for c in candidates]
        if scores and max(scores) >= 75 and abs(scores[0] - scores[1]) >= 10:
            return self._deliver(candidates[scores.index(max(scores))], dict(u.slots), u)
        return None

    def _in_slot(self, u: Understanding) -> Reply | None:
        pending = self.pending
        if pending is None or pending.slot_name is None:
            return None
        slot = next(s for s in pending.intent.slots if s.name == pending.slot_name)
        value = self._slot_value(slot.name, slot.type, u)
        if value is not None:
            self.pending = None
            return self._deliver(pending.intent, {**pending.slots, slot.name: value}, u)
        intent = self.flows.intent(u.intent)
        new_question = intent is not None and intent.topic is not None and intent.id != pending.intent.id
        if new_question and u.action == "answer":
            self.pending = None
            return None  # a new question: answer it instead
        self.misses += 1
        if self.misses >= self.flows.settings.max_misses:
            self.pending = None
            u.fallback_reason = u.fallback_reason or f"slot {slot.name} non compris"
            return self._escalate(u, TransferReason.MISUNDERSTANDING)
        prompts = self._prompts(self.flows.prompts.slot_not_understood, slot.question, node="slot")
        return self._reply(prompts, "slot", u, node="slot")

    def _in_follow_up(self, u: Understanding) -> Reply | None:
        pending, self.pending = self.pending, None
        if pending is None or pending.intent.follow_up is None:
            return None
        fu = pending.intent.follow_up
        p = self.flows.prompts
        if u.intent == "oui":
            if fu.summary_if_yes:
                self._summary.append(fu.summary_if_yes)
            lead = [self._text(fu.if_yes, pending.intent, pending.slots)] if fu.if_yes else []
            if fu.transfer_if_yes:
                return self._transfer(u, TransferReason.TOPIC, pending.intent, lead)
            self.state = "main"
            return self._reply(self._prompts(*lead, p.anything_else), "answer", u)
        if u.intent == "non":
            self.state = "main"
            lead = [self._text(fu.if_no, pending.intent, pending.slots)] if fu.if_no else []
            return self._reply(self._prompts(*lead, p.anything_else), "control", u)
        return None

    def _in_callback_offer(self, u: Understanding) -> Reply | None:
        p = self.flows.prompts
        if u.intent == "oui":
            self.state = "callback_number"
            self.digits = ""
            self.misses = 0
            return self._reply([self._prompt(p.callback_number, "callback_number")], "callback", u,
                               node="callback_number", expect="digits")
        if u.intent == "non":
            return self._end(u, [p.callback_declined], Outcome.ENDED_NO_AGENT, "goodbye")
        self.misses += 1
        if self.misses >= self.flows.settings.max_misses:
            return self._end(u, [p.callback_declined], Outcome.ENDED_NO_AGENT, "goodbye")
        return self._reply([self._prompt(p.callback_offer, "callback_offer")], "callback", u,
                           node="callback_offer", expect="yes_no")

    def _in_satisfaction(self, u: Understanding) -> Reply | None:
        digits = _digits_from_speech(u.text)
        if len(digits) == 1 and digits in "12345":
            return self._satisfaction(int(digits), u)
        return self._end_goodbye(u, [])

    # -- answers -----------------------------------------------------------------------------
    def _deliver(self, intent: IntentDef, slots: dict[str, Any], u: Understanding) -> Reply:
        p = self.flows.prompts
        self.misses = 0
        self.idle_after_answer = 0
        self._topic, self._intent = intent.topic, intent.id
        if intent.summary:
            self._summary.append(intent.summary[:1].lower() + intent.summary[1:]
                                 if self._summary else intent.summary)
        for slot in intent.slots:
            value = self._slot_value(slot.name, slot.type, u, slots)
            if value is not None:
                slots[slot.name] = value
                if slot.type in self.flows.slot_types:
                    self._summary.append(_pretty(value, self.flows, slot.type))
            elif slot.required:
                self.pending = Pending(intent, slots, u, slot.name)
                self.state = "slot"
                return self._reply([self._prompt(slot.question, "slot")], "slot", u, node="slot")
        # The turn records what the caller got (a "oui" to a confirmation is that intent).
        u.intent, u.topic = intent.id, intent.topic
        if u.action not in ("out_of_scope", "transfer"):
            u.action = "answer" if u.action in ("confirm", "clarify", "control", "fallback") else u.action
        if intent.topic == "hors_mairie":
            u.action = "out_of_scope"
        texts = self._answer_texts(intent, slots)
        self.answered += 1
        if intent.transfer:
            reason = TransferReason.OUT_OF_SCOPE if intent.topic == "hors_mairie" else TransferReason.TOPIC
            return self._transfer(u, reason, intent, texts)
        if intent.follow_up:
            self.pending = Pending(intent, slots, u)
            self.state = "follow_up"
            prompts = self._prompts(*texts, self._text(intent.follow_up.question, intent, slots))
            return self._reply(prompts, u.action, u, node="follow_up", expect="yes_no")
        self.state = "main"
        return self._reply(self._prompts(*texts, p.anything_else), u.action, u)

    def _answer_texts(self, intent: IntentDef, slots: dict[str, Any]) -> list[str]:
        """The answer (or the variant for the caller's slot value), one rendered text per sentence."""
        template = intent.answer or ""
        for slot, variants in intent.variants.items():
            if slots.get(slot) in variants:
                template = variants[slots[slot]]
                break
        return [self._text(sentence, intent, slots) for sentence in split_sentences(template)]

    def _slot_value(self, name: str, stype: str, u: Understanding,
                    known: dict[str, Any] | None = None) -> Any:  # noqa: ANN401
        for source in (known or {}, u.slots or {}):
            for key in (name, stype):
                if source.get(key) not in (None, ""):
                    return source[key]
        if stype in self.flows.slot_types:
            said = f" {simplify(u.text)} "
            values = self.flows.slot_types[stype]
            pairs = sorted(((v, simplify(s)) for v, syns in values.items() for s in [v, *syns]),
                           key=lambda pair: -len(pair[1]))
            for value, syn in pairs:
                if syn and f" {syn} " in said:
                    return value
        return None

    # -- repairs -----------------------------------------------------------------------------
    def _repeat(self, u: Understanding) -> Reply:
        prompts = self.last_prompts or [self._prompt(self.flows.prompts.listening)]
        node = "callback_number" if self.state == "callback_number" else self.state
        return self._reply(prompts, "repeat", u, node=node, expect=self.last_expect, remember=False)

    def _miss(self, u: Understanding, *, no_input: bool, lead: list[str] | None = None) -> Reply:
        p = self.flows.prompts
        self.misses += 1
        u.fallback_reason = u.fallback_reason or ("no_input" if no_input else "no_match")
        if self.misses >= self.flows.settings.max_misses:
            if self.state == "callback_number":
                return self._end(u, [p.callback_declined], Outcome.ENDED_NO_AGENT, "goodbye")
            self.state = "main"
            self._summary.append("non compris après plusieurs essais" if not no_input else "silence prolongé")
            reason = TransferReason.NO_INPUT if no_input else TransferReason.MISUNDERSTANDING
            return self._escalate(u, reason, lead)
        if self.state == "callback_number":
            return self._reply([self._prompt(p.callback_bad_number, "callback_number")], "fallback", u,
                               node="callback_number", expect="digits")
        texts = p.no_input if no_input else p.not_understood
        text = texts[min(self.misses, len(texts)) - 1]
        if self.state in ("confirm", "clarify", "follow_up"):
            self.state, self.pending, self.candidates = "main", None, []
        node = self.state if self.state in ("slot",) else "main"
        if self.state == "slot" and self.pending and self.pending.slot_name:
            slot = next(s for s in self.pending.intent.slots if s.name == self.pending.slot_name)
            prompts = self._prompts(p.slot_not_understood, slot.question, node="slot")
            return self._reply(prompts, "fallback", u, node="slot")
        return self._reply(self._prompts(*(lead or []), text, node=node), "fallback", u, node=node)

    def _escalate(self, u: Understanding, reason: str, lead: list[str] | None = None) -> Reply:
        return self._transfer(u, reason, None, lead or [])

    # -- people ------------------------------------------------------------------------------
    def _to_agent(self, u: Understanding) -> Reply:
        self._summary.append("demande un agent" if self._summary else "Demande à parler à un agent")
        if self._topic is None:
            self._topic, self._intent = "parler_agent", "parler_agent"
        u.action = "transfer"
        return self._transfer(u, TransferReason.ASKED_AGENT, None, [])

    def _transfer(self, u: Understanding, reason: str, intent: IntentDef | None, lead: list[str]) -> Reply:
        p = self.flows.prompts
        now = self.engine.now()
        if self.engine.agents_on_duty(now):
            topic = intent.topic if intent else self._topic
            transfer = self.engine.transfer_target(topic, intent.service if intent else None, reason, now)
            reply = self._end(u, [*lead, p.transfer], Outcome.TRANSFERRED, "transfer", end="transfer")
            reply.transfer = transfer
            return reply
        # Nobody to take the call: offer a callback.
        self.callback_topic = (intent.topic if intent else None) or self._topic
        self.state = "callback_offer"
        self.misses = 0
        prompts = self._prompts(*lead, p.nobody_on_duty, p.callback_offer, node="callback_offer")
        return self._reply(prompts, "callback", u, node="callback_offer", expect="yes_no")

    def _emergency(self, u: Understanding) -> Reply:
        p = self.flows.prompts
        u.action = "emergency"
        self._topic, self._intent = "urgence", "urgence"
        self._summary.append("Urgence signalée" if not self._summary else "urgence signalée")
        emergency = Prompt(self._text(p.emergency), interruptible=False)
        if self.flows.settings.emergency_then == "transfer" and self.engine.agents_on_duty():
            transfer = self.engine.transfer_target("urgence", None, TransferReason.EMERGENCY)
            reply = self._end(u, [], Outcome.TRANSFERRED, "emergency", end="transfer")
            reply.prompts = [emergency, self._prompt(p.transfer)]
            reply.transfer = transfer
            return reply
        reply = self._end(u, [], Outcome.RESOLVED, "emergency")
        reply.prompts = [emergency]
        return reply

    # -- callback ----------------------------------------------------------------------------
    def _callback_digit(self, digit: str) -> Reply:
        u = Understanding(text=digit, intent=None, topic=None, confidence=1.0, action="callback",
                          normalized=digit)
        if digit == "*":
            self.digits = ""
            return self._reply([self._prompt(self.flows.prompts.callback_number, "callback_number")],
                               "callback", u, node="callback_number", expect="digits")
        if digit.isdigit():
            self.digits += digit
            if len(self.digits) < self.flows.settings.callback_digits:
                return self._reply([], "callback", u, node="callback_number", expect="digits", remember=False)
        return self._callback_got_number(self.digits, u)

    def _callback_number_speech(self, text: str) -> Reply:
        u = Understanding(text=text, intent=None, topic=None, confidence=1.0, action="callback")
        said = simplify(text)
        if re.search(r"\b(agent|quelqu un|conseiller)\b", said) and not _digits_from_speech(text):
            return self._in_callback_offer(Understanding(text, "non", None, 1.0, "control"))
        digits = self.digits + _digits_from_speech(text)
        if len(digits) >= self.flows.settings.callback_digits or (len(digits) >= 4 and "diese" in said):
            return self._callback_got_number(digits, u)
        self.digits = digits
        if digits:
            return self._reply([], "callback", u, node="callback_number", expect="digits", remember=False)
        u.fallback_reason = "numéro non compris"
        return self._miss(u, no_input=False)

    def _callback_got_number(self, digits: str, u: Understanding) -> Reply:
        if not _valid_number(digits, self.flows.settings.callback_digits):
            self.digits = ""
            u.fallback_reason = f"numéro invalide ({len(digits)} chiffres)"
            return self._miss(u, no_input=False)
        self.callback_number = digits
        self.state = "callback_reason"
        return self._reply([self._prompt(self.flows.prompts.callback_reason, "callback_reason")], "callback",
                           u, node="callback_reason")

    def _callback_finish(self, reason: str | None) -> Reply:
        u = Understanding(text=reason or "", intent=None, topic=None, confidence=1.0, action="callback")
        number = self.callback_number or ""
        spoken = " ".join(number[i:i + 2] for i in range(0, len(number), 2))
        text = self.flows.prompts.callback_done.replace("{numero}", spoken)
        self._summary.append(f"rappel demandé : {reason}" if reason else "rappel demandé")
        reply = self._end(u, [text], Outcome.CALLBACK, "callback")
        reply.prompts = [replace(p, private=True) for p in reply.prompts]  # the number
        topic = self.callback_topic or self._topic
        if topic is None and reason:
            # The reason often names the need ("mon permis de construire"): file it under its topic.
            heard = self.engine.understand(reason)
            if heard.action in ("answer", "out_of_scope") and heard.topic:
                topic = heard.topic
        reply.callback = CallbackRequest(number=number, reason=reason, topic=topic)
        return reply

    # -- ending ------------------------------------------------------------------------------
    def _goodbye(self, u: Understanding) -> Reply:
        sat = self.flows.satisfaction
        if sat.enabled and self.answered and self.state != "satisfaction":
            self.state = "satisfaction"
            return self._reply([self._prompt(sat.question, "satisfaction")], "goodbye", u,
                               node="satisfaction", expect="digits")
        return self._end_goodbye(u, [])

    def _end_goodbye(self, u: Understanding, lead: list[str]) -> Reply:
        outcome = Outcome.RESOLVED if self.answered else Outcome.ABANDONED
        return self._end(u, [*lead, self.flows.prompts.goodbye], outcome, "goodbye")

    def _satisfaction(self, score: int, u: Understanding) -> Reply:
        reply = self._end(u, [self.flows.satisfaction.thanks], Outcome.RESOLVED, "goodbye")
        reply.satisfaction = score
        return reply

    def _end(self, u: Understanding, texts: list[str], outcome: str, action: str,
             end: str = "hangup") -> Reply:
        prompts = self._prompts(*texts)
        reply = self._reply(prompts, action, u)
        reply.end = end  # type: ignore[assignment]
        reply.outcome = outcome
        self.state = "ended"
        self.ended = reply
        return reply

    def _after_end(self) -> Reply:
        return Reply(prompts=[], action="control", end=self.ended.end if self.ended else "hangup",
                     outcome=self.ended.outcome if self.ended else None)

    # -- helpers -----------------------------------------------------------------------------
    def _text(self, text: str, intent: IntentDef | None = None, slots: dict[str, Any] | None = None) -> str:
        return self.engine.renderer.render(text, self.engine.now(), intent, slots)

    def clarify_prompt(self, a: IntentDef, b: IntentDef) -> Prompt:
        """ "Do you mean a, or rather b?" (also pre-synthesised: DialogEngine.spoken_replies)."""
        text = self.flows.prompts.clarify.replace("{a}", self._label(a)).replace("{b}", self._label(b))
        return self._prompt(text, "clarify")

    def _label(self, intent: IntentDef) -> str:
        return intent.label or intent.summary or intent.id.replace("_", " ")

    def _node(self, name: str):  # noqa: ANN202
        nodes = self.flows.settings.nodes
        from callbot.dialog.schema import NodeSettings

        return nodes.get(name) or nodes.get("default") or NodeSettings()

    def _prompt(self, text: str, node: str = "main") -> Prompt:
        return Prompt(self._text(text), interruptible=self._node(node).barge_in)

    def _prompts(self, *texts: str, node: str = "main") -> list[Prompt]:
        """One prompt per sentence group, never glued: each is a fixed text the TTS cache holds."""
        return [self._prompt(t, node) for t in texts if t and t.strip()]

    def _reply(self, prompts: list[Prompt], action: str, u: Understanding | None = None, *,
               node: str = "main", expect: str = "speech", remember: bool = True) -> Reply:
        reply = Reply(prompts=prompts, action=action, understanding=u,
                      no_input_timeout=self._node(node).no_input_timeout, expect=expect)  # type: ignore[arg-type]
        if remember and prompts:
            self.last_prompts = prompts
            self.last_expect = expect
        return reply


# Words after which a French sentence goes on ("les horaires de …", "je voudrais un …"), as
# `simplify` writes them (lower case, no accents).
_CONTINUATION_WORDS = frozenset({
    "de", "du", "des", "d", "le", "la", "les", "l", "un", "une", "et", "ou", "a", "au", "aux",
    "pour", "par", "sur", "sous", "avec", "sans", "dans", "en", "mon", "ma", "mes", "ton", "ta",
    "tes", "son", "sa", "ses", "notre", "votre", "leur", "leurs", "ce", "cet", "cette", "ces",
    "que", "qu", "qui", "quoi", "dont", "mais", "donc", "alors", "puis", "euh", "heu", "ben",
    "bah", "hum", "est", "suis", "voudrais", "voulais", "veux", "aimerais", "souhaite",
    "souhaiterais", "vais", "peux", "pourrais", "comment", "quand", "quel", "quelle", "quels",
    "quelles", "si",
})


def _digits_from_speech(text: str) -> str:
    """Digits said by a caller: "zéro six 12 34 cinquante-six…" → "06123456…"."""
    from text_to_num import alpha2digit

    said = simplify(text)
    with contextlib.suppress(Exception):  # text2num is strict on odd input: keep the words
        said = alpha2digit(said, "fr")
    # Lone digit words text2num leaves alone ("zero", "un" before a pause).
    words = [DIGIT_WORDS.get(w, w) for w in said.split()]
    return "".join(re.findall(r"\d", " ".join(words)))


def _valid_number(digits: str, expected: int) -> bool:
    if digits.startswith("33") and len(digits) == expected + 1:
        return True
    return len(digits) == expected and (expected != 10 or digits.startswith("0"))


def _pretty(value: Any, flows: Any, stype: str) -> str:  # noqa: ANN401
    syns = flows.slot_types.get(stype, {}).get(value) or []
    return syns[0] if syns else str(value)
