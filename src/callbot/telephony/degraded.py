"""The call's arrival and its one stream, when the database may be away.

Normally both are decided in the database (store/call_streams.py: /twilio/voice idempotent per
CallSid, one stream per call token, across processes). When the database is locked or down the
caller must still be answered: the arrival goes to the journal and the stream is claimed in this
process's memory (a token still opens one stream here; across processes the token's lifetime is
the limit until the database is back).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from loguru import logger

from callbot.store.call_streams import Arrival, ClaimedCall, claim_stream, record_arrival
from callbot.store.calls import hash_number, mask_number, write
from callbot.store.db import Database
from callbot.store.journal_ops import stamp

DB_WAIT_SECS = 2.0  # the caller hears nothing while this waits: short, then the journal
CLAIMS_KEPT = 5000
_claimed_here: OrderedDict[str, None] = OrderedDict()


def _database_usable(db: Database) -> bool:
    """False while the journal knows the database is away (no point making the caller wait)."""
    journal = db.journal
    return journal is None or (journal.healthy and not journal.backlog)


async def arrival(db: Database, secret: bytes, call_sid: str, caller: str, called: str) -> Arrival:
    if _database_usable(db):
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(record_arrival, db, secret, call_sid, caller, called), DB_WAIT_SECS)
        except Exception as e:  # noqa: BLE001 (locked, down, slow: answer from memory)
            logger.error("call {} answered without the database ({})", call_sid, type(e).__name__)
    await write(db, {"op": "call.answered", "call_sid": call_sid, "at": stamp(),
                     "caller_hash": hash_number(secret, caller), "caller_masked": mask_number(caller),
                     "called_number": called})
    return Arrival.NEW


async def claim(db: Database, call_sid: str, stream_sid: str) -> ClaimedCall | None:
    """The call bound to this stream; None when its token was already used (or the call is over).

    Without the database, `ClaimedCall(caller_hash=None, …)`: the caller cannot be checked."""
    if _database_usable(db):
        try:
            claimed = await asyncio.wait_for(asyncio.to_thread(claim_stream, db, call_sid, stream_sid),
                                             DB_WAIT_SECS)
            if claimed is not None:
                _remember(call_sid)
            return claimed
        except Exception as e:  # noqa: BLE001
            logger.error("stream of call {} claimed without the database ({})", call_sid, type(e).__name__)
    if call_sid in _claimed_here:
        return None
    _remember(call_sid)
    return ClaimedCall(caller_hash=None, called_number=None)


def _remember(call_sid: str) -> None:
    _claimed_here[call_sid] = None
    while len(_claimed_here) > CLAIMS_KEPT:
        _claimed_here.popitem(last=False)
