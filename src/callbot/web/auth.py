"""Login and logout pages. The session cookie and CSRF tokens live in ``callbot.web.session``, the
current user and role checks in ``callbot.web.deps``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from callbot.app_deps import DatabaseDep
from callbot.web.accounts import Account, authenticate
from callbot.web.deps import OptionalUser
from callbot.web.session import SESSION_COOKIE, csrf_matches, new_session, save_session, verify_csrf
from callbot.web.templating import templates

router = APIRouter()


# --- pages ------------------------------------------------------------------------------------

def home_for(user: Account) -> str:
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
    account = await run_in_threadpool(authenticate, db, username, password)
    if account is None:
        return _login_page(request, error="Identifiant ou mot de passe incorrect.", next_url=next_url,
                           username=username, status_code=401)
    # A fresh session (and CSRF token) on login: nothing from the anonymous one is kept.
    new_session(request, account)
    request.state.user = account
    response = RedirectResponse(next_url or home_for(account), status_code=303)
    save_session(request, response)
    return response


@router.post("/logout", dependencies=[Depends(verify_csrf)])
def logout() -> Response:
    response = RedirectResponse("/login?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
