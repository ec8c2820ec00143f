"""The FastAPI application: Twilio webhooks and media socket, agents' console, dashboard."""

from __future__ import annotations

import asyncio
import importlib
import threading
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from loguru import logger
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from callbot import __version__, metrics
from callbot.app_deps import SettingsDep
from callbot.config import Settings, get_settings
from callbot.runtime import Runtime, load_runtime
from callbot.store.calls import interrupt_orphaned_calls
from callbot.store.db import Database
from callbot.store.journal import Journal
from callbot.telephony.admission import Admission, install_sigterm_drain

STATIC = Path(__file__).parent / "web" / "static"

ERROR_PAGES = {
    403: ("Accès refusé", "Votre compte n'a pas accès à cette page."),
    404: ("Page introuvable", "Cette page n'existe pas, ou l'élément demandé a été supprimé."),
    405: ("Action impossible", "Cette adresse ne s'utilise pas ainsi."),
}

ROUTERS = (
    "callbot.telephony.routes",
    "callbot.telephony.queue",
    "callbot.web.auth",
    "callbot.web.agents",
    "callbot.web.dashboard",
)


def journal_dir(settings: Settings) -> Path:
    """CALLBOT_JOURNAL_DIR, else beside a SQLite database file, else var/journal."""
    if "journal_dir" in settings.model_fields_set:
        return settings.journal_dir
    url = settings.database_url
    if url.startswith("sqlite:///") and url.removeprefix("sqlite:///") not in ("", ":memory:"):
        return Path(url.removeprefix("sqlite:///")).parent / "journal"
    return settings.journal_dir


def start_journal(db: Database, settings: Settings) -> Journal:
    """Call writes go through the journal; what a dead process left is replayed, then its calls
    still `in_progress` are marked `interrupted` (in the background: the database may be away)."""
    started = datetime.now(UTC)
    journal = Journal(db, journal_dir(settings))
    journal.start()
    db.journal = journal

    def sweep() -> None:
        while not journal.closed:
            if journal.backlog == 0 and journal.healthy:
                try:
                    interrupt_orphaned_calls(db, journal.live_workers(), started)
                    return
                except Exception as e:  # noqa: BLE001 (database away: try again)
                    logger.warning("start-up sweep of interrupted calls postponed: {}", type(e).__name__)
            journal.wait_closed(2.0)

    threading.Thread(target=sweep, name="callbot-sweep", daemon=True).start()
    return journal


def admission_for(settings: Settings) -> Admission:
    return Admission(max_calls=settings.max_calls, max_sockets_per_ip=settings.max_sockets_per_ip,
                     max_message_bytes=settings.ws_max_message_bytes,
                     max_messages_per_sec=settings.ws_max_messages_per_sec, burst=settings.ws_burst_messages)


def create_app(settings: Settings | None = None, *, speech: bool = True) -> FastAPI:
    """Build the app. `speech=False` skips the speech models (web-only tests and tools)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from callbot.store.bus import create_bus
        from callbot.telephony.signature import announce_webhook_security

        announce_webhook_security(settings)
        runtime = load_runtime(settings, speech=speech)
        app.state.runtime = runtime
        app.state.db = runtime.db
        app.state.bus = create_bus(settings)
        start = getattr(app.state.bus, "start", None)
        if start is not None:
            await start()
        watch_for_metrics(runtime)
        journal = start_journal(runtime.db, settings)
        app.state.admission = admission_for(settings)
        restore_sigterm = install_sigterm_drain(app.state.admission, settings.shutdown_drain_secs)
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            if restore_sigterm is not None:
                restore_sigterm()
            await app.state.bus.close()
            await asyncio.to_thread(journal.close)
            runtime.db.journal = None
            runtime.close()

    app = FastAPI(title="callbot", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.ready = False
    from callbot.web.security_headers import SecurityHeaders

    app.add_middleware(SecurityHeaders, public_url=settings.public_url)  # CSP, frames, HSTS (https)
    STATIC.mkdir(parents=True, exist_ok=True)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for name in ROUTERS:
        app.include_router(importlib.import_module(name).router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """People get a French page; Twilio, scripts and live updates keep the JSON answer."""
        wants_html = "text/html" in request.headers.get("accept", "")
        if exc.status_code in ERROR_PAGES and wants_html and not request.url.path.startswith("/twilio"):
            from callbot.web.templating import templates

            title, message = ERROR_PAGES[exc.status_code]
            return templates.TemplateResponse(request, "error.html", {"title": title, "message": message},
                                              status_code=exc.status_code, headers=exc.headers)
        return await http_exception_handler(request, exc)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        if not app.state.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        runtime = app.state.runtime
        return JSONResponse({
            "status": "ok",
            "version": __version__,
            "speech": runtime.speech_ready,
            # "demo": the package-shipped test models (they understand no French), else "configured".
            "models": runtime.models,
            "intents": len(runtime.dialog.flows.intents),
            # "topics", or "flows-only: <why>" when the public-service sheets are missing.
            "nlu": getattr(runtime.dialog.nlu, "mode", "flows-only"),
            "answers_warming": runtime.warmer is not None and not runtime.warmer.done.is_set(),
            # Recognisers still being warmed for a burst of callers (speech/recognizers.py).
            "recognizers_warming": _recognizers_warming(runtime),
            "load_secs": runtime.load_times,
        })

    @app.get("/metrics", include_in_schema=False)
    async def metrics_page(request: Request, settings: SettingsDep) -> Response:
        """Prometheus text format, this process's own numbers (callbot/metrics.py says who may read)."""
        host = request.client.host if request.client else None
        if not metrics.allowed(host, request.headers.get("authorization"), settings.metrics_token):
            return JSONResponse({"detail": "metrics: loopback only, or set CALLBOT_METRICS_TOKEN"}, 403)
        body, content_type = await run_in_threadpool(metrics.exposition)
        return Response(body, media_type=content_type)

    return app


def _recognizers_warming(runtime: Runtime) -> bool:
    if runtime.asr_model is None:
        return False
    from callbot.speech.recognizers import recognizer_pool

    models = (runtime.asr_model, runtime.asr_busy_model)
    return any(recognizer_pool(m).warming for m in models if m is not None)


def watch_for_metrics(runtime: Runtime) -> None:
    """Point /metrics at this process's recogniser pool and at the human queue (read when scraped)."""
    from callbot.speech.recognizers import recognizer_pool
    from callbot.store.handoffs import waiting_calls

    pools = {search: recognizer_pool(model) for search, model in
             ((runtime.asr_search, runtime.asr_model), ("fast", runtime.asr_busy_model)) if model is not None}
    metrics.watch(pools=pools, waiting=lambda: len(waiting_calls(runtime.db)),
                  version=__version__, models=runtime.models)


def factory() -> FastAPI:
    """For `uvicorn --factory callbot.app:factory` (several worker processes)."""
    from callbot.logs import configure_logging

    configure_logging(get_settings().log_level)  # each worker: the same log rules as `callbot serve`
    return create_app()
