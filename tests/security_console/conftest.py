"""One app for the console's security tests: tight login limits so a brute force is short."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from callbot.store.db import Database
from callbot.web.accounts import create_user
from tests.agents.conftest import make_settings

PASSWORD = "motdepasse-solide"
FREE_FAILURES = 2
IP_FREE_FAILURES = 3
ANOTHER_ADDRESS = ("203.0.113.50", 50000)


@pytest.fixture(scope="session")
def secure_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The app as deployed behind TLS (CALLBOT_PUBLIC_URL https), with small login limits."""
    from callbot.app import create_app

    tmp: Path = tmp_path_factory.mktemp("security")
    settings = make_settings(tmp, login_free_failures=FREE_FAILURES, login_ip_free_failures=IP_FREE_FAILURES)
    app = create_app(settings, speech=False)
    with TestClient(app):
        db: Database = app.state.db
        for name in ("alice", "cible", "bob", "chloe"):
            create_user(db, name, PASSWORD, "agent")
        create_user(db, "marc", PASSWORD, "manager")
        yield app


def browser(app: object, address: tuple[str, int] = ("testclient", 50000), *,
            https: bool = True) -> TestClient:
    """A fresh browser from `address`. Behind the TLS proxy the server sees plain http; the test
    browser speaks https so that it sends the Secure cookie back, as a real one would."""
    return TestClient(app, base_url="https://testserver" if https else "http://testserver", client=address)
