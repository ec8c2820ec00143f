"""The FastAPI application: Twilio webhooks and media socket, agents' console, dashboard."""

from __future__ import annotations

import importlib
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from callbot import __version__
from callbot.config import Settings, get_settings
from callbot.runtime import load_runtime

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


def create_app(settings: Settings | None = None, *, speech: bool = True) -> FastAPI:
    """Build the app. `speech=False` skips the speech models (web-only tests and tools)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from callbot.store.bus import create_bus

        runtime = load_runtime(settings, speech=speech)
        app.state.runtime = runtime
        app.state.db = runtime.db
        app.state.bus = create_bus(settings)
        start = getattr(app.state.bus, "start", None)
        if start is not None:
            await start()
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            await app.state.bus.close()
            runtime.close()

    app = FastAPI(title="callbot", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.ready = False
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
            "load_secs": runtime.load_times,
        })

    return app


def factory() -> FastAPI:
    """For `uvicorn --factory callbot.app:factory` (several worker processes)."""
    return create_app()
