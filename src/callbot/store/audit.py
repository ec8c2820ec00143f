"""The audit log: who did what to personal data, and when (accountability, GDPR art. 5.2).

``record(db, actor, action, target, **detail)`` appends one entry; ``entries(db, …)`` reads them
back, newest first. Actors are console usernames, or ``cli:<system user>`` for commands.
Entries never hold caller words or numbers: a target is a CallSid, a callback id, an export name;
an erasure records counts, not the number erased.

Actions used: ``call.viewed``, ``call.taken``, ``export.csv``, ``export.yaml``, ``callback.updated``,
``user.added``, ``user.disabled``, ``user.enabled``, ``user.password``, ``data.erased``,
``data.purged``, ``login.locked``.
"""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from callbot.store.db import Database
from callbot.store.models import AuditEntry

log = logging.getLogger(__name__)
MAX_ENTRIES = 1000


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        at = self.at if self.at.tzinfo else self.at.replace(tzinfo=UTC)
        return {"at": at.isoformat(), "actor": self.actor, "action": self.action, "target": self.target,
                "detail": self.detail}


def cli_actor() -> str:
    """Who ran a command: the system account (the audit trail of the command line)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "cli"


def record(db: Database, actor: str, action: str, target: str | None = None, **detail: Any) -> bool:
    """Append one entry. A failure is logged and reported (False), never raised: the user's action
    itself already happened and must not be turned into an error page."""
    try:
        with db.session() as s:
            s.add(AuditEntry(at=datetime.now(UTC), actor=actor[:80], action=action[:40],
                             target=None if target is None else str(target)[:200], detail=detail or None))
        return True
    except SQLAlchemyError as error:
        log.error("audit entry not written (%s by %s): %s", action, actor, type(error).__name__)
        return False


def prune(db: Database, keep_days: int) -> int:
    """Drop entries older than `keep_days` (run by `callbot purge`); returns how many."""
    cutoff = datetime.now(UTC) - timedelta(days=keep_days)
    with db.session() as s:
        return s.execute(delete(AuditEntry).where(AuditEntry.at < cutoff)).rowcount or 0


def entries(db: Database, *, since: datetime | None = None, until: datetime | None = None,
            actor: str | None = None, limit: int = MAX_ENTRIES) -> list[Entry]:
    """Entries newest first, optionally from `since` (inclusive) to `until` (exclusive), one actor."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    with db.session() as s:
        return [Entry(e.at, e.actor, e.action, e.target, e.detail or {}) for e in s.scalars(query)]
