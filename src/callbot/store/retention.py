"""GDPR: retention limits and the right to erasure.

Calls (with their turns and events) and callback requests older than the retention period are
deleted; a resident's calls can be erased on request from their phone number, which is found
through the same keyed hash the calls were stored with (the number itself is not kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from callbot.store.calls import hash_number
from callbot.store.db import Database
from callbot.store.models import Call, Callback, CallEvent, Turn


@dataclass
class Erased:
    calls: int
    callbacks: int


def _delete_calls(s, call_ids: list[int]) -> int:  # noqa: ANN001
    if not call_ids:
        return 0
    # Bulk deletes do not run ORM cascades: remove children explicitly (works without FK support).
    for i in range(0, len(call_ids), 500):
        chunk = call_ids[i:i + 500]
        s.execute(delete(Turn).where(Turn.call_id.in_(chunk)))
        s.execute(delete(CallEvent).where(CallEvent.call_id.in_(chunk)))
        s.execute(Callback.__table__.update().where(Callback.call_id.in_(chunk)).values(call_id=None))
        s.execute(delete(Call).where(Call.id.in_(chunk)))
    return len(call_ids)


def purge_older_than(db: Database, days: int, now: datetime | None = None) -> Erased:
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    with db.session() as s:
        ids = list(s.scalars(select(Call.id).where(Call.started_at < cutoff)))
        calls = _delete_calls(s, ids)
        callbacks = s.execute(delete(Callback).where(Callback.created_at < cutoff)).rowcount
    return Erased(calls=calls, callbacks=callbacks or 0)


def erase_caller(db: Database, secret: bytes, number: str) -> Erased:
    """Erase every call and callback request of one phone number."""
    with db.session() as s:
        ids = list(s.scalars(select(Call.id).where(Call.caller_hash == hash_number(secret, number))))
        callbacks = s.execute(delete(Callback).where(Callback.number == number)).rowcount
        calls = _delete_calls(s, ids)
    return Erased(calls=calls, callbacks=callbacks or 0)
