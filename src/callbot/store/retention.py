"""GDPR: retention limits and the right to erasure.

`purge` (older than the retention period) and `erase` (one phone number, whatever its written
form) delete the calls with their turns and events, the callback requests (deleted, never just
unlinked: they hold the number and the caller's words), and the unrecognised wordings the
dashboard's daily summaries derived from those turns. The summaries of the days concerned are
marked stale, so the dashboard recomputes them from what is left before showing them again.

A caller is found through the keyed hash of their E.164 number (the number itself is not kept
on calls); callback requests hold the number in clear, in E.164 (older rows in any form).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from callbot.store.calls import hash_number
from callbot.store.db import Database
from callbot.store.models import Call, Callback, CallEvent, DailyRollup, DailyUtterance, Turn
from callbot.store.phone import to_e164, written_forms

CHUNK = 500


@dataclass
class Erased:
    calls: int
    callbacks: int
    utterance_days: int = 0  # days whose unrecognised wordings were dropped, to be recomputed


def _delete_calls(s: Session, call_ids: list[int]) -> tuple[int, int]:
    """Delete calls with their turns, events and callback requests → (calls, callbacks)."""
    callbacks = 0
    # Bulk deletes do not run ORM cascades: remove children explicitly (works without FK support).
    for i in range(0, len(call_ids), CHUNK):
        chunk = call_ids[i:i + CHUNK]
        s.execute(delete(Turn).where(Turn.call_id.in_(chunk)))
        s.execute(delete(CallEvent).where(CallEvent.call_id.in_(chunk)))
        callbacks += s.execute(delete(Callback).where(Callback.call_id.in_(chunk))).rowcount or 0
        s.execute(delete(Call).where(Call.id.in_(chunk)))
    return len(call_ids), callbacks


def _forget_derived_days(s: Session, first: datetime | date | None, last: datetime | date | None) -> int:
    """Drop the stored unrecognised wordings of the local days first..last (one day of margin
    each side for the commune's time zone) and mark those days stale: the dashboard rebuilds
    them from the remaining turns before reading them."""
    if first is None or last is None:
        return 0
    lo = _day(first) - timedelta(days=1)
    hi = _day(last) + timedelta(days=1)
    s.execute(delete(DailyUtterance).where(DailyUtterance.day.between(lo, hi)))
    s.execute(update(DailyRollup).where(DailyRollup.day.between(lo, hi)).values(stale=True))
    return (hi - lo).days + 1


def _day(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


def purge_older_than(db: Database, days: int, now: datetime | None = None) -> Erased:
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    with db.session() as s:
        ids = list(s.scalars(select(Call.id).where(Call.started_at < cutoff)))
        first = s.scalar(select(func.min(Call.started_at)).where(Call.started_at < cutoff))
        calls, linked = _delete_calls(s, ids)
        callbacks = s.execute(delete(Callback).where(Callback.created_at < cutoff)).rowcount or 0
        # Wordings of the purged days go even if their turns were deleted earlier by other means.
        oldest = s.scalar(select(func.min(DailyUtterance.day)))
        starts = [_day(d) for d in (first, oldest) if d is not None]
        forgotten = _forget_derived_days(s, min(starts, default=None), cutoff)
    return Erased(calls=calls, callbacks=callbacks + linked, utterance_days=forgotten)


def erase_caller(db: Database, secret: bytes, number: str) -> Erased:
    """Erase every call and callback request of one phone number, whatever its written form."""
    forms = written_forms(number)
    e164 = to_e164(number) or number.strip()
    with db.session() as s:
        ids = list(s.scalars(select(Call.id).where(Call.caller_hash == hash_number(secret, e164))))
        span = s.execute(select(func.min(Call.started_at), func.max(Call.started_at))
                         .where(Call.id.in_(ids))).one() if ids else (None, None)
        own = or_(Callback.number.in_(forms), Callback.number == e164)
        cb_span = s.execute(select(func.min(Callback.created_at), func.max(Callback.created_at))
                            .where(own)).one()
        callbacks = s.execute(delete(Callback).where(own)).rowcount or 0
        calls, linked = _delete_calls(s, ids)
        starts = [d for d in (*span, *cb_span) if d is not None]
        forgotten = _forget_derived_days(s, min(starts, default=None), max(starts, default=None))
    return Erased(calls=calls, callbacks=callbacks + linked, utterance_days=forgotten)
