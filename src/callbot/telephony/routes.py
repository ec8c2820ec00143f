"""Twilio's entry points: the incoming-call webhook, the media socket, the after-stream action."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Depends, Request, Response, WebSocket, WebSocketDisconnect
from loguru import logger
from starlette.websockets import WebSocketState

from callbot.app_deps import BusDep, RuntimeDep, SettingsDep
from callbot.store.call_streams import Arrival
from callbot.store.calls import hash_number
from callbot.telephony import degraded, overflow, twiml
from callbot.telephony.admission import AdmissionDep, client_ip
from callbot.telephony.after_stream import after_stream_decision
from callbot.telephony.signature import verify_twilio_signature
from callbot.telephony.tokens import TokenError, check_call_token, make_call_token

router = APIRouter()

HANDSHAKE_TIMEOUT_SECS = 10.0
# Twilio closes a <Connect><Stream> with normal closure; 1008 tells a stranger why it was refused.
POLICY_VIOLATION = 1008


def xml(body: str) -> Response:
    return Response(content=body, media_type="application/xml")


@router.post("/twilio/voice", dependencies=[Depends(verify_twilio_signature)])
async def incoming_call(request: Request, settings: SettingsDep, runtime: RuntimeDep,
                        admission: AdmissionDep, bus: BusDep) -> Response:
    form = await request.form()
    call_sid = str(form.get("CallSid") or "")
    caller = str(form.get("From") or "")
    called = str(form.get("To") or "")
    if not call_sid:
        return Response("missing CallSid", status_code=400)
    # In the database when it answers in time, else through the journal (degraded.py).
    if await degraded.arrival(runtime.db, runtime.secret, call_sid, caller, called) == Arrival.SPENT:
        # A replayed webhook of a call that already streamed or ended: no new token.
        logger.warning("replayed /twilio/voice for call {} that already streamed: hung up", call_sid)
        return xml(twiml.hangup())
    why = "speech models not loaded" if not runtime.speech_ready else admission.refusal()
    if why is not None:
        # The bot cannot take this call well: people take it, never a silent line.
        logger.warning("call {} sent straight to people: {}", call_sid, why)
        body, queue = await overflow.to_people(runtime.db, runtime.dialog, settings.public_url, call_sid, why,
                                               offer_callback=runtime.speech_ready)
        if queue is not None:
            await bus.publish("call.queued", {"call_sid": call_sid, "queue": queue})
        return xml(body)
    admission.reserve(call_sid)
    token = make_call_token(runtime.secret, call_sid, settings.call_token_ttl_secs)
    params = {"caller": caller, "called": called, "token": token}
    return xml(twiml.connect_stream(settings.public_url, params))


@router.post("/twilio/overflow-callback", dependencies=[Depends(verify_twilio_signature)])
async def overflow_callback(request: Request, runtime: RuntimeDep) -> Response:
    """The keypad answer to the out-of-hours callback offer made instead of the bot."""
    form = await request.form()
    return xml(await overflow.callback_answer(runtime.db, runtime.dialog, str(form.get("CallSid") or ""),
                                              str(form.get("From") or ""), str(form.get("Digits") or "")))


@router.post("/twilio/after-stream", dependencies=[Depends(verify_twilio_signature)])
async def after_stream(request: Request, settings: SettingsDep, runtime: RuntimeDep, bus: BusDep,
                       admission: AdmissionDep) -> Response:
    """The <Connect action>: the stream is over and the caller is still on the line."""
    form = await request.form()
    call_sid = str(form.get("CallSid") or "")
    admission.end(call_sid)  # a stream that never came no longer holds a place
    verb, target = await after_stream_decision(runtime.db, call_sid, runtime.dialog.default_queue())
    if verb == "queue":
        await bus.publish("call.queued", {"call_sid": call_sid, "queue": target})
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
        message = await asyncio.wait_for(ws.receive(), HANDSHAKE_TIMEOUT_SECS)
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        raw = message.get("text")
        if raw is None:
            raise ValueError("binary message before start")
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
async def media_socket(ws: WebSocket, runtime: RuntimeDep, bus: BusDep, admission: AdmissionDep) -> None:
    ip = client_ip(ws)
    if not admission.open_socket(ip):
        logger.warning("media socket refused: too many sockets from one address")
        await ws.close(code=POLICY_VIOLATION, reason="too many sockets")
        return
    try:
        await ws.accept()
        admission.guard(ws)
        await _media_call(ws, runtime, bus, admission)
    finally:
        admission.close_socket(ip)


async def _media_call(ws: WebSocket, runtime: RuntimeDep, bus: BusDep, admission: AdmissionDep) -> None:
    from callbot.pipeline.call_session import run_call
    from callbot.pipeline.playback import PlaybackMarks
    from callbot.telephony.serializer import TolerantTwilioSerializer

    try:
        start = await read_handshake(ws)
    except (ValueError, TimeoutError) as e:
        logger.warning("media socket refused: {}", e)
        if ws.client_state != WebSocketState.DISCONNECTED:
            await ws.close(code=POLICY_VIOLATION, reason=str(e)[:120])
        return
    except WebSocketDisconnect:
        return
    params = start.get("customParameters") or {}
    call_sid = str(start["callSid"])
    try:
        check_call_token(runtime.secret, call_sid, params.get("token"))
    except TokenError as e:
        logger.warning("media socket for {} refused: {}", call_sid, e)
        await ws.close(code=POLICY_VIOLATION, reason="invalid call token")
        return
    claimed = await degraded.claim(runtime.db, call_sid, start["streamSid"])
    if claimed is None:
        logger.warning("media socket for {} refused: token already used, or call unknown or over", call_sid)
        await ws.close(code=POLICY_VIOLATION, reason="call token already used")
        return
    # Who calls is what the webhook recorded: the socket's `caller` is only used (for the dialog)
    # when it is that same number (unchecked only while the database is away).
    caller = params.get("caller")
    if claimed.caller_hash is not None and hash_number(runtime.secret, caller) != claimed.caller_hash:
        caller = None
    if not runtime.speech_ready:
        await ws.close(code=1011, reason="speech models not loaded")
        return
    serializer = TolerantTwilioSerializer(start["streamSid"], call_sid)
    admission.begin(call_sid)
    try:
        await run_call(ws, runtime=runtime, bus=bus, serializer=serializer,
                       marks=PlaybackMarks(make=serializer.mark, echo=serializer.mark_echo),
                       call_sid=call_sid, stream_sid=start["streamSid"],
                       caller=caller, called=claimed.called_number or params.get("called"),
                       on_wrap_up=lambda wrap_up: admission.on_wrap_up(call_sid, wrap_up))
    finally:
        admission.end(call_sid)
