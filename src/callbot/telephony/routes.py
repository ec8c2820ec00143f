"""Twilio's entry points: the incoming-call webhook, the media socket, the after-stream action."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request, Response, WebSocket, WebSocketDisconnect
from loguru import logger
from sqlalchemy import select

from callbot.app_deps import BusDep, RuntimeDep, SettingsDep
from callbot.store.call_streams import Arrival, claim_stream, record_arrival
from callbot.store.calls import hash_number
from callbot.store.models import Call, CallEvent
from callbot.telephony import twiml
from callbot.telephony.signature import verify_twilio_signature
from callbot.telephony.tokens import TokenError, check_call_token, make_call_token
from callbot.vocabulary import Outcome, TransferReason

router = APIRouter()

HANDSHAKE_TIMEOUT_SECS = 10.0
# Twilio closes a <Connect><Stream> with normal closure; 1008 tells a stranger why it was refused.
POLICY_VIOLATION = 1008


def xml(body: str) -> Response:
    return Response(content=body, media_type="application/xml")


@router.post("/twilio/voice", dependencies=[Depends(verify_twilio_signature)])
async def incoming_call(request: Request, settings: SettingsDep, runtime: RuntimeDep) -> Response:
    form = await request.form()
    call_sid = str(form.get("CallSid") or "")
    caller = str(form.get("From") or "")
    called = str(form.get("To") or "")
    if not call_sid:
        return Response("missing CallSid", status_code=400)

    arrival = await asyncio.to_thread(record_arrival, runtime.db, runtime.secret, call_sid, caller, called)
    if arrival == Arrival.SPENT:
        # A replayed webhook of a call that already streamed or ended: no new token.
        logger.warning("replayed /twilio/voice for call {} that already streamed: hung up", call_sid)
        return xml(twiml.hangup())
    if not runtime.speech_ready:
        # The bot cannot speak (models missing): never leave a resident unanswered.
        logger.error("call {} arrived but speech is not loaded: sent to the human queue", call_sid)
        return xml(twiml.enqueue(settings.public_url, runtime.dialog.default_queue()))
    token = make_call_token(runtime.secret, call_sid, settings.call_token_ttl_secs)
    params = {"caller": caller, "called": called, "token": token}
    return xml(twiml.connect_stream(settings.public_url, params))


@router.post("/twilio/after-stream", dependencies=[Depends(verify_twilio_signature)])
async def after_stream(request: Request, settings: SettingsDep, runtime: RuntimeDep, bus: BusDep) -> Response:
    """The <Connect action>: the stream is over and the caller is still on the line."""
    form = await request.form()
    call_sid = str(form.get("CallSid") or "")

    def decide() -> tuple[str, str | None, str | None]:
        with runtime.db.session() as s:
            call = s.scalar(select(Call).where(Call.call_sid == call_sid))
            if call is None:
                return "unknown", None, None
            if call.outcome == Outcome.IN_PROGRESS:
                # The bot stopped without deciding (a fault): hand the caller to people.
                call.outcome = Outcome.TRANSFERRED
                call.transfer_kind = "queue"
                call.transfer_target = runtime.dialog.default_queue()
                call.transfer_reason = TransferReason.BOT_FAULT
                call.ended_at = datetime.now(UTC)
                s.add(CallEvent(call_id=call.id, at=datetime.now(UTC), kind="stream.ended_undecided"))
            if call.outcome == Outcome.TRANSFERRED and call.transfer_kind == "queue":
                call.queued_at = datetime.now(UTC)
                s.add(CallEvent(call_id=call.id, at=call.queued_at, kind="queue.enter",
                                data={"queue": call.transfer_target}))
                return "queue", call.transfer_target, call.call_sid
            if call.outcome == Outcome.TRANSFERRED and call.transfer_kind == "dial":
                return "dial", call.transfer_target, call.call_sid
            return "hangup", None, call.call_sid

    verb, target, sid = await asyncio.to_thread(decide)
    if verb == "queue":
        await bus.publish("call.queued", {"call_sid": sid, "queue": target})
        return xml(twiml.enqueue(settings.public_url, target))
    if verb == "dial":
        return xml(twiml.dial(target))
    if verb == "unknown":
        logger.warning("after-stream for an unknown call {}", call_sid)
        return xml(twiml.hangup(runtime.dialog.goodbye_text()))
    # The bot already said goodbye in its own voice; this only ends the call.
    return xml(twiml.hangup())


async def read_handshake(ws: WebSocket) -> dict:
    """Read Twilio's `connected` then `start` messages; return the `start` payload."""
    for _ in range(2):
        raw = await asyncio.wait_for(ws.receive_text(), HANDSHAKE_TIMEOUT_SECS)
        try:
            msg = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ValueError(f"malformed JSON in handshake: {e}") from None
        if not isinstance(msg, dict):
            raise ValueError("handshake message is not a JSON object")
        if msg.get("event") == "start":
            start = msg.get("start")
            if not isinstance(start, dict) or not start.get("callSid") or not msg.get("streamSid"):
                raise ValueError("start message without callSid/streamSid")
            start.setdefault("streamSid", msg["streamSid"])
            return start
        if msg.get("event") != "connected":
            raise ValueError(f"unexpected {msg.get('event')!r} before start")
    raise ValueError("no start message")


@router.websocket("/twilio/media")
async def media_socket(ws: WebSocket, runtime: RuntimeDep, bus: BusDep) -> None:
    from callbot.pipeline.call_session import run_call
    from callbot.pipeline.playback import PlaybackMarks
    from callbot.telephony.serializer import TolerantTwilioSerializer

    await ws.accept()
    try:
        start = await read_handshake(ws)
    except (ValueError, TimeoutError) as e:
        logger.warning("media socket refused: {}", e)
        await ws.close(code=POLICY_VIOLATION, reason=str(e)[:120])
        return
    except WebSocketDisconnect:
        return
    params = start.get("customParameters") or {}
    call_sid = start["callSid"]
    try:
        check_call_token(runtime.secret, call_sid, params.get("token"))
    except TokenError as e:
        logger.warning("media socket for {} refused: {}", call_sid, e)
        await ws.close(code=POLICY_VIOLATION, reason="invalid call token")
        return
    claimed = await asyncio.to_thread(claim_stream, runtime.db, call_sid, start["streamSid"])
    if claimed is None:
        logger.warning("media socket for {} refused: token already used, or call unknown or over", call_sid)
        await ws.close(code=POLICY_VIOLATION, reason="call token already used")
        return
    # Who calls is what the webhook recorded: the socket's `caller` is only used (for the dialog)
    # when it is that same number.
    caller = params.get("caller")
    if hash_number(runtime.secret, caller) != claimed.caller_hash:
        caller = None
    if not runtime.speech_ready:
        await ws.close(code=1011, reason="speech models not loaded")
        return
    serializer = TolerantTwilioSerializer(start["streamSid"], call_sid)
    await run_call(ws, runtime=runtime, bus=bus, serializer=serializer,
                   marks=PlaybackMarks(make=serializer.mark, echo=serializer.mark_echo),
                   call_sid=call_sid, stream_sid=start["streamSid"],
                   caller=caller, called=claimed.called_number)
