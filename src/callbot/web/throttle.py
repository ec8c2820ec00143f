"""Login throttling: failed logins slow down an account and an address; argon2 checks are bounded.

- Per account name and per client address: the first `free` failures cost nothing; each further
  failure locks the key for `lock_secs`, doubled at every failure, up to `lock_max_secs`. While a
  key is locked, the login answers 429 with a French message *without checking the password*, so
  a brute force costs the server no argon2 work. A success clears the account's counter (the
  address's counter is left alone: a shared town-hall NAT must not reset an attacker's count).
  Counters live in the database (store/login_failures.py), so the limits hold **across server
  processes** and restarts.
- Password checks (argon2: ~50 ms of CPU and 64 MiB each) run at most `concurrent` at a time
  **per process**; the others wait their turn, and give up with 503 after `MAX_QUEUE_WAIT_SECS`.

The blocking calls (database) are meant to run in the thread pool, as the login route does.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from callbot.store import login_failures
from callbot.store.db import Database

MAX_QUEUE_WAIT_SECS = 10.0
T = TypeVar("T")


class LoginBusy(Exception):
    """Too many password checks queued: the login is refused for now (503)."""


class LoginThrottle:
    """Failure counters for account names and addresses, with exponential lock-outs."""

    def __init__(self, db: Database, *, free: int, ip_free: int, lock_secs: float, lock_max_secs: float,
                 concurrent: int, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.free, self.ip_free = free, ip_free
        self.lock_secs, self.lock_max_secs = lock_secs, lock_max_secs
        self.concurrent = concurrent
        self._clock = clock
        self._checks: asyncio.Semaphore | None = None

    @staticmethod
    def account_key(username: str) -> str:
        return "u:" + username.strip().casefold()[:150]

    @staticmethod
    def address_key(address: str) -> str:
        return "ip:" + address[:150]

    def lock_after(self, failures: int, free: int) -> float:
        """Seconds a key is locked after its `failures`-th failure (0 while within `free`)."""
        over = failures - free
        if over <= 0:
            return 0.0
        return min(self.lock_max_secs, self.lock_secs * 2 ** min(over - 1, 30))

    def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again (0: go ahead)."""
        return login_failures.wait(self.db, keys, self._clock())

    def failed(self, account: str, address: str) -> float:
        """Count one failed login for both keys; returns the longest lock it set (0: none)."""
        now = self._clock()
        return max(
            login_failures.record(self.db, account, now, lambda n: self.lock_after(n, self.free)),
            login_failures.record(self.db, address, now, lambda n: self.lock_after(n, self.ip_free)),
        )

    def succeeded(self, account: str) -> None:
        login_failures.clear(self.db, account)

    async def bounded(self, work: Callable[[], Awaitable[T]]) -> T:
        """Await `work()` once a password-check slot of this process is free; `LoginBusy` when the
        wait is too long (the server is saturated by logins)."""
        if self._checks is None:  # created on the server's event loop
            self._checks = asyncio.Semaphore(self.concurrent)
        try:
            await asyncio.wait_for(self._checks.acquire(), timeout=MAX_QUEUE_WAIT_SECS)
        except TimeoutError:
            raise LoginBusy from None
        try:
            return await work()
        finally:
            self._checks.release()


def wait_message(seconds: float) -> str:
    """The French notice for a locked login ("réessayez dans 2 minutes")."""
    if seconds < 60:
        n = max(1, math.ceil(seconds))
        delay = f"{n} seconde{'s' if n > 1 else ''}"
    else:
        n = math.ceil(seconds / 60)
        delay = f"{n} minute{'s' if n > 1 else ''}"
    return (f"Trop de tentatives de connexion infructueuses. Par sécurité, réessayez dans {delay}. "
            "En cas d'oubli, demandez à un responsable de changer votre mot de passe.")
