"""Fixtures for the agents' console: an app without speech models, accounts, queued calls."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from callbot.config import Settings
from callbot.store.db import Database
from callbot.store.models import Call, Turn
from callbot.vocabulary import Outcome, TransferReason
from callbot.web.accounts import create_user
from tests.conftest import REPO, free_port, start_server

AGENT = ("alice", "motdepasse-alice")
MANAGER = ("marc", "motdepasse-marc")
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        database_url=f"sqlite:///{tmp_path / 'console.db'}", flows=REPO / "flows",
        secret_key="agents-test-secret",
        public_url="https://mairie.example.org", log_level="WARNING", prompt_cache_dir=tmp_path / "prompts",
    )
    values.update(overrides)
    return Settings(**values)


def add_accounts(db: Database) -> None:
    create_user(db, AGENT[0], AGENT[1], "agent")
    create_user(db, MANAGER[0], MANAGER[1], "manager")


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, who: tuple[str, str]) -> str:
    """Log in through the form; returns the session's CSRF token (as the next page carries it)."""
    page = client.get("/login")
    response = client.post("/login", data={"username": who[0], "password": who[1],
                                            "csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/agents").text)


def transferred_call(db: Database, call_sid: str, *, summary: str = "Demande de passeport",
                     topic: str = "identite", intent: str = "passeport", queue: str = "accueil",
                     queued_secs_ago: float | None = 125, turns: tuple[tuple[str, str], ...] = (
                         ("bot", "Mairie de Saint-Démo-sur-Loire, bonjour. Que puis-je pour vous ?"),
                         ("caller", "je voudrais refaire mon passeport il est périmé"),
                         ("bot", "Je vous passe un agent de l'accueil."),
                     ), reason: str = TransferReason.TOPIC) -> None:
    """A call the bot handed to a human queue, as the telephony code records it.

    `queued_secs_ago=None` leaves it not yet queued (the after-stream webhook queues it)."""
    now = datetime.now(UTC)
    with db.session() as s:
        call = Call(call_sid=call_sid, started_at=now - timedelta(seconds=(queued_secs_ago or 0) + 40),
                    outcome=Outcome.TRANSFERRED, topic=topic, intent=intent, summary=summary,
                    transfer_kind="queue", transfer_target=queue, transfer_reason=reason,
                    caller_masked="+336••••••78",
                    queued_at=None if queued_secs_ago is None else now - timedelta(seconds=queued_secs_ago))
        s.add(call)
        s.flush()
        for i, (speaker, text) in enumerate(turns):
            at = now - timedelta(seconds=60 - i)
            s.add(Turn(call_id=call.id, seq=i, speaker=speaker, text=text, at=at))


@pytest.fixture(scope="session")
def console_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One started app for the HTTP tests (start-up migrates and loads flows: done once)."""
    from callbot.app import create_app

    app = create_app(make_settings(tmp_path_factory.mktemp("console")), speech=False)
    with TestClient(app):
        add_accounts(app.state.db)
        yield app


@pytest.fixture
def client(console_app: object) -> TestClient:
    """A fresh browser (its own cookies) on the shared app. Tests use their own CallSids."""
    return TestClient(console_app, base_url="https://testserver")


@dataclass
class ThreadServer:
    url: str
    app: object
    server: object

    @property
    def db(self) -> Database:
        return self.app.state.db


def serve_in_thread(settings: Settings) -> tuple[ThreadServer, threading.Thread]:
    app, server, thread = start_server(settings, speech=False)
    return ThreadServer(url=f"http://127.0.0.1:{settings.port}", app=app, server=server), thread


@pytest.fixture(scope="module")
def live_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    """A real HTTP server (uvicorn in a thread) for browser tests; tests use their own CallSids."""
    port = free_port()
    settings = make_settings(tmp_path_factory.mktemp("live"), port=port, public_url=f"http://127.0.0.1:{port}")
    running, thread = serve_in_thread(settings)
    add_accounts(running.db)
    yield running
    running.server.should_exit = True
    thread.join(timeout=10)
