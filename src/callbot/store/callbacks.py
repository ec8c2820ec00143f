"""Callback requests left by callers (outside opening hours): the agents' to-do list.

The caller's full number lives only here (agents need it to call back); it is shown to agents in
the console and nowhere else (no export, no log). Synchronous functions: run them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, select

from callbot.store.db import Database
from callbot.store.models import Call, Callback
from callbot.vocabulary import CallbackStatus

STATUS_LABELS = {
    CallbackStatus.TODO: "à rappeler",
    CallbackStatus.DONE: "rappelé",
    CallbackStatus.UNREACHABLE: "injoignable",
    CallbackStatus.CLOSED: "clos",
}
# Still needs someone: shown first, oldest first.
OPEN_STATUSES = (CallbackStatus.TODO, CallbackStatus.UNREACHABLE)
MAX_NOTES = 4000


class CallbackError(ValueError):
    """A refused change; the message is French and shown to the agent."""


@dataclass
class CallbackView:
    id: int
    created_at: datetime
    updated_at: datetime | None
    number: str
    reason: str | None
    topic: str | None
    status: str
    notes: str | None
    assigned_to: str | None
    call_sid: str | None
    summary: str | None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def list_callbacks(db: Database, status: str | None = None, assigned_to: str | None = None,
                   limit: int = 200) -> list[CallbackView]:
    """Callbacks, open ones first (oldest first), then the others (most recent first)."""
    query = select(Callback, Call.call_sid, Call.summary).outerjoin(Call, Call.id == Callback.call_id)
    if status:
        query = query.where(Callback.status == status)
    if assigned_to:
        query = query.where(Callback.assigned_to == assigned_to)
    is_open = case((Callback.status.in_(OPEN_STATUSES), 0), else_=1)
    # Open: oldest first (who waited longest); closed: newest first. Done with a signed key.
    age = func.coalesce(Callback.id, 0)
    query = query.order_by(is_open, case((Callback.status.in_(OPEN_STATUSES), age), else_=-age)).limit(limit)
    with db.session() as s:
        return [
            CallbackView(id=cb.id, created_at=_aware(cb.created_at), updated_at=_aware(cb.updated_at),
                         number=cb.number, reason=cb.reason, topic=cb.topic, status=cb.status, notes=cb.notes,
                         assigned_to=cb.assigned_to, call_sid=sid, summary=summary)
            for cb, sid, summary in s.execute(query).all()
        ]


def count_open(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Callback)
                        .where(Callback.status.in_(OPEN_STATUSES))) or 0


def update_callback(db: Database, callback_id: int, *, status: str | None = None, notes: str | None = None,
                    assigned_to: str | None = None, clear_assignment: bool = False) -> CallbackView:
    """Change status, notes and/or assignment; `updated_at` is set. Raises CallbackError."""
    if status is not None and status not in tuple(CallbackStatus):
        raise CallbackError(f"Statut inconnu « {status} ».")
    if notes is not None and len(notes) > MAX_NOTES:
        raise CallbackError(f"Les notes sont limitées à {MAX_NOTES} caractères.")
    with db.session() as s:
        cb = s.get(Callback, callback_id)
        if cb is None:
            raise CallbackError("Ce rappel n'existe plus (effacé ?).")
        if status is not None:
            cb.status = status
        if notes is not None:
            cb.notes = notes.strip() or None
        if clear_assignment:
            cb.assigned_to = None
        elif assigned_to is not None:
            cb.assigned_to = assigned_to.strip()[:80] or None
        cb.updated_at = datetime.now(UTC)
        call = s.get(Call, cb.call_id) if cb.call_id else None
        return CallbackView(id=cb.id, created_at=_aware(cb.created_at), updated_at=_aware(cb.updated_at),
                            number=cb.number, reason=cb.reason, topic=cb.topic, status=cb.status,
                            notes=cb.notes, assigned_to=cb.assigned_to,
                            call_sid=call.call_sid if call else None, summary=call.summary if call else None)


def create_callback(db: Database, number: str, *, reason: str | None = None, topic: str | None = None,
                    call_sid: str | None = None, synthetic: bool = False) -> int:
    """A new request to call back (the dialog has its own writer; this one serves tools and tests)."""
    with db.session() as s:
        call_id = s.scalar(select(Call.id).where(Call.call_sid == call_sid)) if call_sid else None
        cb = Callback(call_id=call_id, created_at=datetime.now(UTC), number=number, reason=reason,
                      topic=topic, status=CallbackStatus.TODO, synthetic=synthetic)
        s.add(cb)
        s.flush()
        return cb.id
