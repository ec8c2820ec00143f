"""People: a transfer to an agent or a service, an emergency, and when nobody is on duty, a
callback request (the offer, the number by voice or keypad, a short reason).
"""

from __future__ import annotations

import re
from dataclasses import replace

from callbot.dialog.control import ControlIntent
from callbot.dialog.conversation_base import ConversationBase
from callbot.dialog.normalize import simplify
from callbot.dialog.schema import IntentDef
from callbot.dialog.slots import digits_from_speech
from callbot.dialog.states import State
from callbot.dialog.types import Action, CallbackRequest, Expect, Prompt, Reply, Understanding
from callbot.vocabulary import Outcome, TransferReason

# A number said with "dièse" at the end is complete from this many digits on.
MIN_NUMBER_DIGITS = 4


class Handover(ConversationBase):
    # -- transfers ---------------------------------------------------------------------------
    def _to_agent(self, u: Understanding) -> Reply:
        self._summary.append("demande un agent" if self._summary else "Demande à parler à un agent")
        if self._topic is None:
            self._topic = self._intent = ControlIntent.AGENT.value
        u.action = Action.TRANSFER
        return self._transfer(u, TransferReason.ASKED_AGENT, None, [])

    def _transfer(self, u: Understanding, reason: str, intent: IntentDef | None, lead: list[str]) -> Reply:
        p = self.flows.prompts
        now = self.engine.now()
        if self.engine.agents_on_duty(now):
            topic = intent.topic if intent else self._topic
            transfer = self.engine.transfer_target(topic, intent.service if intent else None, reason, now)
            reply = self._end(u, [*lead, p.transfer], Outcome.TRANSFERRED, Action.TRANSFER, end="transfer")
            reply.transfer = transfer
            return reply
        # Nobody to take the call: offer a callback.
        self.callback_topic = (intent.topic if intent else None) or self._topic
        self.state = State.CALLBACK_OFFER
        self.misses = 0
        prompts = self._prompts(*lead, p.nobody_on_duty, p.callback_offer, node=State.CALLBACK_OFFER)
        return self._reply(prompts, Action.CALLBACK, u, node=State.CALLBACK_OFFER, expect=Expect.YES_NO)

    def wrap_up(self, reason: str) -> Reply:
        """End the call now (time limit, shutdown): to people if on duty, else a polite goodbye."""
        u = Understanding(text="", intent=None, topic=None, confidence=0.0, action=Action.TRANSFER,
                          fallback_reason=reason)
        if self.ended is not None:
            return self._after_end()
        p = self.flows.prompts
        self._summary.append(f"appel écourté ({reason})")
        now = self.engine.now()
        if self.engine.agents_on_duty(now):
            transfer = self.engine.transfer_target(self._topic, None, reason, now)
            reply = self._end(u, [p.transfer], Outcome.TRANSFERRED, Action.TRANSFER, end="transfer")
            reply.transfer = transfer
            return reply
        return self._end(u, [p.nobody_on_duty, p.callback_declined], Outcome.ENDED_NO_AGENT, Action.GOODBYE)

    def _emergency(self, u: Understanding) -> Reply:
        p = self.flows.prompts
        u.action = Action.EMERGENCY
        self._topic = self._intent = ControlIntent.EMERGENCY.value
        self._summary.append("Urgence signalée" if not self._summary else "urgence signalée")
        emergency = Prompt(self._text(p.emergency), interruptible=False)
        if self.flows.settings.emergency_then == "transfer" and self.engine.agents_on_duty():
            transfer = self.engine.transfer_target(ControlIntent.EMERGENCY, None, TransferReason.EMERGENCY)
            reply = self._end(u, [], Outcome.TRANSFERRED, Action.EMERGENCY, end="transfer")
            reply.prompts = [emergency, self._prompt(p.transfer)]
            reply.transfer = transfer
            return reply
        if self.flows.settings.emergency_then == "listen":
            # The caller who is in danger hangs up and dials; the one whose words only sounded
            # like it (a past fall, a letter about a fire) goes on with their question.
            self.state = State.MAIN
            return self._reply([emergency, self._prompt(p.emergency_not)], Action.EMERGENCY, u)
        reply = self._end(u, [], Outcome.RESOLVED, Action.EMERGENCY)
        reply.prompts = [emergency]
        return reply

    # -- callback ----------------------------------------------------------------------------
    def _in_callback_offer(self, u: Understanding) -> Reply | None:
        p = self.flows.prompts
        if u.intent == ControlIntent.YES:
            self.state = State.CALLBACK_NUMBER
            self.digits = ""
            self.misses = 0
            return self._ask_number(u)
        if u.intent == ControlIntent.NO:
            return self._end(u, [p.callback_declined], Outcome.ENDED_NO_AGENT, Action.GOODBYE)
        self.misses += 1
        if self.misses >= self.flows.settings.max_misses:
            return self._end(u, [p.callback_declined], Outcome.ENDED_NO_AGENT, Action.GOODBYE)
        return self._reply([self._prompt(p.callback_offer, State.CALLBACK_OFFER)], Action.CALLBACK, u,
                           node=State.CALLBACK_OFFER, expect=Expect.YES_NO)

    def _ask_number(self, u: Understanding) -> Reply:
        return self._reply([self._prompt(self.flows.prompts.callback_number, State.CALLBACK_NUMBER)],
                           Action.CALLBACK, u, node=State.CALLBACK_NUMBER, expect=Expect.DIGITS)

    def _number_so_far(self, u: Understanding) -> Reply:
        """Digits heard, more to come: say nothing, keep listening for digits."""
        return self._reply([], Action.CALLBACK, u, node=State.CALLBACK_NUMBER, expect=Expect.DIGITS,
                           remember=False)

    def _callback_digit(self, digit: str) -> Reply:
        u = Understanding(text=digit, intent=None, topic=None, confidence=1.0, action=Action.CALLBACK,
                          normalized=digit)
        if digit == "*":
            self.digits = ""
            return self._ask_number(u)
        if digit.isdigit():
            self.digits += digit
            if len(self.digits) < self.flows.settings.callback_digits:
                return self._number_so_far(u)
        return self._callback_got_number(self.digits, u)

    def _callback_number_speech(self, text: str) -> Reply:
        u = Understanding(text=text, intent=None, topic=None, confidence=1.0, action=Action.CALLBACK)
        said = simplify(text)
        if re.search(r"\b(agent|quelqu un|conseiller)\b", said) and not digits_from_speech(text):
            return self._in_callback_offer(Understanding(text, ControlIntent.NO, None, 1.0, Action.CONTROL))
        digits = self.digits + digits_from_speech(text)
        if (len(digits) >= self.flows.settings.callback_digits
                or (len(digits) >= MIN_NUMBER_DIGITS and "diese" in said)):
            return self._callback_got_number(digits, u)
        self.digits = digits
        if digits:
            return self._number_so_far(u)
        u.fallback_reason = "numéro non compris"
        return self._miss(u, no_input=False)

    def _callback_got_number(self, digits: str, u: Understanding) -> Reply:
        if not valid_number(digits, self.flows.settings.callback_digits):
            self.digits = ""
            u.fallback_reason = f"numéro invalide ({len(digits)} chiffres)"
            return self._miss(u, no_input=False)
        self.callback_number = digits
        self.state = State.CALLBACK_REASON
        return self._reply([self._prompt(self.flows.prompts.callback_reason, State.CALLBACK_REASON)],
                           Action.CALLBACK, u, node=State.CALLBACK_REASON)

    def _callback_finish(self, reason: str | None) -> Reply:
        u = Understanding(text=reason or "", intent=None, topic=None, confidence=1.0, action=Action.CALLBACK)
        number = self.callback_number or ""
        spoken = " ".join(number[i:i + 2] for i in range(0, len(number), 2))
        text = self.flows.prompts.callback_done.replace("{numero}", spoken)
        self._summary.append(f"rappel demandé : {reason}" if reason else "rappel demandé")
        reply = self._end(u, [text], Outcome.CALLBACK, Action.CALLBACK)
        reply.prompts = [replace(p, private=True) for p in reply.prompts]  # the number
        topic = self.callback_topic or self._topic
        if topic is None and reason:
            # The reason often names the need ("mon permis de construire"): file it under its topic.
            heard = self.engine.understand(reason)
            if heard.topic and (heard.action in (Action.ANSWER, Action.OUT_OF_SCOPE, Action.ORIENT)
                                or heard.intent is None):  # the topic layer's best topic
                topic = heard.topic
        reply.callback = CallbackRequest(number=number, reason=reason, topic=topic)
        return reply


def valid_number(digits: str, expected: int) -> bool:
    """A French number of `expected` digits (starting with 0 for 10), or the same after 33."""
    if digits.startswith("33") and len(digits) == expected + 1:
        return True
    return len(digits) == expected and (expected != 10 or digits.startswith("0"))
