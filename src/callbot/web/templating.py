"""Jinja2 templates shared by the agents' console and the managers' dashboard.

Every template gets, through a context processor: ``current_user`` (a
:class:`callbot.web.accounts.Account` or None), ``csrf_token`` (put it in every POST form as a
hidden ``csrf_token`` field), ``vendor_js`` (whether the npm-installed htmx files are there) and
``demo_models`` (the server runs on the test models: ``base.html`` shows a banner).
Filters: ``local_datetime`` (aware datetime → "23/11/2026 17:05" in the commune's time zone), ``local_time``
("17:05"), ``duree`` (seconds → "2 min 05 s").
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from callbot.runtime import DEMO_MODELS_NOTICE
from callbot.vocabulary import local_tz
from callbot.web.deps import demo_models
from callbot.web.session import csrf_token_for

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
LOCAL_TZ = local_tz()  # the commune's (flows/), read once at import


def to_local(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes: they are stored as UTC.
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ)


def local_datetime(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    local = to_local(value)
    return local.strftime(fmt) if local else ""


def local_time(value: datetime | None) -> str:
    return local_datetime(value, "%H:%M")


def duree(seconds: float | int | None) -> str:
    """A wait or a call length in French: "45 s", "2 min 05 s", "1 h 03 min"."""
    if seconds is None:
        return ""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def vendor_available(name: str) -> bool:
    return (VENDOR_DIR / name).is_file()


def _auth_context(request: Request) -> dict[str, Any]:
    return {
        "current_user": getattr(request.state, "user", None),
        "csrf_token": csrf_token_for(request),
        "vendor_js": vendor_available("htmx.min.js"),
        "demo_models": demo_models(request),
        "demo_notice": DEMO_MODELS_NOTICE,
    }


templates = Jinja2Templates(directory=TEMPLATES_DIR, context_processors=[_auth_context])
templates.env.filters["local_datetime"] = local_datetime
templates.env.filters["local_time"] = local_time
templates.env.filters["duree"] = duree
templates.env.globals["vendor_available"] = vendor_available
