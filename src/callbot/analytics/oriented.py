"""Calls the bot *oriented*: the caller asked about another body's business (income tax, CAF,
préfecture, notaire…), the bot said who handles it with a validated `hors_mairie` answer, and the
call ended resolved by the bot (no agent, no callback needed afterwards).

An orientation is a caller turn whose recorded action is `orient` (the topic layer chose the
outside body) or `out_of_scope` (the intent layer did), with an intent of the `hors_mairie` topic:
a turn of that action without an intent got the generic "not the town hall" sentence, which says
nobody in particular. The sub-kind is that intent (impots_revenu, caf_aides…): which outside bodies
residents ask about. A call counts once in the total, once under each sub-kind it was given, on its
start's local day like every call figure.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement

from callbot.store.models import Call, Turn
from callbot.vocabulary import Outcome

# Strings, not dialog's Action: analytics does not import the dialog room (tests/test_architecture.py).
ORIENTING_ACTIONS = ("orient", "out_of_scope")
OUTSIDE_TOPIC = "hors_mairie"  # dialog.control.OUT_OF_SCOPE_TOPIC, fixed in ../shared/topics.md


def orienting_turns() -> list[ColumnElement[bool]]:
    """Caller turns that gave an outside body's answer, of calls the bot resolved (joined on Call)."""
    return [
        Turn.call_id == Call.id,
        Turn.speaker == "caller",
        Turn.action.in_(ORIENTING_ACTIONS),
        Turn.topic == OUTSIDE_TOPIC,
        Turn.intent.is_not(None),
        Call.outcome == Outcome.RESOLVED,
    ]
