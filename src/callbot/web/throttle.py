"""Login throttling: failed logins slow down an account and an address; argon2 checks are bounded.

- Per account name and per client address: the first `free` failures cost nothing; each further
  failure locks the key for `lock_secs`, doubled at every failure, up to `lock_max_secs`. While a
  key is locked, the login answers 429 with a French message *without checking the password*, so
  a brute force costs the server no argon2 work. A success clears the account's counter (the
  address's counter decays on its own: a shared town-hall NAT must not reset an attacker's count).
- Password checks (argon2: ~50 ms of CPU and 64 MiB each) run at most `concurrent` at a time;
  the others wait their turn, and give up with 503 after `MAX_QUEUE_WAIT_SECS`.

State is kept in memory, **per server process**: with N processes an attacker gets at most N times
the free failures before every process locks. Good enough against guessing (the lock doubles), and
it needs neither the database nor a shared cache on the login path.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

MAX_KEYS = 10_000  # memory bound: the oldest idle keys are forgotten first
FORGET_AFTER_SECS = 24 * 3600  # failures this old no longer count
MAX_QUEUE_WAIT_SECS = 10.0


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    """Failure counters for account names and addresses, with exponential lock-outs."""

    def __init__(self, *, free: int, ip_free: int, lock_secs: float, lock_max_secs: float,
                 concurrent: int, clock=time.monotonic) -> None:  # noqa: ANN001
        self.free, self.ip_free = free, ip_free
        self.lock_secs, self.lock_max_secs = lock_secs, lock_max_secs
        self.concurrent = concurrent
        self._clock = clock
        self._keys: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()
        self._checks: asyncio.Semaphore | None = None

    @staticmethod
    def account_key(username: str) -> str:
        return "u:" + username.strip().casefold()

    @staticmethod
    def address_key(address: str) -> str:
        return "ip:" + address

    def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again (0: go ahead)."""
        now = self._clock()
        with self._lock:
            waits = [self._keys[k].locked_until - now for k in keys if k in self._keys]
        return max([0.0, *waits])

    def failed(self, account: str, address: str) -> None:
        """Count one failed login for both keys; lock them once past their free failures."""
        now = self._clock()
        with self._lock:
            for key, free in ((account, self.free), (address, self.ip_free)):
                entry = self._keys.pop(key, None) or _Failures()
                if now - entry.last > FORGET_AFTER_SECS:
                    entry = _Failures()
                entry.count += 1
                entry.last = now
                over = entry.count - free
                if over > 0:
                    wait = min(self.lock_max_secs, self.lock_secs * 2 ** min(over - 1, 30))
                    entry.locked_until = now + wait
                self._keys[key] = entry
            while len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._keys.pop(account, None)

    async def checking(self) -> asyncio.Semaphore:
        """The semaphore that bounds concurrent password checks (created on the server's loop)."""
        if self._checks is None:
            self._checks = asyncio.Semaphore(self.concurrent)
        return self._checks


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


class LoginBusy(Exception):
    """Too many password checks queued: the login is refused for now (503)."""


async def bounded(throttle: LoginThrottle, work):  # noqa: ANN001, ANN201
    """Run `work()` (an awaitable factory) once a password-check slot is free; `LoginBusy` when the
    wait is too long (the server is saturated by logins)."""
    semaphore = await throttle.checking()
    try:
        await asyncio.wait_for(semaphore.acquire(), timeout=MAX_QUEUE_WAIT_SECS)
    except TimeoutError:
        raise LoginBusy from None
    try:
        return await work()
    finally:
        semaphore.release()
