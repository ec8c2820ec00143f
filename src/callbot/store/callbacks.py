"""Callback requests left by callers (outside opening hours): the agents' to-do list.

The caller's full number lives only here (agents need it to call back); it is shown to agents in
the console and nowhere else (no export, no log). Synchronous functions: run them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, func, select

from callbot.store.db import Database
from callbot.store.models import Call, Callback
from callbot.store.paging import Page, in_key_order, read_page
from callbot.store.phone import to_e164
from callbot.store.redaction import redact
from callbot.vocabulary import CallbackStatus

STATUS_LABELS = {
    CallbackStatus.TODO: "à rappeler",
    CallbackStatus.DONE: "rappelé",
    CallbackStatus.UNREACHABLE: "injoignable",
    CallbackStatus.CLOSED: "clos",
}
# Still needs someone: what "Rappels à traiter" counts.
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


@dataclass
class CallbackFilters:
    """What the agent filters the list by; None means "any"."""

    status: str | None = CallbackStatus.TODO
    assigned_to: str | None = None
    unassigned: bool = False  # only requests nobody has taken on
    number_digits: str | None = None  # digits the number contains (national form, no leading 0)


# Sort keys the list offers (URL value → column); ties broken by id in the same direction.
SORT_COLUMNS = {
    "demande": Callback.created_at,
    "numero": Callback.number,
    "statut": Callback.status,
    "attribution": Callback.assigned_to,
    "modifie": Callback.updated_at,
}
DEFAULT_SORT = ("demande", False)  # oldest first: who has waited longest is called back first


def number_digits(text: str) -> str | None:
    """The digits to look for in stored numbers (+33…), from how an agent types one.

    "06 12 34 56 78", "+33 6 12 34 56 78" and "0033612345678" all give "612345678"; the start
    "06 12" gives "612", an end "5678" stays "5678". None when there is no digit at all."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits.startswith("0033"):
        digits = digits[4:]
    elif digits.startswith("33") and len(digits) >= 11:
        digits = digits[2:]
    elif digits.startswith("0"):  # national form: stored numbers are +33 followed by the rest
        digits = digits[1:]
    return digits or None


def _view(cb: Callback, call_sid: str | None, summary: str | None) -> CallbackView:
    return CallbackView(id=cb.id, created_at=_aware(cb.created_at), updated_at=_aware(cb.updated_at),
                        number=cb.number, reason=cb.reason, topic=cb.topic, status=cb.status, notes=cb.notes,
                        assigned_to=cb.assigned_to, call_sid=call_sid, summary=summary)


def list_callbacks(db: Database, filters: CallbackFilters, *, sort: str = DEFAULT_SORT[0],
                   descending: bool = DEFAULT_SORT[1], page: int = 1, size: int = 50) -> Page[CallbackView]:
    """One page of callback requests matching `filters`, sorted by `sort` (a SORT_COLUMNS key)."""
    keys = select(Callback.id)
    if filters.status:
        keys = keys.where(Callback.status == filters.status)
    if filters.unassigned:
        keys = keys.where(Callback.assigned_to.is_(None))
    elif filters.assigned_to:
        keys = keys.where(Callback.assigned_to == filters.assigned_to)
    if filters.number_digits:
        keys = keys.where(Callback.number.contains(filters.number_digits, autoescape=True))
    column = SORT_COLUMNS.get(sort, SORT_COLUMNS[DEFAULT_SORT[0]])
    if descending:
        keys = keys.order_by(column.desc(), Callback.id.desc())
    else:
        keys = keys.order_by(column.asc(), Callback.id.asc())
    with db.session() as s:
        ids, number, total, more = read_page(s, keys, page, size)
        rows = s.execute(_with_call().where(Callback.id.in_(ids))).all() if ids else []
        items = [_view(cb, sid, summary) for cb, sid, summary in in_key_order(ids, rows, lambda r: r[0].id)]
        return Page(items, number, size, total, more)


def _with_call() -> Select:
    """Callbacks with the call they came from (its CallSid links to the transcript)."""
    return select(Callback, Call.call_sid, Call.summary).outerjoin(Call, Call.id == Callback.call_id)


def get_callback(db: Database, callback_id: int) -> CallbackView | None:
    with db.session() as s:
        row = s.execute(_with_call().where(Callback.id == callback_id)).first()
        return _view(*row) if row is not None else None


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
        return _view(cb, call.call_sid if call else None, call.summary if call else None)


def create_callback(db: Database, number: str, *, reason: str | None = None, topic: str | None = None,
                    call_sid: str | None = None, synthetic: bool = False) -> int:
    """A new request to call back (the dialog has its own writer; this one serves tools and tests)."""
    with db.session() as s:
        call_id = s.scalar(select(Call.id).where(Call.call_sid == call_sid)) if call_sid else None
        cb = Callback(call_id=call_id, created_at=datetime.now(UTC), number=to_e164(number) or number,
                      reason=redact(reason),
                      topic=topic, status=CallbackStatus.TODO, synthetic=synthetic)
        s.add(cb)
        s.flush()
        return cb.id
