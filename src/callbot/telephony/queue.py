"""Twilio's human-queue side: what a waiting caller hears, how they left the queue, the agent's
phone (``<Dial><Queue>``) and the whisper the agent hears before being connected.

Every route checks X-Twilio-Signature (when an auth token is set) and answers TwiML with
absolute URLs built from ``Settings.public_url``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request, Response
from loguru import logger
from starlette.concurrency import run_in_threadpool
from twilio.twiml.voice_response import Dial, Queue, VoiceResponse

from callbot import metrics
from callbot.app_deps import BusDep, DatabaseDep, RuntimeDep, SettingsDep
from callbot.runtime import Runtime
from callbot.store import handoffs
from callbot.telephony.signature import verify_twilio_signature
from callbot.telephony.twiml import LANGUAGE, absolute

router = APIRouter()

WAIT_PAUSE_SECS = 20
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
AGENT_NAME = re.compile(r"^[\w.@-]{1,80}$")
DEFAULT_QUEUE = "accueil"


def xml(body: str) -> Response:
    return Response(content=body, media_type="application/xml")


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def minutes_phrase(seconds: int | None) -> str:
    """"attente 2 minutes", "attente moins d'une minute" (what the agent hears)."""
    if not seconds or seconds < 60:
        return "attente moins d'une minute"
    minutes = round(seconds / 60)
    return f"attente {minutes} minute{'s' if minutes > 1 else ''}"


def wait_message(position: int | None, first: bool) -> str:
    if position == 1:
        where = "Vous êtes le prochain appel."
    elif position:
        where = f"Vous êtes en position {position} dans la file d'attente."
    else:
        where = ""
    if first:
        intro = "Merci de patienter, un agent de la mairie va vous répondre dans quelques instants."
        return f"{intro} {where}".strip()
    return (where + " Merci de patienter, nous allons vous répondre.").strip()


def _default_queue(runtime: Runtime | None) -> str:
    dialog = getattr(runtime, "dialog", None)
    try:
        return dialog.default_queue() if dialog is not None else DEFAULT_QUEUE
    except Exception:  # noqa: BLE001 - an unusable flow must not leave an agent without a queue
        return DEFAULT_QUEUE


@router.post("/twilio/queue-wait", dependencies=[Depends(verify_twilio_signature)])
async def queue_wait(request: Request, settings: SettingsDep, db: DatabaseDep) -> Response:
    """Enqueue waitUrl: Twilio plays this in a loop while the caller waits."""
    form = await request.form()
    call_sid = str(form.get("CallSid") or "")
    position = _int(form.get("QueuePosition"))
    if position is None and call_sid:
        position = await run_in_threadpool(handoffs.queue_position, db, call_sid)
    queue_time = _int(form.get("QueueTime")) or 0
    first = queue_time < WAIT_PAUSE_SECS
    response = VoiceResponse()
    response.say(wait_message(position, first), language=LANGUAGE)
    response.pause(length=WAIT_PAUSE_SECS)
    response.redirect(absolute(settings.public_url, "/twilio/queue-wait"), method="POST")
    return xml(str(response))


@router.post("/twilio/queue-result", dependencies=[Depends(verify_twilio_signature)])
async def queue_result(request: Request, db: DatabaseDep, bus: BusDep) -> Response:
    """Enqueue action: the caller left the queue (bridged to an agent, hung up, error…)."""
    form = await request.form()
    call_sid = str(form.get("CallSid") or "")
    result = str(form.get("QueueResult") or "").strip().lower()
    queue_time = _int(form.get("QueueTime"))
    if not call_sid or not result:
        return Response("missing CallSid or QueueResult", status_code=400)
    if result not in handoffs.QUEUE_RESULTS:
        logger.warning("unknown QueueResult {!r} for call {}", result, call_sid)
    metrics.queue_left(result if result in handoffs.QUEUE_RESULTS else "other")  # bounded labels
    known = await run_in_threadpool(handoffs.record_queue_result, db, call_sid, result,
                                    queue_time)
    if known:
        await bus.publish("call.updated", {"call_sid": call_sid, "queue_result": result})
    else:
        logger.warning("queue result for an unknown call {}", call_sid)
    response = VoiceResponse()
    if result in ("queue-full", "system-error", "error"):
        response.say("Nous sommes désolés, aucun agent ne peut vous répondre pour le moment. "
                     "Merci de rappeler plus tard.", language=LANGUAGE)
    response.hangup()
    return xml(str(response))


@router.post("/twilio/agent", dependencies=[Depends(verify_twilio_signature)])
async def agent_phone(request: Request, settings: SettingsDep, runtime: RuntimeDep) -> Response:
    """TwiML for an agent's phone line: take the next caller of a queue (``?queue=accueil``)."""
    form = await request.form()
    queue = str(form.get("queue") or request.query_params.get("queue") or _default_queue(runtime))
    agent = str(form.get("agent") or request.query_params.get("agent") or "")
    if not QUEUE_NAME.match(queue):
        return Response("invalid queue name", status_code=400)
    whisper = absolute(settings.public_url, "/twilio/whisper")
    if agent and AGENT_NAME.match(agent):
        whisper += f"?agent={agent}"
    response = VoiceResponse()
    dial = Dial()
    dial.append(Queue(queue, url=whisper, method="POST"))
    response.append(dial)
    return xml(str(response))


@router.post("/twilio/whisper", dependencies=[Depends(verify_twilio_signature)])
async def whisper(request: Request, db: DatabaseDep, bus: BusDep) -> Response:
    """Played to the agent just before the bridge: who is calling about what, how long they waited."""
    form = await request.form()
    call_sid = str(form.get("CallSid") or "")
    queue_time = _int(form.get("QueueTime"))
    agent = request.query_params.get("agent") or ""
    agent = agent if AGENT_NAME.match(agent or "") else "téléphone"
    view = await run_in_threadpool(handoffs.get_handoff, db, call_sid) if call_sid else None
    response = VoiceResponse()
    if view is None:
        logger.warning("whisper for an unknown call {!r}", call_sid)
        response.say("Appel transféré.", language=LANGUAGE)
        return xml(str(response))
    if queue_time is None and view.queued_at is not None:
        queue_time = int(view.wait_secs(datetime.now(UTC)) or 0)
    result = await run_in_threadpool(handoffs.take_call, db, call_sid, agent)
    if result.newly_taken:
        await bus.publish("call.taken", {"call_sid": call_sid, "by": agent})
    response.say(f"Appel transféré : {view.subject}, {minutes_phrase(queue_time)}.", language=LANGUAGE)
    return xml(str(response))
