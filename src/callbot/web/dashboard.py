"""Managers' dashboard (issue 5): statistics pages, CSV exports, YAML snippets for flows/.

Routes are plain `def`: FastAPI runs them in its thread pool, so the aggregate queries never block
the event loop that carries live calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from callbot.analytics import figures as st
from callbot.analytics.exports import yaml_snippet
from callbot.analytics.periods import Period, local_day
from callbot.analytics.utterances import unrecognised
from callbot.app_deps import DatabaseDep, SettingsDep
from callbot.config import Settings
from callbot.store import audit
from callbot.store.db import Database
from callbot.vocabulary import topic_ids
from callbot.web import audit_page
from callbot.web import dashboard_charts as charts
from callbot.web.dashboard_tables import TABLES
from callbot.web.deps import ManagerUser
from callbot.web.templating import templates

router = APIRouter()
router.include_router(audit_page.router)
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366


@dataclass
class Query:
    """What the manager asked for, from the query string; `error` explains what was ignored."""

    period: Period
    sort: dict[str, tuple[str, bool]]
    error: str | None = None


def _today(settings: Settings) -> date:
    return local_day(settings.clock())


def parse_query(request: Request, today: date) -> Query:
    qp = request.query_params
    error = None
    try:
        end = date.fromisoformat(qp["au"]) if qp.get("au") else today
        start = date.fromisoformat(qp["du"]) if qp.get("du") else end - timedelta(days=DEFAULT_DAYS - 1)
        if end < start:
            raise ValueError("la date de fin précède la date de début")
        if (end - start).days >= MAX_DAYS:
            raise ValueError(f"période limitée à {MAX_DAYS} jours")
    except ValueError as e:
        reason = str(e) if "période" in str(e) or "précède" in str(e) else "dates au format AAAA-MM-JJ"
        error = f"Période invalide ({reason}) : affichage des {DEFAULT_DAYS} derniers jours."
        end, start = today, today - timedelta(days=DEFAULT_DAYS - 1)
    services = tuple(v for v in qp.getlist("service") if v)
    topics = tuple(v for v in qp.getlist("sujet") if v)
    sort = {}
    for name in TABLES:
        key = qp.get(f"tri_{name}")
        if key:
            sort[name] = (key, qp.get(f"ordre_{name}", "desc") != "asc")
    return Query(Period(start, end, services, topics), sort, error)


def _filters_query(period: Period) -> list[tuple[str, str]]:
    params = [("du", period.start.isoformat()), ("au", period.end.isoformat())]
    params += [("service", s) for s in period.services] + [("sujet", t) for t in period.topics]
    return params


def _sort_link(q: Query, table: str, key: str) -> tuple[str, str | None]:
    """(href, aria-sort) for a column header: a click sorts by it, a second click reverses."""
    current = q.sort.get(table)
    t = TABLES[table]
    active_key, desc = current if current else (t.default_sort, t.default_desc)
    next_desc = not desc if active_key == key else True
    params = _filters_query(q.period)
    params += [(f"tri_{n}", k) for n, (k, d) in q.sort.items() if n != table]
    params += [(f"ordre_{n}", "desc" if d else "asc") for n, (k, d) in q.sort.items() if n != table]
    params += [(f"tri_{table}", key), (f"ordre_{table}", "desc" if next_desc else "asc")]
    aria = ("descending" if desc else "ascending") if active_key == key else None
    return f"/dashboard?{urlencode(params)}#t-{table}", aria


def _figures(db: Database, period: Period, today: date) -> st.Figures:
    with db.session() as s:
        return st.compute(s, period, today)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, db: DatabaseDep, settings: SettingsDep, user: ManagerUser) -> Response:
    today = _today(settings)
    q = parse_query(request, today)
    with db.session() as s:
        figures = st.compute(s, q.period, today)
        services = st.services(s)
    tables = {}
    for name, t in TABLES.items():
        key, desc = q.sort.get(name, (None, None))
        tables[name] = {
            "def": t,
            "rows": t.sorted_rows(figures, key, desc),
            "headers": [(c, *_sort_link(q, name, c.key)) for c in t.columns],
        }
    export_qs = urlencode(_filters_query(q.period))
    reasons = [(st.REASON_LABELS.get(r, r), n) for r, n in figures.transfers]
    ctx = {
        "active": "dashboard",
        "q": q,
        "f": figures,
        "tables": tables,
        "export_qs": export_qs,
        "services": services,
        "all_topics": topic_ids(),
        "weekdays": st.WEEKDAYS,
        "chart_days": charts.calls_per_day(figures.series.days),
        "chart_heatmap": charts.heatmap(figures.series.heatmap),
        "chart_reasons": charts.hbars(reasons, "Transferts par motif"),
        "chart_satisfaction": charts.hbars(
            [(f"{k} / 5", n) for k, n in sorted(figures.satisfaction.items())],
            "Satisfaction en fin d'appel",
            colour=charts.RESOLVED,
        ),
        "presets": _presets(today, q.period),
    }
    return templates.TemplateResponse(request, "dashboard.html", ctx, status_code=400 if q.error else 200)


def _audit_filters(period: Period) -> dict[str, object]:
    return {"from": period.start.isoformat(), "to": period.end.isoformat(),
            "services": list(period.services), "topics": list(period.topics)}


def _presets(today: date, period: Period) -> list[tuple[str, str]]:
    out = []
    for label, days in (("7 derniers jours", 7), ("30 derniers jours", 30), ("12 derniers mois", 365)):
        p = Period(today - timedelta(days=days - 1), today, period.services, period.topics)
        out.append((label, "/dashboard?" + urlencode(_filters_query(p))))
    return out


@router.get("/dashboard/export/{name}.csv")
def export_csv(name: str, request: Request, db: DatabaseDep, settings: SettingsDep,
               user: ManagerUser) -> Response:
    table = TABLES.get(name)
    if table is None:
        return Response(
            f"Table inconnue : {name}. Tables : {', '.join(TABLES)}.\n",
            status_code=404,
            media_type="text/plain; charset=utf-8",
        )
    today = _today(settings)
    q = parse_query(request, today)
    body = "\ufeff" + table.csv(_figures(db, q.period, today))  # BOM: Excel opens UTF-8 French correctly
    filename = f"callbot-{name}-{q.period.start}-{q.period.end}.csv"
    audit.record(db, user.username, "export.csv", filename, **_audit_filters(q.period))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/dashboard/export/incompris.yaml")
def export_yaml(request: Request, db: DatabaseDep, settings: SettingsDep, user: ManagerUser) -> Response:
    """Unrecognised utterances as YAML examples for flows/; `groupe` picks groups (by rank, from 1)
    and `intention` the intent they go under."""
    today = _today(settings)
    q = parse_query(request, today)
    with db.session() as s:
        groups = unrecognised(s, q.period, today=today)
    picked = {int(v) for v in request.query_params.getlist("groupe") if v.isdigit()}
    if picked:
        groups = [g for i, g in enumerate(groups, 1) if i in picked]
    intent = (request.query_params.get("intention") or "").strip() or None
    body = yaml_snippet(groups, intent)
    audit.record(db, user.username, "export.yaml", "callbot-exemples.yaml", groups=len(groups),
                 **_audit_filters(q.period))
    return Response(
        body,
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="callbot-exemples.yaml"'},
    )

