"""What the dialog engine hands the call pipeline, and what it understood.

This is the seam between `dialog/` (which decides) and `pipeline/` + `speech/` (which carry
audio). Nothing here knows about pipecat or Twilio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class Action(StrEnum):
    """What the bot does with a turn (stored as ``turns.action``; the dashboard counts them)."""

    ANSWER = "answer"  # an answer from the flows
    CONFIRM = "confirm"  # asks "vous voulez parler de … ?"
    CLARIFY = "clarify"  # asks which of two close intents
    TRANSFER = "transfer"  # hands the call to people
    OUT_OF_SCOPE = "out_of_scope"  # not the town hall's business: says where to go
    ORIENT = "orient"  # no intent matched, but the topic layer knows which outside body handles it
    EMERGENCY = "emergency"  # gives the emergency numbers
    FALLBACK = "fallback"  # not understood, or nothing heard
    REPEAT = "repeat"  # says its last prompts again
    GOODBYE = "goodbye"
    GREET = "greet"
    SLOT = "slot"  # asks for a detail the answer needs
    CALLBACK = "callback"  # a step of a callback request
    CONTROL = "control"  # yes, no, thanks, a keypad digit: acted on without an answer


class Expect(StrEnum):
    """What the next caller turn is expected to be (the recogniser's grammar follows it)."""

    SPEECH = "speech"
    YES_NO = "yes_no"
    DIGITS = "digits"  # a phone number, by voice or keypad


@dataclass(frozen=True)
class Prompt:
    """One sentence (or a few) the bot says. Non-interruptible prompts ignore barge-in.
    A private prompt carries the caller's own data (their phone number): its audio is never kept
    in the shared prompt cache. Everything else is made of validated flow content only."""

    text: str
    interruptible: bool = True
    private: bool = False


@dataclass(frozen=True)
class Transfer:
    kind: Literal["queue", "dial"]
    target: str  # Twilio queue name, or an E.164 service number
    reason: str  # a callbot.vocabulary.TransferReason value
    service: str | None = None


@dataclass(frozen=True)
class CallbackRequest:
    number: str
    reason: str | None = None
    topic: str | None = None


@dataclass(frozen=True)
class SmsLink:
    """A text message the caller agreed to receive: an online procedure's link (dialog/sms_offer.py).
    `to` is the number the call already has in memory; it is never stored or logged (repr hides it)."""

    to: str = field(repr=False)
    text: str
    # Said if the message could not be sent (the pipeline sends it off the call's path).
    failed: str


@dataclass
class Understanding:
    """The reading of one caller utterance (also the JSON of `callbot nlu`)."""

    text: str
    intent: str | None
    topic: str | None
    confidence: float
    action: Action
    normalized: str = ""
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    fallback_reason: str | None = None
    # Set when only a weak alarm was heard (the learnt classifier unsure, or a faint likeness to the
    # flows' emergency examples) and the words also make a confident request (nlu_routing.py): the
    # bot says the emergency numbers first, then goes on with `action`. Says why, e.g.
    # "classifier: 0.13 ≥ 0.07".
    emergency_notice: str | None = None

    @property
    def gives_emergency_numbers(self) -> bool:
        """Whether the caller hears the emergency numbers at once for these words."""
        return self.action == Action.EMERGENCY or self.emergency_notice is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "normalized": self.normalized,
            "intent": self.intent,
            "topic": self.topic,
            "confidence": round(self.confidence, 4),
            "action": self.action,
            "alternatives": self.alternatives,
            "slots": self.slots,
            "fallback_reason": self.fallback_reason,
            "emergency_notice": self.emergency_notice,
        }


@dataclass
class Reply:
    """What the bot does after an event (call start, utterance, digit, silence)."""

    prompts: list[Prompt]
    action: Action = Action.ANSWER
    understanding: Understanding | None = None
    # When set, the call ends once the prompts are spoken.
    end: Literal["hangup", "transfer"] | None = None
    transfer: Transfer | None = None
    callback: CallbackRequest | None = None
    # Final Call.outcome when `end` is set (callbot.vocabulary.Outcome values).
    outcome: str | None = None
    # Seconds of caller silence before `Conversation.silence()` should be called.
    no_input_timeout: float = 7.0
    # What the next caller turn is expected to be: free speech, yes/no, digits (a phone number).
    expect: Expect = Expect.SPEECH
    # End-of-call satisfaction note (1 to 5) when the flows ask for one.
    satisfaction: int | None = None
    # A text message to send now, with the caller's consent (SMS configured, a mobile number).
    sms: SmsLink | None = None
