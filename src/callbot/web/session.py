"""The signed session cookie and CSRF tokens: what every page and form relies on.

Kept apart from ``callbot.web.auth`` (login pages, role checks) so that templating can give each
template its CSRF token without importing the login pages that render templates.

- ``read_session(request)``: the verified session data ({} when absent, tampered with or expired).
- ``new_session(request, account, sid)`` / ``save_session(request, response)``: start a session
  (fresh CSRF token; `sid` is the server-side session's token, store/sessions.py) and write the
  cookie when the request changed it. The cookie is ``Secure`` whenever CALLBOT_PUBLIC_URL is https
  (behind a TLS proxy the request itself arrives over plain http).
- ``csrf_token_for(request)``: this visitor's token, creating an anonymous session if needed.
- ``verify_csrf``: dependency for every POST form (hidden field ``csrf_token``, or header
  ``X-CSRF-Token`` for scripts).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any, Protocol

from fastapi import HTTPException, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from callbot.config import server_secret

SESSION_COOKIE = "callbot_session"
SESSION_MAX_AGE_SECS = 12 * 3600  # one working day; then log in again
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class SessionAccount(Protocol):
    """What a session remembers of an account (``callbot.web.accounts.Account`` fits)."""

    id: int
    password_version: str


def _signer(request: Request) -> URLSafeTimedSerializer:
    # Built once per app: the secret never changes while the server runs.
    state = request.app.state
    signer = getattr(state, "session_signer", None)
    if signer is None:
        signer = URLSafeTimedSerializer(server_secret(state.settings), salt="callbot-session")
        state.session_signer = signer
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


def new_session(request: Request, account: SessionAccount | None, sid: str | None = None) -> dict[str, Any]:
    """A fresh session (new CSRF token) for `account` and its server-side token `sid`, or an anonymous
    one; saved by `save_session`."""
    data: dict[str, Any] = {"csrf": secrets.token_urlsafe(32)}
    if account is not None:
        data.update(uid=account.id, pv=account.password_version, sid=sid)
    request.state.session = data
    request.state.session_dirty = True
    return data


def save_session(request: Request, response: Response) -> None:
    """Write the session cookie if this request created or changed it."""
    if not getattr(request.state, "session_dirty", False):
        return
    value = _signer(request).dumps(request.state.session)
    response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_MAX_AGE_SECS, httponly=True,
                        samesite="lax", secure=cookie_secure(request), path="/")


def cookie_secure(request: Request) -> bool:
    """Secure cookies when the public address is https, or the request came over https."""
    public_url = str(getattr(request.app.state.settings, "public_url", ""))
    return public_url.startswith("https://") or request.url.scheme == "https"


def csrf_token_for(request: Request) -> str:
    """This visitor's CSRF token, creating an anonymous session if there is none yet."""
    session = read_session(request)
    token = session.get("csrf")
    if not token:
        token = new_session(request, None)["csrf"]
    return token


def csrf_matches(request: Request, sent: str | None) -> bool:
    """Whether `sent` is this session's CSRF token (constant-time comparison)."""
    expected = read_session(request).get("csrf") or ""
    # Bytes: compare_digest refuses non-ASCII str, and a forged token must not cause a 500.
    return bool(sent) and bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


async def verify_csrf(request: Request) -> None:
    """Dependency for state-changing requests: 403 unless the form/header token matches the session's."""
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form()
        sent = str(form.get(CSRF_FIELD) or "")
    if not csrf_matches(request, sent):
        raise HTTPException(status_code=403, detail="Jeton de sécurité (CSRF) manquant ou invalide. "
                                                    "Rechargez la page et recommencez.")
