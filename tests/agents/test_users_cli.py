"""`callbot users add|passwd|list`: accounts created on the command line can log in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from callbot.cli import app as cli
from callbot.config import get_settings
from tests.agents.conftest import csrf_from, make_settings


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    monkeypatch.setenv("CALLBOT_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def can_log_in(client: TestClient, username: str, password: str) -> bool:
    client.cookies.clear()
    page = client.get("/login")
    form = {"username": username, "password": password, "csrf_token": csrf_from(page.text)}
    return client.post("/login", data=form, follow_redirects=False).status_code == 303


def test_add_list_passwd_then_log_in(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(cli, ["users", "add", "claire", "--role", "manager"], input="premier-secret\n")
    assert added.exit_code == 0, added.output
    assert "claire" in added.output
    listed = runner.invoke(cli, ["users", "list", "--json"])
    (row,) = json.loads(listed.output)
    assert (row["username"], row["role"], row["active"]) == ("claire", "manager", True)
    plain = runner.invoke(cli, ["users", "list"]).output
    assert "claire" in plain and "manager" in plain
    changed = runner.invoke(cli, ["users", "passwd", "claire"], input="second-secret\n")
    assert changed.exit_code == 0, changed.output
    from callbot.app import create_app

    with TestClient(create_app(make_settings(tmp_path, database_url=db_url), speech=False),
                    base_url="https://testserver") as client:
        assert can_log_in(client, "claire", "second-secret")
        assert not can_log_in(client, "claire", "premier-secret")


def test_refusals_are_clear_and_exit_non_zero(db_url: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["users", "add", "dora"], input="long-enough\n").exit_code == 0
    again = runner.invoke(cli, ["users", "add", "dora"], input="long-enough\n")
    assert again.exit_code == 1 and "existe déjà" in again.output
    short = runner.invoke(cli, ["users", "add", "eric"], input="court\n")
    assert short.exit_code == 1 and "au moins 8 caractères" in short.output
    role = runner.invoke(cli, ["users", "add", "fanny", "--role", "admin"], input="long-enough\n")
    assert role.exit_code == 1 and "Rôle inconnu" in role.output
    unknown = runner.invoke(cli, ["users", "passwd", "personne"], input="long-enough\n")
    assert unknown.exit_code == 1 and "introuvable" in unknown.output
