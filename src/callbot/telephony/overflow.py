"""Calls the bot does not take (capacity, shutdown, speech not loaded, bot stopped undecided) go
to people: the human queue with a short message, or out of hours a callback offer on the keypad.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from twilio.twiml.voice_response import Enqueue, Gather, VoiceResponse

from callbot.store.calls import Decision, remember_decision, write, write_soon
from callbot.store.journal_ops import stamp
from callbot.telephony.twiml import LANGUAGE, absolute
from callbot.vocabulary import Outcome, TransferReason

if TYPE_CHECKING:
    from callbot.store.db import Database


class DialogEngine(Protocol):
    """What is needed of the runtime's dialog engine (telephony does not import dialog/)."""

    flows: Any

    def agents_on_duty(self) -> bool: ...
    def default_queue(self) -> str: ...

CALLBACK_KEY = "1"
BUSY = "Toutes nos lignes automatiques sont occupées."
CALLBACK_OFFER = "Pour être rappelé à ce numéro, tapez 1."


def enqueue_with_message(public_url: str, queue: str, message: str | None) -> str:
    response = VoiceResponse()
    if message:
        response.say(message, language=LANGUAGE)
    response.append(Enqueue(queue, action=absolute(public_url, "/twilio/queue-result"), method="POST",
                            wait_url=absolute(public_url, "/twilio/queue-wait"), wait_url_method="POST"))
    return str(response)


def callback_offer(public_url: str, engine: DialogEngine) -> str:
    p = engine.flows.prompts
    response = VoiceResponse()
    gather = Gather(num_digits=1, timeout=8, action=absolute(public_url, "/twilio/overflow-callback"),
                    method="POST")
    gather.say(f"{p.nobody_on_duty} {CALLBACK_OFFER}", language=LANGUAGE)
    response.append(gather)
    response.say(p.callback_declined, language=LANGUAGE)
    response.hangup()
    return str(response)


async def to_people(db: Database, engine: DialogEngine, public_url: str, call_sid: str,
                    why: str, *, offer_callback: bool = True) -> tuple[str, str | None]:
    """Record the call as handed straight to people; returns TwiML and queue (None: callback offer)."""
    if offer_callback and not engine.agents_on_duty():
        await write(db, {"op": "event", "call_sid": call_sid, "at": stamp(),
                         "kind": "overflow.callback_offer", "data": {"why": why}})
        return callback_offer(public_url, engine), None
    queue = engine.default_queue()
    fields = {"transfer_kind": "queue", "transfer_target": queue, "transfer_reason": TransferReason.OVERLOAD,
              "summary": "Transféré sans passer par le robot"}
    remember_decision(call_sid, Decision(Outcome.TRANSFERRED, "queue", queue))
    at = stamp()
    await write(db, {"op": "finish", "call_sid": call_sid, "at": at, "outcome": Outcome.TRANSFERRED,
                     "fields": fields, "event": "overflow.queue"})
    await write_soon(db, {"op": "queued", "call_sid": call_sid, "at": at, "queue": queue})
    message = f"{BUSY} {engine.flows.prompts.transfer}"
    return enqueue_with_message(public_url, queue, message), queue


async def callback_answer(db: Database, engine: DialogEngine, call_sid: str, caller: str,
                          digits: str) -> str:
    """The keypad answer to the callback offer: the request is kept, or the call ends politely."""
    p = engine.flows.prompts
    response = VoiceResponse()
    at = stamp()
    if digits == CALLBACK_KEY and caller:
        await write(db, {"op": "callback", "call_sid": call_sid, "at": at, "number": caller,
                         "reason": None, "topic": None})
        await write(db, {"op": "finish", "call_sid": call_sid, "at": at, "outcome": Outcome.CALLBACK,
                         "fields": {"summary": "rappel demandé (robot saturé)"}})
        response.say("C'est noté, un agent vous rappellera à ce numéro. Au revoir.", language=LANGUAGE)
    else:
        await write(db, {"op": "finish", "call_sid": call_sid, "at": at, "outcome": Outcome.ENDED_NO_AGENT,
                         "fields": {}})
        response.say(p.callback_declined, language=LANGUAGE)
    response.hangup()
    return str(response)
