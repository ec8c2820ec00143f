"""Guessing passwords: an account or an address that keeps failing gets a 429 and a French wait."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from callbot.web.throttle import LoginThrottle
from tests.agents.conftest import csrf_from
from tests.security_console.conftest import FREE_FAILURES, IP_FREE_FAILURES, PASSWORD, browser


def try_login(client: TestClient, username: str, password: str):  # noqa: ANN201
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                        "csrf_token": csrf_from(page.text)}, follow_redirects=False)


def test_guessing_one_accounts_password_locks_that_account(secure_app: object) -> None:
    attacker = browser(secure_app, ("198.51.100.7", 40000))
    for i in range(FREE_FAILURES + 1):
        response = try_login(attacker, "cible", f"devinette-{i}")
        assert response.status_code == 401, i
    # Locked now: even the right password is refused, before any check, with a wait in French.
    locked = try_login(attacker, "cible", PASSWORD)
    assert locked.status_code == 429
    assert "Trop de tentatives de connexion" in locked.text and "réessayez dans" in locked.text
    assert int(locked.headers["retry-after"]) > 0
    # The lock is on the account, wherever the next guess comes from.
    assert try_login(browser(secure_app, ("198.51.100.8", 40000)), "cible", PASSWORD).status_code == 429
    # Colleagues are not locked out, even from the attacker's address (a shared town-hall NAT).
    assert try_login(attacker, "alice", PASSWORD).status_code == 303
    # Managers see the lock in the audit log (the account, the address; never what was typed).
    from callbot.store.audit import entries

    (lock,) = [e for e in entries(secure_app.state.db, actor="cible") if e.action == "login.locked"]
    assert lock.target == "198.51.100.7" and lock.detail["seconds"] > 0
    # The failure counters keep no typed name (a password typed in the wrong field).
    from sqlalchemy import select

    from callbot.store.models import LoginFailure

    with secure_app.state.db.session() as s:
        keys = s.scalars(select(LoginFailure.key)).all()
    assert keys and not any("cible" in k or "198.51" in k for k in keys)


def test_spraying_many_accounts_from_one_address_locks_that_address(secure_app: object) -> None:
    sprayer = browser(secure_app, ("198.51.100.9", 40000))
    names = ["chloe", "inconnu1", "inconnu2", "inconnu3"]
    assert len(names) > IP_FREE_FAILURES
    statuses = [try_login(sprayer, name, "motdepasse-courant").status_code for name in names]
    assert statuses == [401] * len(names)
    from callbot.store.audit import entries

    assert any(e.actor == "(compte inconnu)" and e.target == "198.51.100.9"
               for e in entries(secure_app.state.db) if e.action == "login.locked")
    assert try_login(sprayer, "bob", PASSWORD).status_code == 429
    # Another address still logs in, with the same account.
    assert try_login(browser(secure_app, ("198.51.100.10", 40000)), "bob", PASSWORD).status_code == 303


def test_the_lock_holds_in_every_server_process(secure_app: object) -> None:
    """Counters are in the database: guesses spread over two processes add up, and the lock
    holds in both."""
    from callbot.app import create_app
    from callbot.web.accounts import create_user

    create_user(secure_app.state.db, "gaspard", PASSWORD, "agent")
    second = create_app(secure_app.state.settings, speech=False)
    with TestClient(second):
        first_process = browser(secure_app, ("198.51.100.20", 40000))
        second_process = browser(second, ("198.51.100.20", 40000))
        for i in range(FREE_FAILURES + 1):
            guesser = first_process if i % 2 else second_process
            assert try_login(guesser, "gaspard", f"devinette-{i}").status_code == 401
        assert try_login(first_process, "gaspard", PASSWORD).status_code == 429
        assert try_login(second_process, "gaspard", PASSWORD).status_code == 429


def test_the_lock_doubles_with_each_failure_and_ends(secure_app: object) -> None:
    now = [1000.0]
    throttle = LoginThrottle(secure_app.state.db, free=2, ip_free=100, lock_secs=30, lock_max_secs=100,
                             concurrent=1, clock=lambda: now[0])
    user, ip = throttle.account_key("Horloge "), throttle.address_key("192.0.2.1")
    assert throttle.account_key("horloge") == user  # the same account however it is typed
    throttle.failed(user, ip)
    throttle.failed(user, ip)
    assert throttle.retry_after(user) == 0
    waits = []
    for _ in range(4):
        throttle.failed(user, ip)
        waits.append(throttle.retry_after(user))
    assert waits == [30, 60, 100, 100]  # doubled, then capped
    now[0] += 101
    assert throttle.retry_after(user, ip) == 0
    throttle.succeeded(user)
    throttle.failed(user, ip)
    assert throttle.retry_after(user) == 0  # a success started the count again


def test_password_checks_run_a_bounded_number_at_a_time(secure_app: object) -> None:
    throttle = LoginThrottle(secure_app.state.db, free=5, ip_free=5, lock_secs=1, lock_max_secs=1,
                             concurrent=2)
    running, peak = 0, 0

    async def check() -> bool:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return True

    async def many() -> list[bool]:
        return await asyncio.gather(*(throttle.bounded(check) for _ in range(8)))

    assert asyncio.run(many()) == [True] * 8
    assert peak == 2
