"""The right of access (and portability): everything stored about one phone number, as JSON,
found exactly as erasure finds it (keyed hash of the E.164 number, callback numbers in any form)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from callbot.store.calls import hash_number
from callbot.store.db import Database
from callbot.store.models import Call, Callback
from callbot.store.phone import to_e164, written_forms


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def personal_data(db: Database, secret: bytes, number: str) -> dict[str, Any]:
    """{"number", "calls": [... with their transcript], "callbacks": [...]} for one number."""
    e164 = to_e164(number) or number.strip()
    with db.session() as s:
        calls = list(s.scalars(select(Call).where(Call.caller_hash == hash_number(secret, e164))
                               .order_by(Call.started_at)))
        ids = [c.id for c in calls]
        callbacks = list(s.scalars(select(Callback).where(
            or_(Callback.number.in_(written_forms(e164)), Callback.call_id.in_(ids)))
            .order_by(Callback.created_at)))
        return {
            "number": e164,
            "calls": [{
                "call_sid": c.call_sid, "started_at": _iso(c.started_at), "ended_at": _iso(c.ended_at),
                "outcome": c.outcome, "topic": c.topic, "summary": c.summary,
                "transferred_to": c.transfer_target, "taken_by": c.picked_up_by,
                "turns": [{"at": _iso(t.at), "speaker": t.speaker, "text": t.text} for t in c.turns],
            } for c in calls],
            "callbacks": [{
                "created_at": _iso(cb.created_at), "number": cb.number, "reason": cb.reason,
                "status": cb.status, "notes": cb.notes, "assigned_to": cb.assigned_to,
            } for cb in callbacks],
        }
