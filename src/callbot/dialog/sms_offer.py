"""Links by SMS: after answering an intent that has a `link:` (an online procedure), the bot offers
to text it ("Voulez-vous que je vous envoie le lien par SMS ?") and only a "oui" sends it.

Offered only when SMS is configured for this call (the pipeline has a sender) and the caller is a
French mobile (06, 07): a landline cannot receive it, and a hidden number has nowhere to go. The
dialog only decides (`Reply.sms`); the pipeline sends (pipeline/sms.py). The caller's number is
the one the call already holds in memory: it is put on the reply, never stored.
"""

from __future__ import annotations

from typing import Any

import phonenumbers

from callbot.dialog.control import ControlIntent
from callbot.dialog.conversation_base import ConversationBase, Pending
from callbot.dialog.schema import IntentDef
from callbot.dialog.states import State
from callbot.dialog.types import Action, Expect, Reply, SmsLink, Understanding


def french_mobile(number: str | None) -> str | None:
    """The E.164 form of a French mobile number (06, 07), else None (landline, foreign, hidden)."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, "FR")
    except phonenumbers.NumberParseException:
        return None
    if parsed.country_code != 33 or phonenumbers.number_type(parsed) != phonenumbers.PhoneNumberType.MOBILE:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class SmsOffer(ConversationBase):
    def __init__(self, *args: Any, sms: bool = False, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(*args, **kwargs)
        self.sms_enabled = sms  # this call has a sender (SMS configured: pipeline/sms.py)
        # Once per link and call: the same question asked again does not offer the same text again.
        self._links_sent: set[str] = set()

    def _close_answer(self, intent: IntentDef, slots: dict[str, Any], u: Understanding, texts: list[str],
                      action: str) -> Reply:
        """The answer `texts`, then the SMS offer when it applies, else "autre question ?"."""
        p = self.flows.prompts
        if not self._may_offer_link(intent):
            self.state = State.MAIN
            return self._reply(self._prompts(*texts, p.anything_else), action, u)
        self.pending = Pending(intent, slots, u)
        self.state = State.SMS_OFFER
        prompts = [*self._prompts(*texts), self._prompt(p.sms_offer, State.SMS_OFFER)]
        return self._reply(prompts, action, u, node=State.SMS_OFFER, expect=Expect.YES_NO)

    def _closing_question(self, intent: IntentDef) -> str:
        """What is asked after the answer (its length counts in the answer's time limit)."""
        p = self.flows.prompts
        return p.sms_offer if self._may_offer_link(intent) else p.anything_else

    def _may_offer_link(self, intent: IntentDef) -> bool:
        return bool(intent.link and self.sms_enabled and intent.link not in self._links_sent
                    and french_mobile(self.caller))

    def _in_sms_offer(self, u: Understanding) -> Reply | None:
        """The caller's answer to the offer: only a "oui" (or the key 1) sends anything."""
        pending, self.pending = self.pending, None
        if pending is None or not pending.intent.link:
            return None
        p = self.flows.prompts
        if u.intent == ControlIntent.YES:
            to = french_mobile(self.caller)
            if to is None:  # cannot happen: the offer needs one
                return None
            self.state = State.MAIN
            self._links_sent.add(pending.intent.link)
            reply = self._reply(self._prompts(p.sms_sending, p.anything_else), Action.CONTROL, u)
            reply.sms = SmsLink(to=to, text=self._sms_text(pending.intent), failed=self._text(p.sms_failed))
            return reply
        if u.intent == ControlIntent.NO:
            self.state = State.MAIN
            return self._reply(self._prompts(p.anything_else), Action.CONTROL, u)
        return None  # something else (a new question): handled as such

    def _sms_text(self, intent: IntentDef) -> str:
        extra = {"label": self._label(intent), "link": intent.link or ""}
        now = self.engine.now()
        return self.engine.renderer.render(self.flows.prompts.sms_text, now, intent, extra=extra)

