"""Where a conversation stands: its states, and the flow nodes whose settings apply to a prompt.

A node is a key of `settings.nodes` in the flows (barge-in, silence timeout): every state in which
the bot speaks and listens is one, plus the greeting and the default for any node left out.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """The states of `Conversation`; each value is also the name of its node in the flows."""

    NEW = "new"  # before the greeting
    MAIN = "main"  # waiting for a question
    CONFIRM = "confirm"  # "vous voulez parler de … ?" (medium confidence)
    CLARIFY = "clarify"  # two close intents: "a, ou plutôt b ?"
    SLOT = "slot"  # a question the answer needs ("quel service ?")
    FOLLOW_UP = "follow_up"  # the answer's own yes/no question
    CALLBACK_OFFER = "callback_offer"  # nobody on duty: "voulez-vous être rappelé ?"
    CALLBACK_NUMBER = "callback_number"  # the number, by voice or keypad
    CALLBACK_REASON = "callback_reason"  # a short reason for the callback
    SATISFACTION = "satisfaction"  # the end-of-call note, 1 to 5
    SMS_OFFER = "sms_offer"  # "voulez-vous que je vous envoie le lien par SMS ?"
    ENDED = "ended"


# States whose question is answered by yes or no (understood with the yes/no expectation).
YES_NO_STATES = frozenset({State.CONFIRM, State.FOLLOW_UP, State.CALLBACK_OFFER, State.SMS_OFFER})

GREETING_NODE = "greeting"  # the greeting's prompts (the AI disclosure is never interruptible)
DEFAULT_NODE = "default"  # the settings of any node the flows do not list
NODES = frozenset({*State, GREETING_NODE, DEFAULT_NODE} - {State.NEW, State.ENDED})
