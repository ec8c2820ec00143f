"""Recording a call as it happens: the call row, its turns and events, its outcome.

Every write is an op (journal_ops.py). In the server it goes through the local journal
(journal.py): durable at once, in the database as soon as it can be, so a database outage never
stops or slows the dialog and loses nothing. Without a journal (tools, some tests) the op is
applied directly in a thread. A failed write is logged, never raised into the call.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from loguru import logger
from sqlalchemy import select

from callbot.store.db import Database
from callbot.store.journal_ops import UNDECIDED_ENDS, Op, apply, stamp
from callbot.store.models import Call
from callbot.store.phone import to_e164
from callbot.store.redaction import redact
from callbot.vocabulary import Outcome

# How long a call's last write may wait to reach the database before the call goes on regardless
# (Twilio's after-stream request reads it; the in-memory decision covers a slower database).
FINISH_WAIT_SECS = 2.0
# Decisions remembered per process for /twilio/after-stream when the database cannot say.
DECISIONS_KEPT = 2000


def utcnow() -> datetime:
    return datetime.now(UTC)


def hash_number(secret: bytes, number: str | None) -> str | None:
    """Keyed hash of the E.164 form: repeat callers can be counted, and erased whatever form the
    number is given in, without keeping it."""
    number = to_e164(number)
    if not number:
        return None
    return hmac.new(secret, number.encode(), hashlib.sha256).hexdigest()[:32]


def mask_number(number: str | None) -> str | None:
    """'+33612345678' → '+33 6 •• •• •• 78': enough for an agent to recognise a caller."""
    digits = to_e164(number)
    if not digits:
        return None
    if len(digits) < 6:
        return "•" * len(digits)
    return f"{digits[:4]}••••••{digits[-2:]}"


@dataclass(frozen=True)
class Decision:
    """What a call decided at its end, as /twilio/after-stream needs it."""

    outcome: str
    transfer_kind: str | None = None
    transfer_target: str | None = None


_decisions: OrderedDict[str, Decision] = OrderedDict()


def remember_decision(call_sid: str, decision: Decision) -> None:
    _decisions[call_sid] = decision
    _decisions.move_to_end(call_sid)
    while len(_decisions) > DECISIONS_KEPT:
        _decisions.popitem(last=False)


def decided(call_sid: str) -> Decision | None:
    """This process's memory of the call's decision (None: not a call of this process, or undecided)."""
    return _decisions.get(call_sid)


def read_decision(db: Database, call_sid: str) -> Decision | None:
    """The call's decision as the database has it; None when the call is not on record."""
    with db.session() as s:
        row = s.execute(select(Call.outcome, Call.transfer_kind, Call.transfer_target)
                        .where(Call.call_sid == call_sid)).first()
    return Decision(*row) if row is not None else None


async def write(db: Database, op: Op) -> int | None:
    """Record one op; returns its journal sequence number (None when applied directly or failed)."""
    journal = db.journal
    if journal is not None:
        try:
            return await journal.submit(op)
        except OSError as e:  # disk full, directory gone: try the database itself
            logger.error("journal write failed ({}): writing {} directly", e, op.get("op"))

    def work() -> None:
        with db.session() as s:
            apply(s, op)

    try:
        await asyncio.to_thread(work)
    except Exception as e:  # noqa: BLE001 (a record must never stop the call)
        logger.error("call record {} for {} not written: {}", op.get("op"), op.get("call_sid"),
                     type(e).__name__)
    return None


async def write_soon(db: Database, op: Op, wait_secs: float = FINISH_WAIT_SECS) -> None:
    """Record an op others read at once (the queue, the outcome): wait a little for the database,
    never longer than `wait_secs`, and not at all while it is known to be away."""
    seq = await write(db, op)
    if seq is not None and db.journal is not None:
        await db.journal.wait_applied(seq, wait_secs)


class CallRecorder:
    """Writes one call's record. Methods are coroutines that never raise; order is kept."""

    def __init__(self, db: Database, call_sid: str, *, worker: str | None = None) -> None:
        self.db = db
        self.call_sid = call_sid
        self.worker = worker or (db.journal.worker if db.journal else None)
        self._seq = 0
        self._lock = asyncio.Lock()  # keeps the writes of one call in order

    async def _write(self, name: str, **fields: Any) -> int | None:
        op = {"op": name, "call_sid": self.call_sid, "at": stamp(), **fields}
        async with self._lock:
            return await write(self.db, op)

    # -- call lifecycle -------------------------------------------------------------------
    async def open(self, *, stream_sid: str | None, caller: str | None, called: str | None,
                   secret: bytes) -> None:
        await self._write("stream.start", stream_sid=stream_sid, caller_hash=hash_number(secret, caller),
                          caller_masked=mask_number(caller), called_number=called, worker=self.worker)

    async def event(self, kind: str, data: dict[str, Any] | None = None) -> None:
        await self._write("event", kind=kind, data=data)

    async def turn(self, speaker: str, text: str, **fields: Any) -> int | None:
        """Store a turn; returns its number in the call (to attach the response latency later)."""
        self._seq += 1
        await self._write("turn", seq=self._seq, speaker=speaker, text=redact(text), fields=fields)
        return self._seq

    async def set_turn_latency(self, turn_id: int, response_ms: float) -> None:
        await self._write("turn.latency", seq=turn_id, response_ms=response_ms)

    async def update(self, **fields: Any) -> None:
        """Update columns of the call row (topic, intent, summary, ...)."""
        if "summary" in fields:
            fields["summary"] = redact(fields["summary"])
        await self._write("update", fields=fields)

    async def add_callback(self, number: str, reason: str | None, topic: str | None) -> None:
        # The number stays in clear (the agent calls it back), in E.164 so erasure finds it.
        await self._write("callback", number=to_e164(number) or number, reason=redact(reason), topic=topic)

    async def finish(self, outcome: str, **fields: Any) -> None:
        """Close the call with its outcome (an undecided end never overwrites a decided outcome)."""
        if "summary" in fields:
            fields["summary"] = redact(fields["summary"])
        if outcome not in UNDECIDED_ENDS:
            remember_decision(self.call_sid, Decision(outcome, fields.get("transfer_kind"),
                                                      fields.get("transfer_target")))
        seq = await self._write("finish", outcome=outcome, fields=fields)
        journal = self.db.journal
        if seq is not None and journal is not None and not await journal.wait_applied(seq, FINISH_WAIT_SECS):
            logger.warning("call {}: outcome kept in the journal until the database is back", self.call_sid)
        logger.info("call {} ended: {}", self.call_sid, outcome)


# A call answered moments before this process started may still be on its way to another process.
ANSWER_GRACE_SECS = 120


def interrupt_orphaned_calls(db: Database, live_workers: set[str], started_before: datetime) -> list[str]:
    """Calls left `in_progress` by a process that died (crash, SIGKILL) become `interrupted`.

    A call whose media stream belongs to a live process (its journal is locked) is left alone.
    Returns the CallSids changed.
    """
    from callbot.store.models import CallEvent

    changed: list[str] = []
    with db.session() as s:
        rows = s.execute(select(Call.id, Call.call_sid, Call.started_at)
                         .where(Call.outcome == Outcome.IN_PROGRESS, Call.started_at < started_before)).all()
        for call_id, sid, started in rows:
            starts = s.scalars(select(CallEvent.data).where(CallEvent.call_id == call_id,
                                                            CallEvent.kind == "stream.start")).all()
            workers = {(d or {}).get("worker") for d in starts}
            if workers & live_workers:
                continue
            started = started if started.tzinfo else started.replace(tzinfo=UTC)
            if not starts and (started_before - started).total_seconds() < ANSWER_GRACE_SECS:
                continue
            apply(s, {"op": "finish", "call_sid": sid, "at": stamp(), "outcome": Outcome.INTERRUPTED,
                      "fields": {}, "event": "call.interrupted"})
            changed.append(sid)
    if changed:
        logger.warning("{} calls left in progress by a stopped server marked interrupted", len(changed))
    return changed
