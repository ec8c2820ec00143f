"""Login and logout pages. The session cookie and CSRF tokens live in ``callbot.web.session``, the
current user and role checks in ``callbot.web.deps``.

A login is refused (429) while its account name or client address is locked for failing too often
(``callbot.web.throttle``); a successful one opens a server-side session (store/sessions.py) that
logout closes, so a copy of the cookie opens nothing afterwards."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from callbot.app_deps import DatabaseDep
from callbot.store import audit
from callbot.store.db import Database
from callbot.store.sessions import close_session, open_session
from callbot.web.accounts import Account, account_exists, authenticate
from callbot.web.deps import OptionalUser
from callbot.web.session import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_SECS,
    cookie_secure,
    csrf_matches,
    new_session,
    read_session,
    save_session,
    verify_csrf,
)
from callbot.web.templating import templates
from callbot.web.throttle import LoginBusy, LoginThrottle, wait_message

router = APIRouter()
log = logging.getLogger(__name__)
BUSY_MESSAGE = "Le serveur reçoit beaucoup de connexions en ce moment : réessayez dans un instant."


def login_throttle(request: Request, db: Database) -> LoginThrottle:
    """The login throttle (counters in the database, password-check slots per process)."""
    state = request.app.state
    throttle = getattr(state, "login_throttle", None)
    if throttle is None:
        s = state.settings
        throttle = LoginThrottle(db, free=s.login_free_failures, ip_free=s.login_ip_free_failures,
                                 lock_secs=s.login_lock_secs, lock_max_secs=s.login_lock_max_secs,
                                 concurrent=s.login_concurrent_checks)
        state.login_throttle = throttle
    return throttle


# --- pages ------------------------------------------------------------------------------------

def home_for(user: Account) -> str:
    return "/dashboard" if user.is_manager else "/agents"


def _safe_next(value: str | None) -> str | None:
    """Only local paths: never send someone to another site after login."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _login_page(request: Request, *, error: str | None = None, info: str | None = None,
                next_url: str | None = None, username: str = "", status_code: int = 200,
                headers: dict[str, str] | None = None) -> Response:
    response = templates.TemplateResponse(
        request, "login.html",
        {"error": error, "info": info, "next_url": next_url or "", "username": username},
        status_code=status_code, headers=headers,
    )
    save_session(request, response)
    return response


@router.get("/", include_in_schema=False)
def root(user: OptionalUser) -> Response:
    return RedirectResponse(home_for(user) if user else "/login", status_code=303)


@router.get("/login")
def login_form(request: Request, user: OptionalUser, next: str | None = None,  # noqa: A002
               bye: bool = False) -> Response:
    if user is not None:
        return RedirectResponse(_safe_next(next) or home_for(user), status_code=303)
    info = "Vous êtes déconnecté." if bye else None
    return _login_page(request, info=info, next_url=_safe_next(next))


@router.post("/login")
async def login(request: Request, db: DatabaseDep, username: str = Form(""), password: str = Form(""),
                csrf_token: str = Form(""), next: str = Form("")) -> Response:  # noqa: A002
    next_url = _safe_next(next)
    if not csrf_matches(request, csrf_token):
        return _login_page(request, error="La page de connexion a expiré : veuillez réessayer.",
                           next_url=next_url, username=username, status_code=403)
    throttle = login_throttle(request, db)
    account_key = throttle.account_key(username)
    address_key = throttle.address_key(request.client.host if request.client else "?")
    wait = await run_in_threadpool(throttle.retry_after, account_key, address_key)
    if wait > 0:  # refused before any password check: a brute force costs no argon2 work
        return _login_page(request, error=wait_message(wait), next_url=next_url, username=username,
                           status_code=429, headers={"Retry-After": str(int(wait) + 1)})
    try:
        account = await throttle.bounded(lambda: run_in_threadpool(authenticate, db, username, password))
    except LoginBusy:
        return _login_page(request, error=BUSY_MESSAGE, next_url=next_url, username=username,
                           status_code=503, headers={"Retry-After": "5"})
    if account is None:
        locked = await run_in_threadpool(throttle.failed, account_key, address_key)
        if locked > 0:
            log.warning("console login locked for %.0f s after repeated failures", locked)
            await run_in_threadpool(_record_lock, db, username, address_key, locked)
        return _login_page(request, error="Identifiant ou mot de passe incorrect.", next_url=next_url,
                           username=username, status_code=401)
    await run_in_threadpool(throttle.succeeded, account_key)
    previous = read_session(request).get("sid")
    if isinstance(previous, str):  # logging in again over a session: the old one ends
        await run_in_threadpool(close_session, db, previous)
    sid = await run_in_threadpool(open_session, db, account.id, SESSION_MAX_AGE_SECS)
    # A fresh session (and CSRF token) on login: nothing from the anonymous one is kept.
    new_session(request, account, sid)
    request.state.user = account
    response = RedirectResponse(next_url or home_for(account), status_code=303)
    save_session(request, response)
    return response


def _record_lock(db: Database, username: str, address_key: str, seconds: float) -> None:
    """Audit a lock: under the account's name if it exists (what was typed may be a password)."""
    actor = username.strip() if account_exists(db, username) else "(compte inconnu)"
    audit.record(db, actor, "login.locked", address_key.removeprefix("ip:"), seconds=round(seconds))


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout(request: Request, db: DatabaseDep) -> Response:
    """End the session on the server too: a copy of the cookie opens nothing afterwards."""
    sid = read_session(request).get("sid")
    if isinstance(sid, str):
        close_session(db, sid)
    response = RedirectResponse("/login?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=cookie_secure(request), httponly=True,
                           samesite="lax")
    return response
