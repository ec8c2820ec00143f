"""Login, logout, signed session cookie, CSRF tokens and the role checks every page depends on.

Public API for other web modules:

- ``current_user``: FastAPI dependency returning a :class:`CurrentUser`. Anonymous requests for
  a page are redirected (303) to ``/login?next=…``; API-style requests (htmx, Server-Sent
  Events, JSON, paths under ``/api/``) get 401.
- ``require_role("manager")`` / ``require_role("agent")``: dependency factories; 403 otherwise.
  A manager may do everything an agent may (``require_role("agent")`` admits managers).
- ``verify_csrf``: dependency for every POST form (hidden field ``csrf_token``, or header
  ``X-CSRF-Token`` for scripts). Templates get ``csrf_token`` through ``callbot.web.templating``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from callbot.config import server_secret
from callbot.web.accounts import Account, authenticate, get_account
from callbot.web.templating import templates

router = APIRouter()

SESSION_COOKIE = "callbot_session"
SESSION_MAX_AGE_SECS = 12 * 3600  # one working day; then log in again
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

CurrentUser = Account  # what `current_user` returns: id, username, role, is_manager


# --- session cookie ---------------------------------------------------------------------------

def _signer(request: Request) -> URLSafeTimedSerializer:
    app = request.app
    signer = getattr(app.state, "session_signer", None)
    if signer is None:
        signer = URLSafeTimedSerializer(server_secret(app.state.settings), salt="callbot-session")
        app.state.session_signer = signer
    return signer


def read_session(request: Request) -> dict[str, Any]:
    """The verified session data ({} when absent, tampered with or expired)."""
    cached = getattr(request.state, "session", None)
    if cached is not None:
        return cached
    data: dict[str, Any] = {}
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        try:
            loaded = _signer(request).loads(raw, max_age=SESSION_MAX_AGE_SECS)
            if isinstance(loaded, dict):
                data = loaded
        except BadSignature:
            data = {}
    request.state.session = data
    return data


def _new_session(request: Request, account: Account | None) -> dict[str, Any]:
    data: dict[str, Any] = {"csrf": secrets.token_urlsafe(32)}
    if account is not None:
        data.update(uid=account.id, pv=account.password_version)
    request.state.session = data
    request.state.session_dirty = True
    return data


def save_session(request: Request, response: Response) -> None:
    """Write the session cookie if this request created or changed it."""
    if not getattr(request.state, "session_dirty", False):
        return
    value = _signer(request).dumps(request.state.session)
    response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_MAX_AGE_SECS, httponly=True,
                        samesite="lax", secure=request.url.scheme == "https", path="/")


def csrf_token_for(request: Request) -> str:
    """This visitor's CSRF token, creating an anonymous session if there is none yet."""
    session = read_session(request)
    token = session.get("csrf")
    if not token:
        token = _new_session(request, None)["csrf"]
    return token


async def verify_csrf(request: Request) -> None:
    """Dependency for state-changing requests: 403 unless the form/header token matches the session's."""
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form()
        sent = str(form.get(CSRF_FIELD) or "")
    expected = read_session(request).get("csrf") or ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(status_code=403, detail="Jeton de sécurité (CSRF) manquant ou invalide. "
                                                    "Rechargez la page et recommencez.")


# --- who is asking ----------------------------------------------------------------------------

def _is_api_request(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return (
        request.headers.get("HX-Request") == "true"
        or "text/event-stream" in accept
        or ("application/json" in accept and "text/html" not in accept)
        or request.url.path.startswith("/api/")
        or request.url.path.endswith("/events")
    )


def _login_redirect(request: Request) -> HTTPException:
    if _is_api_request(request):
        return HTTPException(status_code=401, detail="Connexion requise.", headers={"HX-Redirect": "/login"})
    target = "/login"
    if request.method == "GET":
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?next=" + quote(path, safe="")
    # The default HTTPException handler keeps headers: a 303 with Location is a plain redirect.
    return HTTPException(status_code=303, detail="Connexion requise.", headers={"Location": target})


def optional_user(request: Request) -> CurrentUser | None:
    """The logged-in user, or None. Checks the account still exists, is active, same password."""
    if hasattr(request.state, "user"):
        return request.state.user
    session = read_session(request)
    user = None
    uid = session.get("uid")
    if isinstance(uid, int):
        account = get_account(request.app.state.db, uid)
        if account is not None and account.active and account.password_version == session.get("pv"):
            user = account
    request.state.user = user
    return user


def current_user(request: Request) -> CurrentUser:
    user = optional_user(request)
    if user is None:
        raise _login_redirect(request)
    return user


def require_role(role: str) -> Callable[..., CurrentUser]:
    """Dependency factory: the current user if their role allows `role` (managers include agents)."""
    allowed = {"agent": {"agent", "manager"}, "manager": {"manager"}}.get(role)
    if allowed is None:
        raise ValueError(f"unknown role {role!r}")

    def dependency(user: CurrentUser = Depends(current_user)) -> CurrentUser:
        if user.role not in allowed:
            who = "responsables" if role == "manager" else "agents"
            raise HTTPException(status_code=403, detail=f"Accès refusé : cette page est réservée aux {who}.")
        return user

    dependency.__name__ = f"require_role_{role}"
    return dependency


# --- pages ------------------------------------------------------------------------------------

def home_for(user: CurrentUser) -> str:
    return "/dashboard" if user.is_manager else "/agents"


def _safe_next(value: str | None) -> str | None:
    """Only local paths: never send someone to another site after login."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _login_page(request: Request, *, error: str | None = None, info: str | None = None,
                next_url: str | None = None, username: str = "", status_code: int = 200) -> Response:
    response = templates.TemplateResponse(
        request, "login.html",
        {"error": error, "info": info, "next_url": next_url or "", "username": username},
        status_code=status_code,
    )
    save_session(request, response)
    return response


@router.get("/", include_in_schema=False)
def root(request: Request) -> Response:
    user = optional_user(request)
    return RedirectResponse(home_for(user) if user else "/login", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None, bye: bool = False) -> Response:  # noqa: A002
    user = optional_user(request)
    if user is not None:
        return RedirectResponse(_safe_next(next) or home_for(user), status_code=303)
    info = "Vous êtes déconnecté." if bye else None
    return _login_page(request, info=info, next_url=_safe_next(next))


@router.post("/login")
async def login(request: Request, username: str = Form(""), password: str = Form(""),
                csrf_token: str = Form(""), next: str = Form("")) -> Response:  # noqa: A002
    next_url = _safe_next(next)
    expected = read_session(request).get("csrf") or ""
    if not csrf_token or not expected or not hmac.compare_digest(csrf_token, expected):
        return _login_page(request, error="La page de connexion a expiré : veuillez réessayer.",
                           next_url=next_url, username=username, status_code=403)
    from starlette.concurrency import run_in_threadpool

    account = await run_in_threadpool(authenticate, request.app.state.db, username, password)
    if account is None:
        return _login_page(request, error="Identifiant ou mot de passe incorrect.", next_url=next_url,
                           username=username, status_code=401)
    # A fresh session (and CSRF token) on login: nothing from the anonymous one is kept.
    _new_session(request, account)
    request.state.user = account
    response = RedirectResponse(next_url or home_for(account), status_code=303)
    save_session(request, response)
    return response


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout() -> Response:
    response = RedirectResponse("/login?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
