"""The incoming call's record and its one media stream, enforced in the database so that several
server processes agree: `/twilio/voice` is idempotent per CallSid, and a call's media token opens
exactly one stream (the first socket claims the call; any other, or a replay, is refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from callbot.store.calls import hash_number, mask_number
from callbot.store.db import Database
from callbot.store.models import Call
from callbot.vocabulary import Outcome


class Arrival(StrEnum):
    NEW = "new"  # first webhook for this CallSid
    RETRY = "retry"  # Twilio asked again before any stream opened: answer the same way
    SPENT = "spent"  # the call already streamed or ended: a replay gets a hang-up


def record_arrival(db: Database, secret: bytes, call_sid: str, caller: str | None,
                   called: str | None) -> Arrival:
    """Record the call the webhook announces (caller kept only as keyed hash and masked form)."""
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == call_sid))
        if call is not None:
            return Arrival.RETRY if call.stream_sid is None and call.outcome == Outcome.IN_PROGRESS \
                else Arrival.SPENT
    try:
        with db.session() as s:
            s.add(Call(call_sid=call_sid, started_at=datetime.now(UTC), outcome=Outcome.IN_PROGRESS,
                       caller_hash=hash_number(secret, caller), caller_masked=mask_number(caller),
                       called_number=called))
    except IntegrityError:  # another process recorded the same CallSid a moment ago
        return Arrival.RETRY
    return Arrival.NEW


@dataclass(frozen=True)
class ClaimedCall:
    caller_hash: str | None
    called_number: str | None


def claim_stream(db: Database, call_sid: str, stream_sid: str) -> ClaimedCall | None:
    """Bind the call to this stream, once: None when the call is unknown, over, or already has a
    stream (a reused token). One conditional UPDATE, so two sockets racing cannot both win."""
    with db.session() as s:
        won = s.execute(
            update(Call)
            .where(Call.call_sid == call_sid, Call.stream_sid.is_(None), Call.outcome == Outcome.IN_PROGRESS)
            .values(stream_sid=stream_sid)
        ).rowcount
        if not won:
            return None
        call = s.scalar(select(Call).where(Call.call_sid == call_sid))
        return ClaimedCall(caller_hash=call.caller_hash, called_number=call.called_number)
