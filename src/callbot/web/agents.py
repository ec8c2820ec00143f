"""Agents' console: waiting calls (live), transcripts, pickup, history search (callbacks: callbacks.py).

Pages are rendered on the server and work without JavaScript (a <noscript> refresh keeps the
waiting list current). With JavaScript, ``GET /agents/events`` (Server-Sent Events) pushes the
re-rendered waiting list whenever the event bus says something changed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from callbot.app_deps import BusDep, DatabaseDep
from callbot.store import audit, handoffs
from callbot.store import callbacks as cbstore
from callbot.store.db import Database
from callbot.vocabulary import topic_labels
from callbot.web import callbacks
from callbot.web.deps import AgentUser
from callbot.web.listing import PAGE_SIZE, page_links, page_number
from callbot.web.session import csrf_token_for, verify_csrf
from callbot.web.templating import templates

router = APIRouter()
router.include_router(callbacks.router)

# Events after which the waiting list may look different.
CALL_EVENTS = {"call.queued", "call.updated", "call.ended", "call.taken", "bus.reconnected"}
CALLBACK_EVENTS = {"callback.created", "callback.updated", "bus.reconnected"}
PING_SECS = 15.0
# EventSource reconnects by itself; a bounded stream lets server restarts finish promptly.
STREAM_MAX_SECS = 600.0
COALESCE_SECS = 0.15  # several events in a burst → one re-render
NO_JS_REFRESH_SECS = 15


def _now() -> datetime:
    return datetime.now(UTC)


def _waiting_context(db: Database) -> dict:
    calls = handoffs.waiting_calls(db)
    queues: dict[str, list[handoffs.HandoffView]] = {}
    for call in calls:
        queues.setdefault(call.queue or "?", []).append(call)
    return {"queues": queues, "waiting_count": len(calls), "now": _now()}


def _render(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


@router.get("/agents")
def console(request: Request, db: DatabaseDep, user: AgentUser, pris: str | None = None,
            deja: str | None = None) -> HTMLResponse:
    context = _waiting_context(db)
    context.update(
        active="agents", recent=handoffs.recent_handled(db, limit=10), open_callbacks=cbstore.count_open(db),
        refresh_secs=NO_JS_REFRESH_SECS, taken=None, already=None,
    )
    if pris:
        context["taken"] = handoffs.get_handoff(db, pris)
    if deja:
        context["already"] = handoffs.get_handoff(db, deja)
    return _render(request, "agents.html", context)


@router.get("/agents/waiting")
def waiting_fragment(request: Request, db: DatabaseDep, user: AgentUser) -> HTMLResponse:
    """The waiting list alone (what the live updates swap in)."""
    return _render(request, "_waiting.html", _waiting_context(db))


def _sse(event: str, html: str) -> str:
    # Each line of a multi-line payload needs its own "data:" prefix.
    data = "\n".join(f"data: {line}" for line in html.splitlines() or [""])
    return f"event: {event}\n{data}\n\n"


@router.get("/agents/events")
async def live_events(request: Request, db: DatabaseDep, bus: BusDep, user: AgentUser) -> StreamingResponse:
    """Server-Sent Events: ``waiting`` (the re-rendered list) and ``callbacks`` (a notice)."""
    subscription = bus.subscribe()  # before the first render: nothing falls in between
    csrf_token = csrf_token_for(request)

    def render_waiting() -> str:
        body = templates.get_template("_waiting.html").render(
            request=request, csrf_token=csrf_token, **_waiting_context(db))
        return _sse("waiting", body)

    def render_callbacks_notice() -> str:
        count = cbstore.count_open(db)
        body = templates.get_template("_callbacks_notice.html").render(open_callbacks=count)
        return _sse("callbacks", body)

    async def stream() -> AsyncIterator[str]:
        started = asyncio.get_running_loop().time()
        try:
            yield "retry: 2000\n\n"
            yield await run_in_threadpool(render_waiting)
            while asyncio.get_running_loop().time() - started < STREAM_MAX_SECS:
                try:
                    event = await asyncio.wait_for(anext(subscription), timeout=PING_SECS)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": ping\n\n"
                    continue
                except StopAsyncIteration:  # the server is shutting down
                    return
                kinds = {event.get("kind")}
                # Coalesce a burst (queued + updated…) into one render per kind.
                await asyncio.sleep(COALESCE_SECS)
                while True:
                    try:
                        more = await asyncio.wait_for(anext(subscription), timeout=0.001)
                    except (TimeoutError, StopAsyncIteration):
                        break
                    kinds.add(more.get("kind"))
                if kinds & CALL_EVENTS:
                    yield await run_in_threadpool(render_waiting)
                if kinds & CALLBACK_EVENTS:
                    yield await run_in_threadpool(render_callbacks_notice)
                yield f"event: changed\ndata: {json.dumps(sorted(k for k in kinds if k))}\n\n"
        finally:
            await subscription.aclose()

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/agents/calls/{call_sid}/take", dependencies=[Depends(verify_csrf)])
async def take(call_sid: str, db: DatabaseDep, bus: BusDep, user: AgentUser) -> Response:
    result = await run_in_threadpool(handoffs.take_call, db, call_sid, user.username)
    if not result.found:
        raise HTTPException(status_code=404, detail="Appel introuvable.")
    if result.newly_taken:
        # The taker's page shows the transcript: on record, as opening it would be.
        await run_in_threadpool(audit.record, db, user.username, "call.taken", call_sid)
        await bus.publish("call.taken", {"call_sid": call_sid, "by": user.username})
        return RedirectResponse(f"/agents?pris={quote(call_sid)}#pris", status_code=303)
    if result.taken_by == user.username:
        return RedirectResponse(f"/agents?pris={quote(call_sid)}#pris", status_code=303)
    return RedirectResponse(f"/agents?deja={quote(call_sid)}#deja", status_code=303)


@router.post("/agents/calls/{call_sid}/release", dependencies=[Depends(verify_csrf)])
async def release(call_sid: str, db: DatabaseDep, bus: BusDep, user: AgentUser) -> Response:
    """Undo a mistaken "Prendre l'appel": the call goes back to everyone's waiting list."""
    released = await run_in_threadpool(handoffs.release_call, db, call_sid, user.username,
                                       force=user.is_manager)
    if not released:
        raise HTTPException(status_code=409, detail="Cet appel ne peut pas être remis en attente "
                                                    "(déjà terminé, ou pris par un collègue).")
    await bus.publish("call.updated", {"call_sid": call_sid, "released_by": user.username})
    return RedirectResponse("/agents", status_code=303)


@router.get("/agents/calls/{call_sid}")
def call_detail(request: Request, call_sid: str, db: DatabaseDep, user: AgentUser) -> HTMLResponse:
    view = handoffs.get_handoff(db, call_sid)
    if view is None:
        raise HTTPException(status_code=404, detail="Appel introuvable.")
    audit.record(db, user.username, "call.viewed", call_sid)
    return _render(request, "call.html", {"active": "history", "call": view, "now": _now()})


def _parse_day(value: str | None) -> date | None:
    if not value:
        return None
    return date.fromisoformat(value)


HISTORY_PATH = "/agents/history"


@router.get(HISTORY_PATH)
def history(request: Request, db: DatabaseDep, user: AgentUser, du: str | None = None, au: str | None = None,
            theme: str | None = None, transferes: str | None = None, page: str | None = None) -> HTMLResponse:
    """Past calls, most recent first, 50 a page; a filter that cannot be read is left out and said so."""
    errors = []
    try:
        day_from, day_to = _parse_day(du), _parse_day(au)
    except ValueError:
        day_from = day_to = None
        du = au = None
        errors.append("Date invalide : utilisez le format AAAA-MM-JJ.")
    topic = theme if theme in topic_labels() else None
    if theme and topic is None:
        errors.append("Thème inconnu.")
    filters = handoffs.SearchFilters(day_from=day_from, day_to=day_to, topic=topic,
                                     only_transferred=bool(transferes))
    result = handoffs.search_calls(db, filters, page=page_number(page), size=PAGE_SIZE)
    params = {"du": du or "", "au": au or "", "theme": topic or "", "transferes": "1" if transferes else ""}
    return _render(request, "history.html", {
        "active": "history", "result": result, "error": " ".join(errors) or None, "topics": topic_labels(),
        "params": params, "pages": page_links(HISTORY_PATH, params, result), "now": _now(),
    }, status_code=400 if errors else 200)
