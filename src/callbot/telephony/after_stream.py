"""What /twilio/after-stream does with a caller still on the line once the bot's stream is over.

The call's decision comes from this process's memory first (the call ran here), else from the
database; when neither can say (database down, the call ran elsewhere), the caller goes to the
default human queue. A bot that stopped without deciding (fault, socket error, shutdown) also
hands the caller to people. The outcome is written through the journal: never lost, never waited on.
"""

from __future__ import annotations

import asyncio

from loguru import logger

from callbot.store.calls import Decision, decided, read_decision, remember_decision, write, write_soon
from callbot.store.db import Database
from callbot.store.journal_ops import UNDECIDED_ENDS, stamp
from callbot.vocabulary import Outcome, TransferReason

READ_TIMEOUT_SECS = 3.0  # Twilio waits 15 s for the webhook; the caller hears nothing meanwhile


async def after_stream_decision(db: Database, call_sid: str, default_queue: str) -> tuple[str, str | None]:
    """Returns (verb, target): "queue" / "dial" / "hangup" / "unknown"."""
    decision = decided(call_sid)
    known = decision is not None
    if decision is None:
        try:
            decision = await asyncio.wait_for(asyncio.to_thread(read_decision, db, call_sid),
                                              READ_TIMEOUT_SECS)
            known = decision is not None
        except Exception as e:  # noqa: BLE001 (database down or slow: the caller must not wait)
            logger.error("after-stream for {}: database unavailable ({}), caller sent to people",
                         call_sid, type(e).__name__)
            known = True  # Twilio only asks for a call it has: not a stranger
    if not known:
        return "unknown", None
    at = stamp()
    if decision is None or decision.outcome == Outcome.IN_PROGRESS or decision.outcome in UNDECIDED_ENDS:
        # The bot stopped without deciding: people take over.
        decision = Decision(Outcome.TRANSFERRED, "queue", default_queue)
        remember_decision(call_sid, decision)
        await write(db, {"op": "finish", "call_sid": call_sid, "at": at, "outcome": Outcome.TRANSFERRED,
                         "if_undecided": True, "event": "stream.ended_undecided",
                         "fields": {"transfer_kind": "queue", "transfer_target": default_queue,
                                    "transfer_reason": TransferReason.BOT_FAULT}})
    if decision.outcome == Outcome.TRANSFERRED and decision.transfer_kind == "queue":
        target = decision.transfer_target or default_queue
        await write_soon(db, {"op": "queued", "call_sid": call_sid, "at": at, "queue": target})
        return "queue", target
    if (decision.outcome == Outcome.TRANSFERRED and decision.transfer_kind == "dial"
            and decision.transfer_target):
        return "dial", decision.transfer_target
    return "hangup", None
