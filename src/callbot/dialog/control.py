"""The intents the dialog itself acts on, whatever the commune: every flow set must define them.

Business intents (the commune's answers) are data in `flows/`; these ids are code's contract with
the flows, checked at load time (`flows.py`).
"""

from __future__ import annotations

from enum import StrEnum


class ControlIntent(StrEnum):
    YES = "oui"
    NO = "non"
    REPEAT = "repeter"
    GOODBYE = "au_revoir"
    THANKS = "merci"
    AGENT = "parler_agent"  # also the topic of a call that asked for a person
    EMERGENCY = "urgence"  # also the topic of an emergency


YES_NO = (ControlIntent.YES, ControlIntent.NO)
# A caller who answers the callback reason question with one of these gives no reason.
NO_REASON = frozenset({ControlIntent.GOODBYE, ControlIntent.NO, ControlIntent.THANKS})
# The topic of intents the town hall does not handle (answered with where to go instead).
OUT_OF_SCOPE_TOPIC = "hors_mairie"
