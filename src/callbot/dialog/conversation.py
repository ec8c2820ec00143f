"""One call's dialog: a small state machine driven by the flows.

States (states.py): main (waiting for a question) → answer + "autre question ?", or a slot
question, a confirmation (medium confidence), a clarification (two close intents), a follow-up
yes/no; repairs (repeat, not understood, no input) with a miss counter that escalates to a
transfer during opening hours, else to a callback offer (number by voice or keypad, then a short
reason); goodbye, with an optional satisfaction note. Every text spoken comes from the flows.

This module holds the events (start, words, keypad digit, silence), the routing of what was
understood, and the answers; the other layers are repairs.py, handover.py and ending.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loguru import logger

from callbot.dialog.answers import split_sentences
from callbot.dialog.control import NO_REASON, OUT_OF_SCOPE_TOPIC, ControlIntent
from callbot.dialog.conversation_base import Pending
from callbot.dialog.details import Details
from callbot.dialog.ending import Ending, is_score
from callbot.dialog.handover import MIN_NUMBER_DIGITS, Handover
from callbot.dialog.normalize import simplify
from callbot.dialog.repairs import Repairs
from callbot.dialog.schema import IntentDef
from callbot.dialog.small_talk import SmallTalk
from callbot.dialog.sms_offer import SmsOffer
from callbot.dialog.states import GREETING_NODE, YES_NO_STATES, State
from callbot.dialog.types import Action, Expect, Prompt, Reply, Transfer, Understanding
from callbot.vocabulary import Outcome, TransferReason

# Readings the bot acts on as they stand (a "confirm" reading may be the start of a longer sentence).
ACTED_ON_AT_ONCE = frozenset({Action.ANSWER, Action.CONTROL, Action.GOODBYE, Action.REPEAT, Action.TRANSFER,
                              Action.EMERGENCY})
# Readings that took a question back to the caller (or a keypad digit) before the answer they lead to.
ASKED_BACK = frozenset({Action.CONFIRM, Action.CLARIFY, Action.CONTROL, Action.FALLBACK})
# Silences after an answer that mean "no other question": then goodbye.
IDLE_AFTER_ANSWER_LIMIT = 2
AGENT_KEY = "0"
YES_KEY, NO_KEY = "1", "2"


class Conversation(Repairs, Handover, Ending, Details, SmallTalk, SmsOffer):
    def sounds_complete(self, text: str) -> bool:
        """Do these words, as they stand, make a request the bot would act on at once?

        Asked at the caller's pause when the turn model heard an unfinished sentence (a flat
        intonation often sounds "unfinished"): a confidently understood request that does not
        end on a linking word ends the turn without waiting out the silence. Never while the
        caller dictates a number (pauses between digit groups are normal). Read-only."""
        if self.last_expect == Expect.DIGITS or self.state in (State.ENDED, State.CALLBACK_REASON):
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
        if u.action == Action.CLARIFY:
            return u.intent is not None
        return (u.action in ACTED_ON_AT_ONCE
                and u.intent is not None
                and not u.fallback_reason)

    # -- events ----------------------------------------------------------------------------------
    def start(self) -> Reply:
        return self._guarded(self._start)

    def _start(self) -> Reply:
        p = self.flows.prompts
        now = self.engine.now()
        self.state = State.MAIN
        # The AI disclosure is heard in full: barge-in cannot cut it.
        prompts = [Prompt(self.engine.greeting_text(now), interruptible=False),
                   Prompt(self._text(p.disclosure), interruptible=False),
                   self._prompt(p.listening, GREETING_NODE)]
        return self._reply(prompts, Action.GREET, node=GREETING_NODE)

    def hear(self, text: str) -> Reply:
        return self._guarded(self._hear, text)

    def _hear(self, text: str) -> Reply:
        if self.ended is not None:
            return self._after_end()
        if not text or not text.strip():
            # Speech without words (a cough, a noise): ask again, it is not a misunderstanding.
            u = Understanding(text or "", None, None, 0.0, Action.REPEAT, fallback_reason="empty transcript")
            prompts = self._prompts(self.flows.prompts.please_repeat, node=self.state)
            return self._reply(prompts, Action.REPEAT, u, node=self.state, expect=self.last_expect,
                               remember=False)
        if self.state in (State.CALLBACK_NUMBER, State.CALLBACK_REASON):
            # Free text here (a number, a reason), but an emergency is still an emergency.
            heard = self.engine.understand(text)
            if heard.gives_emergency_numbers:
                return self._emergency(heard)
            if self.state == State.CALLBACK_NUMBER:
                return self._callback_number_speech(text)
            no_reason = heard.intent in NO_REASON and heard.action != Action.FALLBACK
            return self._callback_finish(None if no_reason else text.strip())
        expect = Expect.YES_NO if self.state in YES_NO_STATES else Expect.SPEECH
        try:
            u = self.engine.understand(text, expect=expect)
        except Exception as e:  # a bug in understanding must not drop the call
            logger.exception("understanding failed on a {}-character utterance", len(text))  # never the words
            u = Understanding(text, None, None, 0.0, Action.FALLBACK, fallback_reason=f"nlu error: {e}")
        reply = self._on_understanding(u)
        if u.emergency_notice is not None and reply.action != Action.EMERGENCY:
            # Only a weak alarm in a confident request: the numbers first, then the request is
            # handled (nlu_routing.classifier_alarm).
            reply.prompts.insert(0, Prompt(self._text(self.flows.prompts.emergency), interruptible=False))
            self._summary.append("numéros d'urgence donnés par précaution")
        return reply

    def dtmf(self, digit: str) -> Reply:
        return self._guarded(self._dtmf, digit)

    def _dtmf(self, digit: str) -> Reply:
        digit = str(digit).strip()
        if self.ended is not None:
            return self._after_end()
        self.holding = False
        u = Understanding(text=f"#{digit}" if digit != "#" else "#", intent=None, topic=None,
                          confidence=1.0, action=Action.CONTROL, normalized=digit)
        if self.state == State.CALLBACK_NUMBER:
            return self._callback_digit(digit)
        if self.state == State.CALLBACK_REASON and digit in "#*":
            # The "#" of a number already complete: the caller is being asked the reason.
            return self._reply([], Action.CALLBACK, u, node=State.CALLBACK_REASON, remember=False)
        if self.state == State.SATISFACTION:
            if is_score(digit):
                return self._satisfaction(int(digit), u)
            return self._goodbye(u)
        if digit == AGENT_KEY:
            u.intent = u.topic = ControlIntent.AGENT.value
            u.action = Action.TRANSFER
            return self._to_agent(u)
        if self.state in YES_NO_STATES and digit in (YES_KEY, NO_KEY):
            u.intent = (ControlIntent.YES if digit == YES_KEY else ControlIntent.NO).value
            return self._on_understanding(u)
        menu = self.flows.settings.menu.get(digit)
        if menu and self.flows.intent(menu):
            intent = self.flows.intent(menu)
            u.intent, u.topic, u.action = intent.id, intent.topic, Action.ANSWER
            return self._deliver(intent, {}, u)
        u.action, u.fallback_reason = Action.FALLBACK, f"touche {digit} sans effet ici"
        return self._miss(u, no_input=False)

    def silence(self) -> Reply:
        return self._guarded(self._silence)

    def _silence(self) -> Reply:
        if self.ended is not None:
            return self._after_end()
        u = Understanding(text="", intent=None, topic=None, confidence=0.0, action=Action.FALLBACK,
                          fallback_reason="no_input")
        held = self._after_hold(u)
        if held is not None:
            return held
        if self.state == State.CALLBACK_NUMBER:
            if len(self.digits) >= MIN_NUMBER_DIGITS:
                return self._callback_digit("#")
            return self._miss(u, no_input=True)
        if self.state == State.CALLBACK_REASON:
            return self._callback_finish(None)
        if self.state == State.SATISFACTION:
            return self._end_goodbye(u, [])
        if self.state == State.MAIN and self.answered:
            # After an answer, silence usually means "no other question".
            self.idle_after_answer += 1
            if self.idle_after_answer >= IDLE_AFTER_ANSWER_LIMIT:
                return self._goodbye(u)
            return self._reply([self._prompt(self.flows.prompts.anything_else)], Action.REPEAT, u)
        return self._miss(u, no_input=True)

    def _guarded(self, handler: Callable[..., Reply], *args: str) -> Reply:
        """A fault in the dialog must not leave a resident alone on the line: hand over to people."""
        try:
            return handler(*args)
        except Exception:
            logger.exception("dialog fault in state {}", self.state)  # never the caller's words
            u = Understanding(text=str(args[0]) if args else "", intent=None, topic=None, confidence=0.0,
                              action=Action.FALLBACK, fallback_reason="dialog error")
            transfer = Transfer(kind="queue", target=self.engine.default_queue(),
                                reason=TransferReason.BOT_FAULT)
            reply = Reply(prompts=[Prompt(self.flows.prompts.transfer, interruptible=False)],
                          action=Action.TRANSFER, understanding=u, end="transfer", transfer=transfer,
                          outcome=Outcome.TRANSFERRED)
            self.state, self.ended = State.ENDED, reply
            return reply

    # -- understanding -----------------------------------------------------------------------
    def _on_understanding(self, u: Understanding) -> Reply:
        intent_id = u.intent
        if u.action == Action.EMERGENCY or intent_id == ControlIntent.EMERGENCY:
            return self._emergency(u)
        if intent_id == ControlIntent.AGENT:
            return self._to_agent(u)
        if intent_id == ControlIntent.REPEAT:
            return self._repeat(u)
        if intent_id == ControlIntent.GOODBYE:
            return self._goodbye(u)
        self.holding = False
        small_talk = self._small_talk(u)
        if small_talk is not None:
            return small_talk
        handler = {
            State.CONFIRM: self._in_confirm, State.CLARIFY: self._in_clarify, State.SLOT: self._in_slot,
            State.FOLLOW_UP: self._in_follow_up, State.CALLBACK_OFFER: self._in_callback_offer,
            State.SATISFACTION: self._in_satisfaction, State.SMS_OFFER: self._in_sms_offer,
        }.get(self.state)
        if handler is not None:
            reply = handler(u)
            if reply is not None:
                return reply
        return self._main(u)

    def _main(self, u: Understanding) -> Reply:
        p = self.flows.prompts
        self.state = State.MAIN
        if u.intent == ControlIntent.YES and self.answered:
            self.misses = 0
            return self._reply([self._prompt(p.listening)], Action.CONTROL, u)
        if u.intent == ControlIntent.NO and self.answered:
            return self._goodbye(u)
        if u.intent == ControlIntent.THANKS:
            follow = p.anything_else if self.answered else p.listening
            return self._reply(self._prompts(p.thanks, follow), Action.CONTROL, u)
        intent = self.flows.intent(u.intent)
        if intent is None and u.action == Action.TRANSFER and u.topic:
            # No intent, but the topic layer knows the service: its queue (nlu_routing.py).
            self._topic = u.topic
            return self._transfer(u, TransferReason.TOPIC, None, [])
        if intent is None or intent.topic is None:
            if u.action in (Action.OUT_OF_SCOPE, Action.ORIENT):
                u.fallback_reason = u.fallback_reason or "hors sujet sans intention connue"
                return self._miss(u, no_input=False, lead=[p.out_of_scope_generic])
            return self._miss(u, no_input=False)
        if u.action in (Action.ANSWER, Action.OUT_OF_SCOPE, Action.TRANSFER, Action.ORIENT):
            return self._deliver(intent, dict(u.slots), u)
        if u.action in (Action.CONFIRM, Action.CLARIFY) and intent.id == self._intent:
            # The question just answered, asked again: the answer again, not "vous voulez … ?".
            return self._deliver(intent, dict(u.slots), u)
        if u.action == Action.CLARIFY:
            alts = [self.flows.intent(a.get("intent")) for a in u.alternatives]
            alts = [a for a in alts if a is not None and a.topic is not None]
            alts = list({a.id: a for a in [intent, *alts]}.values())
            if len(alts) >= 2:
                self.candidates = alts[:2]
                self.clarify_slots = dict(u.slots)  # what the first question said still counts
                self.state = State.CLARIFY
                return self._reply([self.clarify_prompt(alts[0], alts[1])], Action.CLARIFY, u,
                                   node=State.CLARIFY)
        if u.action in (Action.CONFIRM, Action.CLARIFY):  # a clarification with one candidate: confirm it
            self.pending = Pending(intent, dict(u.slots), u)
            self.state = State.CONFIRM
            text = p.confirm.replace("{label}", self._label(intent))
            return self._reply([self._prompt(text, State.CONFIRM)], Action.CONFIRM, u, node=State.CONFIRM,
                               expect=Expect.YES_NO)
        return self._miss(u, no_input=False)

    def _in_slot(self, u: Understanding) -> Reply | None:
        pending = self.pending
        if pending is None or pending.slot_name is None:
            return None
        slot = pending.slot()
        value = self._slot_value(slot.name, slot.type, u)
        if value is not None:
            self.pending = None
            return self._deliver(pending.intent, {**pending.slots, slot.name: value}, u)
        intent = self.flows.intent(u.intent)
        new_question = intent is not None and intent.topic is not None and intent.id != pending.intent.id
        if new_question and u.action == Action.ANSWER:
            self.pending = None
            return None  # a new question: answer it instead
        self.misses += 1
        if self.misses >= self.flows.settings.max_misses:
            self.pending = None
            u.fallback_reason = u.fallback_reason or f"slot {slot.name} non compris"
            return self._escalate(u, TransferReason.MISUNDERSTANDING)
        return self._ask_slot_again(u, slot, Action.SLOT)

    def _in_follow_up(self, u: Understanding) -> Reply | None:
        pending, self.pending = self.pending, None
        if pending is not None and pending.detail is not None:
            return self._in_detail(pending, u)
        if pending is None or pending.intent.follow_up is None:
            return None
        fu = pending.intent.follow_up
        p = self.flows.prompts
        if u.intent == ControlIntent.YES:
            if fu.summary_if_yes:
                self._summary.append(fu.summary_if_yes)
            lead = [self._text(fu.if_yes, pending.intent, pending.slots)] if fu.if_yes else []
            if fu.transfer_if_yes:
                return self._transfer(u, TransferReason.TOPIC, pending.intent, lead)
            self.state = State.MAIN
            return self._reply(self._prompts(*lead, p.anything_else), Action.ANSWER, u)
        if u.intent == ControlIntent.NO:
            self.state = State.MAIN
            lead = [self._text(fu.if_no, pending.intent, pending.slots)] if fu.if_no else []
            return self._reply(self._prompts(*lead, p.anything_else), Action.CONTROL, u)
        return None

    # -- answers -----------------------------------------------------------------------------
    def _deliver(self, intent: IntentDef, slots: dict[str, Any], u: Understanding) -> Reply:
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
                    self._summary.append(_pretty(value, self.flows.slot_types[slot.type]))
            elif slot.required:
                self.pending = Pending(intent, slots, u, slot.name)
                self.state = State.SLOT
                return self._reply([self._prompt(slot.question, State.SLOT)], Action.SLOT, u, node=State.SLOT)
        # The turn records what the caller got (a "oui" to a confirmation is that intent).
        u.intent, u.topic = intent.id, intent.topic
        if u.action not in (Action.OUT_OF_SCOPE, Action.TRANSFER, Action.ORIENT):
            u.action = Action.ANSWER if u.action in ASKED_BACK else u.action
        if intent.topic == OUT_OF_SCOPE_TOPIC and u.action != Action.ORIENT:  # orient stays: the statistics
            u.action = Action.OUT_OF_SCOPE
        texts = self._answer_texts(intent, slots)
        self.answered += 1
        if intent.transfer:
            out_of_scope = intent.topic == OUT_OF_SCOPE_TOPIC
            reason = TransferReason.OUT_OF_SCOPE if out_of_scope else TransferReason.TOPIC
            return self._transfer(u, reason, intent, texts)
        fu = intent.follow_up
        closing = self._text(fu.question, intent, slots) if fu else self._closing_question(intent)
        texts, detail = self._split_answer(texts, closing)
        if detail:
            return self._offer_detail(intent, slots, u, texts, detail)
        if intent.follow_up:
            self.pending = Pending(intent, slots, u)
            self.state = State.FOLLOW_UP
            prompts = self._prompts(*texts, closing)
            return self._reply(prompts, u.action, u, node=State.FOLLOW_UP, expect=Expect.YES_NO)
        return self._close_answer(intent, slots, u, texts, u.action)

    def _answer_texts(self, intent: IntentDef, slots: dict[str, Any]) -> list[str]:
        """The answer (or the variant for the caller's slot value), one rendered text per sentence."""
        template = intent.answer or ""
        for slot, variants in intent.variants.items():
            if slots.get(slot) in variants:
                template = variants[slots[slot]]
                break
        return [self._text(sentence, intent, slots) for sentence in split_sentences(template)]


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


def _pretty(value: Any, synonyms: dict[str, list[str]]) -> str:  # noqa: ANN401
    """A slot value as the summary shows it: its first synonym ("urbanisme" → "l'urbanisme")."""
    syns = synonyms.get(value) or []
    return syns[0] if syns else str(value)
