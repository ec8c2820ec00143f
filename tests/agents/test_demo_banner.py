"""Every page says so when the server runs on the package-shipped test models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.agents.conftest import MANAGER, login

BANNER = "Modèles de démonstration : la reconnaissance ne comprend pas le français"
PAGES = ("/login", "/agents", "/agents/callbacks", "/agents/history", "/dashboard", "/agents/calls/CAnone")


@pytest.fixture
def demo_models(console_app: object) -> Iterator[None]:
    runtime = console_app.state.runtime
    runtime.models = "demo"
    try:
        yield
    finally:
        runtime.models = "configured"


def test_every_page_shows_the_demo_banner(client: TestClient, demo_models: None) -> None:
    assert BANNER in client.get("/login").text
    login(client, MANAGER)
    for path in PAGES:
        page = client.get(path, headers={"Accept": "text/html"})
        assert BANNER in page.text, path


def test_no_banner_with_the_configured_models(client: TestClient) -> None:
    login(client, MANAGER)
    for path in PAGES:
        assert BANNER not in client.get(path, headers={"Accept": "text/html"}).text, path
