"""Failed console logins per key (an account name or a client address), shared by every process.

``wait(db, keys, now)``: seconds until all keys may try again. ``record(db, key, now, lock_for)``:
count one failure and lock the key for ``lock_for(count)`` seconds (0: not yet). ``clear``: a
success. Rows idle for ``FORGET_AFTER_SECS`` are forgotten (and dropped as failures come in).
Keys are stored hashed: what someone typed as a name (sometimes a password) is never kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from callbot.store.db import Database
from callbot.store.models import LoginFailure

FORGET_AFTER_SECS = 24 * 3600


def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def wait(db: Database, keys: Iterable[str], now: float) -> float:
    hashed = [_hashed(k) for k in keys]
    with db.session() as s:
        until = s.scalars(select(LoginFailure.locked_until).where(LoginFailure.key.in_(hashed))).all()
    return max([0.0, *(u - now for u in until)])


def record(db: Database, key: str, now: float, lock_for: Callable[[int], float]) -> float:
    """Count one failure of `key`; returns how long it is now locked (0: still free)."""
    key = _hashed(key)
    for attempt in (1, 2):
        try:
            with db.session() as s:
                row = s.get(LoginFailure, key, with_for_update=True)
                if row is None:
                    s.execute(delete(LoginFailure).where(LoginFailure.last_failure < now - FORGET_AFTER_SECS))
                    row = LoginFailure(key=key, count=0, locked_until=0.0, last_failure=now)
                    s.add(row)
                elif now - row.last_failure > FORGET_AFTER_SECS:
                    row.count = 0
                row.count += 1
                row.last_failure = now
                lock = lock_for(row.count)
                if lock > 0:
                    row.locked_until = now + lock
                return lock
        except IntegrityError:  # another process inserted the same key first: count on its row
            if attempt == 2:
                raise
    return 0.0


def clear(db: Database, key: str) -> None:
    with db.session() as s:
        s.execute(delete(LoginFailure).where(LoginFailure.key == _hashed(key)))
