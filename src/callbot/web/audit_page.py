"""Managers' view of the audit log (``GET /dashboard/audit``): who opened, exported, changed or
erased what. Agents get 403. Filters: ``du`` / ``au`` (local days, AAAA-MM-JJ), ``compte``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from callbot.app_deps import DatabaseDep
from callbot.store import audit
from callbot.vocabulary import local_tz
from callbot.web.deps import ManagerUser
from callbot.web.templating import templates

router = APIRouter()
SHOWN = 500  # newest first; `callbot audit` lists everything

ACTION_LABELS = {
    "call.viewed": "Transcription consultée",
    "call.taken": "Appel pris (transcription affichée)",
    "export.csv": "Export CSV",
    "export.yaml": "Export des phrases non reconnues",
    "callback.updated": "Rappel modifié",
    "user.added": "Compte créé",
    "user.disabled": "Compte désactivé",
    "user.enabled": "Compte réactivé",
    "user.password": "Mot de passe changé",
    "data.erased": "Effacement d'un appelant",
    "data.purged": "Purge (durée de conservation)",
    "login.locked": "Connexion bloquée (trop d'échecs)",
}


def _day(value: str | None, *, next_day: bool = False) -> datetime | None:
    if not value:
        return None
    day = date.fromisoformat(value) + timedelta(days=1 if next_day else 0)
    return datetime.combine(day, time(), tzinfo=local_tz())


@router.get("/dashboard/audit")
def audit_log(request: Request, db: DatabaseDep, user: ManagerUser, du: str | None = None,
              au: str | None = None, compte: str | None = None) -> HTMLResponse:
    error = None
    try:
        since, until = _day(du), _day(au, next_day=True)
    except ValueError:
        since = until = None
        du = au = None
        error = "Date invalide : utilisez le format AAAA-MM-JJ."
    actor = (compte or "").strip()[:80] or None
    rows = audit.entries(db, since=since, until=until, actor=actor, limit=SHOWN)
    return templates.TemplateResponse(request, "audit.html", {
        "active": "audit", "rows": rows, "labels": ACTION_LABELS, "shown": SHOWN, "error": error,
        "params": {"du": du or "", "au": au or "", "compte": actor or ""},
    }, status_code=400 if error else 200)
