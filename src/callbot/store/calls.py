"""Recording a call as it happens: the call row, its turns and events, its outcome.

Every write is committed at once so that a call whose socket dies mid-way is still on record;
the database work runs in a thread so the audio pipeline's event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from loguru import logger
from sqlalchemy import select

from callbot.store.db import Database
from callbot.store.models import Call, Callback, CallEvent, Turn
from callbot.store.phone import to_e164
from callbot.store.redaction import redact
from callbot.vocabulary import Outcome


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


class CallRecorder:
    """Writes one call's record. Methods are coroutines; each commits before returning."""

    def __init__(self, db: Database, call_sid: str) -> None:
        self.db = db
        self.call_sid = call_sid
        self.call_id: int | None = None
        self._seq = 0
        self._lock = asyncio.Lock()  # keeps the turns of one call in order

    async def _run(self, fn, *args: Any) -> Any:  # noqa: ANN401
        async with self._lock:
            return await asyncio.to_thread(fn, *args)

    # -- call lifecycle -------------------------------------------------------------------
    async def open(self, *, stream_sid: str | None, caller: str | None, called: str | None,
                   secret: bytes) -> None:
        def work() -> int:
            with self.db.session() as s:
                call = s.scalar(select(Call).where(Call.call_sid == self.call_sid))
                if call is None:
                    call = Call(call_sid=self.call_sid, started_at=utcnow(), outcome=Outcome.IN_PROGRESS)
                    s.add(call)
                call.stream_sid = stream_sid
                # The webhook recorded who calls; a socket never rewrites it (issue 12).
                if call.caller_hash is None:
                    call.caller_hash = hash_number(secret, caller)
                    call.caller_masked = mask_number(caller)
                call.called_number = call.called_number or called
                s.flush()
                s.add(CallEvent(call_id=call.id, at=utcnow(), kind="stream.start",
                                data={"stream_sid": stream_sid}))
                return call.id

        self.call_id = await self._run(work)

    async def event(self, kind: str, data: dict[str, Any] | None = None) -> None:
        if self.call_id is None:
            return

        def work() -> None:
            with self.db.session() as s:
                s.add(CallEvent(call_id=self.call_id, at=utcnow(), kind=kind, data=data))

        await self._run(work)

    async def turn(self, speaker: str, text: str, **fields: Any) -> int | None:
        """Store a turn; returns its id (to attach the response latency later)."""
        if self.call_id is None:
            return None
        self._seq += 1
        seq = self._seq

        def work() -> int:
            with self.db.session() as s:
                t = Turn(call_id=self.call_id, seq=seq, speaker=speaker, text=redact(text), at=utcnow(),
                         **fields)
                s.add(t)
                s.flush()
                return t.id

        return await self._run(work)

    async def set_turn_latency(self, turn_id: int, response_ms: float) -> None:
        def work() -> None:
            with self.db.session() as s:
                t = s.get(Turn, turn_id)
                if t is not None:
                    t.response_ms = response_ms

        await self._run(work)

    async def update(self, **fields: Any) -> None:
        """Update columns of the call row (topic, intent, summary, ...)."""
        if self.call_id is None:
            return
        if "summary" in fields:
            fields["summary"] = redact(fields["summary"])

        def work() -> None:
            with self.db.session() as s:
                call = s.get(Call, self.call_id)
                for k, v in fields.items():
                    setattr(call, k, v)

        await self._run(work)

    async def add_callback(self, number: str, reason: str | None, topic: str | None) -> None:
        def work() -> None:
            with self.db.session() as s:
                # The number stays in clear (the agent calls it back), in E.164 so erasure finds it.
                s.add(Callback(call_id=self.call_id, created_at=utcnow(), number=to_e164(number) or number,
                               reason=redact(reason), topic=topic))

        await self._run(work)

    async def finish(self, outcome: str, **fields: Any) -> None:
        """Close the call with its outcome (never overwrites a decided outcome with abandoned)."""
        if self.call_id is None:
            return
        if "summary" in fields:
            fields["summary"] = redact(fields["summary"])

        def work() -> str:
            with self.db.session() as s:
                call = s.get(Call, self.call_id)
                if call.outcome != Outcome.IN_PROGRESS and outcome == Outcome.ABANDONED:
                    return call.outcome
                call.outcome = outcome
                call.ended_at = call.ended_at or utcnow()
                for k, v in fields.items():
                    setattr(call, k, v)
                s.add(CallEvent(call_id=call.id, at=utcnow(), kind="call.end", data={"outcome": outcome}))
                return outcome

        final = await self._run(work)
        logger.info("call {} ended: {}", self.call_sid, final)
