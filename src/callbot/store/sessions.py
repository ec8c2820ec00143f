"""Server-side console sessions: a session is valid only while its row exists.

The cookie carries a random token; the table keeps only its SHA-256, so a copy of the database
does not hand out valid cookies. Logout deletes one row; a password change or a disabled account
deletes all of that user's rows (``close_all``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callbot.store.db import Database
from callbot.store.models import ConsoleSession


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(db: Database, user_id: int, max_age_secs: float) -> str:
    """A new session for `user_id`; returns the token to put in the cookie. Drops expired rows."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with db.session() as s:
        expired = now - timedelta(seconds=max_age_secs)
        s.execute(delete(ConsoleSession).where(ConsoleSession.created_at < expired))
        s.add(ConsoleSession(token_hash=_hash(token), user_id=user_id, created_at=now))
    return token


def session_user(db: Database, token: str) -> int | None:
    """The user id of a live session, or None (logged out, revoked, unknown)."""
    with db.session() as s:
        return s.scalar(select(ConsoleSession.user_id).where(ConsoleSession.token_hash == _hash(token)))


def close_session(db: Database, token: str) -> None:
    with db.session() as s:
        s.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _hash(token)))


def close_all(s: Session, user_id: int) -> None:
    """End every session of a user, inside the caller's transaction (password change, disable)."""
    s.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))
