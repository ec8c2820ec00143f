"""Agents' console: callback requests as a paginated, sortable table, and one request's edit page.

``GET /agents/callbacks`` lists 50 a page; by default the requests still "à rappeler", the one
waiting longest first. Filters (query string): ``statut`` (a status or ``tous``), ``attribue``
(a username, ``moi`` or ``personne``), ``numero`` (any written form, or a few digits), ``tri`` and
``ordre`` (column and direction), ``page``. ``GET /agents/callbacks/{id}`` is the edit form (no
JavaScript needed); ``POST`` saves it and goes back to the list the agent came from.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from callbot.app_deps import BusDep, DatabaseDep
from callbot.store import audit
from callbot.store import callbacks as cbstore
from callbot.vocabulary import CallbackStatus, topic_labels
from callbot.web.accounts import list_users
from callbot.web.deps import AgentUser
from callbot.web.listing import PAGE_SIZE, page_links, page_number, sort_headers, url
from callbot.web.session import verify_csrf
from callbot.web.templating import templates

router = APIRouter()

LIST_PATH = "/agents/callbacks"
ALL_STATUSES = "tous"
ME, NOBODY = "moi", "personne"
COLUMNS = {"demande": "Demandé le", "numero": "Numéro", "statut": "Statut", "attribution": "Attribué à",
           "modifie": "Modifié le"}
# Requests still to handle read oldest first; handled ones most recent first.
OPEN_FIRST = {str(s) for s in cbstore.OPEN_STATUSES}


def _list_params(statut: str | None, attribue: str | None, moi: str | None, numero: str | None,
                 tri: str | None, ordre: str | None) -> tuple[dict[str, str], list[str]]:
    """The list's filters as clean query values, and the notices for what was ignored."""
    notices = []
    status = statut if statut is not None else CallbackStatus.TODO
    if status not in (*CallbackStatus, ALL_STATUSES, ""):
        notices.append(f"Statut inconnu « {statut} » : affichage des rappels à rappeler.")
        status = CallbackStatus.TODO
    assignee = (attribue or "").strip()[:80] or (ME if moi else "")
    number = (numero or "").strip()[:40]
    if number and cbstore.number_digits(number) is None:
        notices.append(f"Numéro « {number} » non reconnu : tapez des chiffres (ex. 06 12 34 56 78).")
        number = ""
    sort = tri if tri in COLUMNS else ""
    order = ordre if ordre in ("asc", "desc") and sort else ""
    params = {"statut": status or ALL_STATUSES, "attribue": assignee, "numero": number, "tri": sort,
              "ordre": order}
    return params, notices


def _filters(params: dict[str, str], username: str) -> cbstore.CallbackFilters:
    status = params["statut"]
    assignee = params["attribue"]
    return cbstore.CallbackFilters(
        status=None if status == ALL_STATUSES else status,
        assigned_to=username if assignee == ME else (assignee if assignee != NOBODY else None),
        unassigned=assignee == NOBODY,
        number_digits=cbstore.number_digits(params["numero"]) if params["numero"] else None,
    )


def _agent_names(db: DatabaseDep) -> list[str]:
    return [a.username for a in list_users(db) if a.active]


@router.get(LIST_PATH)
def callbacks_page(request: Request, db: DatabaseDep, user: AgentUser, statut: str | None = None,
                   attribue: str | None = None, moi: str | None = None, numero: str | None = None,
                   tri: str | None = None, ordre: str | None = None, page: str | None = None,
                   ok: str | None = None) -> HTMLResponse:
    params, notices = _list_params(statut, attribue, moi, numero, tri, ordre)
    sort = params["tri"] or cbstore.DEFAULT_SORT[0]
    descending = params["ordre"] == "desc" if params["ordre"] else params["statut"] not in OPEN_FIRST
    result = cbstore.list_callbacks(db, _filters(params, user.username), sort=sort, descending=descending,
                                    page=page_number(page), size=PAGE_SIZE)
    here = url(LIST_PATH, params, page=result.number if result.number > 1 else None)
    saved = int(ok) if ok and ok.isdigit() else None
    return templates.TemplateResponse(request, "callbacks.html", {
        "active": "callbacks", "result": result, "statuses": cbstore.STATUS_LABELS, "params": params,
        "all_statuses": ALL_STATUSES, "me": ME, "nobody": NOBODY, "agents": _agent_names(db),
        "headers": sort_headers(LIST_PATH, params, COLUMNS, sort, descending),
        "pages": page_links(LIST_PATH, params, result), "here": here,
        "saved": saved, "notices": notices, "topic_labels": topic_labels(),
        "open_callbacks": cbstore.count_open(db),
    })


@router.get(LIST_PATH + "/{callback_id}")
def callback_form(request: Request, callback_id: int, db: DatabaseDep, user: AgentUser,
                  retour: str = "") -> HTMLResponse:
    """One request with its edit form; `retour` is the list to go back to after saving."""
    view = cbstore.get_callback(db, callback_id)
    if view is None:
        raise HTTPException(status_code=404, detail="Ce rappel n'existe plus (effacé ?).")
    return templates.TemplateResponse(request, "callback.html", {
        "active": "callbacks", "cb": view, "statuses": cbstore.STATUS_LABELS, "agents": _agent_names(db),
        "back": _safe_list_url(retour), "topic_labels": topic_labels(),
    })


@router.post(LIST_PATH + "/{callback_id}", dependencies=[Depends(verify_csrf)])
async def update_callback(callback_id: int, db: DatabaseDep, bus: BusDep, user: AgentUser,
                          status: Annotated[str, Form()], assigned_to: Annotated[str, Form()] = "",
                          notes: Annotated[str, Form()] = "", back: Annotated[str, Form()] = "") -> Response:
    assignee = assigned_to.strip()
    try:
        await run_in_threadpool(cbstore.update_callback, db, callback_id, status=status, notes=notes,
                                assigned_to=assignee, clear_assignment=not assignee)
    except cbstore.CallbackError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error
    # The notes may hold personal words: the audit says who changed what, not the text.
    await run_in_threadpool(audit.record, db, user.username, "callback.updated", str(callback_id),
                            status=status, assigned_to=assignee or None, notes_chars=len(notes))
    await bus.publish("callback.updated", {"id": callback_id, "status": status, "by": user.username})
    return RedirectResponse(_back_to_list(back, callback_id), status_code=303)


def _safe_list_url(back: str) -> str:
    """The callbacks list URL the agent came from, or the default list (never another site)."""
    parts = urlsplit(back)
    if parts.scheme or parts.netloc or parts.path != LIST_PATH:
        return LIST_PATH
    return url(LIST_PATH, dict(parse_qsl(parts.query)))


def _back_to_list(back: str, callback_id: int) -> str:
    """Back to the list the agent was looking at (same filters and page), with a saved notice."""
    parts = urlsplit(_safe_list_url(back))
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "ok"] + [("ok", str(callback_id))]
    return f"{LIST_PATH}?{urlencode(query)}#rappel-{callback_id}"
