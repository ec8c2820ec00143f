"""The writes of a call as plain data ("ops"), and how each is applied to the database.

A call's record is written as a sequence of small JSON-serialisable ops (the call answered, the
stream started, a turn, an event, a callback request, the outcome, …). The same op is applied
directly or replayed later from the local journal (journal.py) after a database outage, so every
op is idempotent: applying it twice leaves the same rows as applying it once. Each op names its
call by CallSid and carries its own time, so a replay writes what happened when it happened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callbot.store.models import Call, Callback, CallEvent, Turn
from callbot.vocabulary import Outcome

Op = dict[str, Any]

# Outcomes that say only "the call stopped"; they never replace an outcome the dialog decided.
UNDECIDED_ENDS = (Outcome.ABANDONED, Outcome.INTERRUPTED)


def utcnow() -> datetime:
    return datetime.now(UTC)


def stamp(at: datetime | None = None) -> str:
    return (at or utcnow()).isoformat()


def _at(op: Op, key: str = "at") -> datetime:
    return datetime.fromisoformat(op[key])


def _call(s: Session, op: Op) -> Call:
    """The call row, created in progress if an earlier op of this call was lost or not yet applied."""
    call = s.scalar(select(Call).where(Call.call_sid == op["call_sid"]))
    if call is None:
        call = Call(call_sid=op["call_sid"], started_at=_at(op), outcome=Outcome.IN_PROGRESS)
        s.add(call)
        s.flush()
    return call


def _event_once(s: Session, call: Call, kind: str, at: datetime, data: dict | None) -> None:
    exists = s.scalar(select(CallEvent.id).where(CallEvent.call_id == call.id, CallEvent.kind == kind,
                                                 CallEvent.at == at).limit(1))
    if exists is None:
        s.add(CallEvent(call_id=call.id, at=at, kind=kind, data=data))


def _answered(s: Session, op: Op) -> None:
    call = _call(s, op)
    for key in ("caller_hash", "caller_masked", "called_number"):
        if op.get(key) is not None and getattr(call, key) is None:
            setattr(call, key, op[key])


def _stream_start(s: Session, op: Op) -> None:
    call = _call(s, op)
    call.stream_sid = call.stream_sid or op.get("stream_sid")
    # The webhook recorded who calls; a socket never rewrites it (issue 12).
    if call.caller_hash is None:
        call.caller_hash, call.caller_masked = op.get("caller_hash"), op.get("caller_masked")
    call.called_number = call.called_number or op.get("called_number")
    data = {"stream_sid": op.get("stream_sid"), "worker": op.get("worker")}
    _event_once(s, call, "stream.start", _at(op), data)


def _event(s: Session, op: Op) -> None:
    _event_once(s, _call(s, op), op["kind"], _at(op), op.get("data"))


def _turn(s: Session, op: Op) -> None:
    call = _call(s, op)
    turn = s.scalar(select(Turn).where(Turn.call_id == call.id, Turn.seq == op["seq"]))
    if turn is None:
        s.add(Turn(call_id=call.id, seq=op["seq"], speaker=op["speaker"], text=op["text"], at=_at(op),
                   **op.get("fields", {})))


def _turn_latency(s: Session, op: Op) -> None:
    call = _call(s, op)
    turn = s.scalar(select(Turn).where(Turn.call_id == call.id, Turn.seq == op["seq"]))
    if turn is not None:
        turn.response_ms = op["response_ms"]


def _update(s: Session, op: Op) -> None:
    call = _call(s, op)
    for key, value in op["fields"].items():
        setattr(call, key, value)


def _callback(s: Session, op: Op) -> None:
    call = _call(s, op)
    at = _at(op)
    exists = s.scalar(select(Callback.id).where(Callback.call_id == call.id, Callback.created_at == at,
                                                Callback.number == op["number"]).limit(1))
    if exists is None:
        s.add(Callback(call_id=call.id, created_at=at, number=op["number"], reason=op.get("reason"),
                       topic=op.get("topic")))


def _finish(s: Session, op: Op) -> None:
    call = _call(s, op)
    outcome = op["outcome"]
    undecided = call.outcome == Outcome.IN_PROGRESS or call.outcome in UNDECIDED_ENDS
    if not undecided and (outcome in UNDECIDED_ENDS or op.get("if_undecided")):
        return
    call.outcome = outcome
    call.ended_at = call.ended_at or _at(op)
    for key, value in op.get("fields", {}).items():
        setattr(call, key, value)
    _event_once(s, call, op.get("event", "call.end"), _at(op), {"outcome": outcome})


def _queued(s: Session, op: Op) -> None:
    call = _call(s, op)
    if call.queued_at is None:
        call.queued_at = _at(op)
    _event_once(s, call, "queue.enter", _at(op), {"queue": op.get("queue")})


APPLY = {
    "call.answered": _answered,
    "stream.start": _stream_start,
    "event": _event,
    "turn": _turn,
    "turn.latency": _turn_latency,
    "update": _update,
    "callback": _callback,
    "finish": _finish,
    "queued": _queued,
}


def apply(s: Session, op: Op) -> None:
    """Apply one op inside an open transaction (idempotent)."""
    handler = APPLY.get(op.get("op", ""))
    if handler is None:
        raise ValueError(f"unknown journal op {op.get('op')!r}")
    handler(s, op)
