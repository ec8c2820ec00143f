"""Typed FastAPI dependencies for the web pages: what a route needs, named in its signature.

Routes write ``db: DatabaseDep`` or ``user: AgentUser`` instead of reading ``request.app.state``:
the signature says what the page uses, and tests can override one dependency at a time.

- ``SettingsDep``, ``RuntimeDep``, ``DatabaseDep``, ``BusDep`` (what the app loaded at start-up)
  live in ``callbot.app_deps``, shared with the Twilio routes.
- ``OptionalUser``: the logged-in account or None.
- ``CurrentUser``: the logged-in account; anonymous page requests are redirected (303) to
  ``/login?next=…``, API-style requests (htmx, Server-Sent Events, JSON, ``/api/``) get 401.
- ``AgentUser`` / ``ManagerUser``: the account if its role allows (a manager may do everything an
  agent may); 403 otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request

from callbot.app_deps import DatabaseDep
from callbot.store.sessions import session_user
from callbot.web.accounts import Account, get_account
from callbot.web.session import read_session

ROLE_ADMITS = {"agent": {"agent", "manager"}, "manager": {"manager"}}


def demo_models(request: Request) -> bool:
    """Whether the server runs on the package-shipped test models (every page then says so)."""
    runtime = getattr(request.app.state, "runtime", None)
    return getattr(runtime, "models", None) == "demo"


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


def optional_user(request: Request, db: DatabaseDep) -> Account | None:
    """The logged-in user, or None. Checks the server-side session is still open (not logged out
    nor revoked) and the account still exists, is active, same password."""
    if hasattr(request.state, "user"):
        return request.state.user
    session = read_session(request)
    user = None
    uid, sid = session.get("uid"), session.get("sid")
    if isinstance(uid, int) and isinstance(sid, str) and session_user(db, sid) == uid:
        account = get_account(db, uid)
        if account is not None and account.active and account.password_version == session.get("pv"):
            user = account
    request.state.user = user
    return user


OptionalUser = Annotated[Account | None, Depends(optional_user)]


def current_user(request: Request, user: OptionalUser) -> Account:
    if user is None:
        raise _login_redirect(request)
    return user


CurrentUser = Annotated[Account, Depends(current_user)]


def require_role(role: str) -> Callable[..., Account]:
    """Dependency factory: the current user if their role allows `role` (managers include agents)."""
    allowed = ROLE_ADMITS.get(role)
    if allowed is None:
        raise ValueError(f"unknown role {role!r}")

    def dependency(user: CurrentUser) -> Account:
        if user.role not in allowed:
            who = "responsables" if role == "manager" else "agents"
            raise HTTPException(status_code=403, detail=f"Accès refusé : cette page est réservée aux {who}.")
        return user

    dependency.__name__ = f"require_role_{role}"
    return dependency


AgentUser = Annotated[Account, Depends(require_role("agent"))]
ManagerUser = Annotated[Account, Depends(require_role("manager"))]

