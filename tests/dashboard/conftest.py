"""A small call history whose every figure is known, on SQLite and PostgreSQL, and logged-in clients."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from callbot.store.db import Database
from callbot.store.models import Call, Callback, Turn

PARIS = ZoneInfo("Europe/Paris")
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# The period under test: Monday 2 to Sunday 8 November 2026 (Paris), previous period 26/10–01/11.
FROM, TO = "2026-11-02", "2026-11-08"
NOW = datetime(2026, 11, 9, 10, 0, tzinfo=PARIS)
PASSWORD = "motdepasse-solide"


def utc(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _call(sid: str, start: datetime, minutes: float, outcome: str, **kw: object) -> Call:
    return Call(
        call_sid=sid,
        started_at=start,
        ended_at=start + timedelta(minutes=minutes),
        outcome=outcome,
        caller_masked="06 ** ** ** 12",
        **kw,
    )


def _turn(seq: int, call_start: datetime, text: str, action: str, response_ms: float, **kw: object) -> Turn:
    return Turn(
        seq=seq,
        speaker="caller",
        text=text,
        at=call_start + timedelta(seconds=10 + seq),
        action=action,
        response_ms=response_ms,
        **kw,
    )


def insert_known_history(db: Database) -> None:
    """Six calls in the period, one just after it (Paris midnight), two in the previous period."""
    c1s, c2s, c3s, c9s = utc(2, 8, 0), utc(2, 8, 2), utc(2, 8, 4), utc(1, 23, 30)
    with db.session() as s:
        c1 = _call(
            "CA1",
            c1s,
            5,
            "resolved",
            topic="identite",
            intent="identite.rendez_vous",
            service="État civil",
            satisfaction=5,
        )
        c1.turns = [
            _turn(
                0,
                c1s,
                "je voudrais une carte d'identité",
                "answer",
                500,
                intent="identite.rendez_vous",
                topic="identite",
                confidence=0.9,
            )
        ]
        c2 = _call(
            "CA2",
            c2s,
            8,
            "transferred",
            topic="parler_agent",
            intent="parler_agent.demande",
            service="Accueil",
            transfer_kind="queue",
            transfer_reason="asked_agent",
            queued_at=utc(2, 8, 3),
            picked_up_at=utc(2, 8, 4),
            queue_result="bridged",
        )
        c2.turns = [_turn(0, c2s, "je veux parler à quelqu'un", "transfer", 700)]
        c3 = _call(
            "CA3",
            c3s,
            2,
            "transferred",
            topic="identite",
            intent="identite.perte",
            service="État civil",
            transfer_kind="queue",
            transfer_reason="misunderstanding",
            queued_at=utc(2, 8, 5),
            queue_result="hangup",
        )
        c3.turns = [
            _turn(
                0,
                c3s,
                "euh c'est pour le truc",
                "fallback",
                900,
                confidence=0.3,
                fallback_reason="meilleure intention 0.30 < seuil 0.55",
            ),
            _turn(
                1,
                c3s,
                "Euh c'est pour le truc là",
                "fallback",
                1100,
                confidence=0.2,
                fallback_reason="meilleure intention 0.20 < seuil 0.55",
            ),
        ]
        c4 = _call("CA4", utc(3, 13, 30), 1, "abandoned")
        c5s = utc(4, 9, 0)
        c5 = _call(
            "CA5", c5s, 3, "callback", topic="urbanisme", intent="urbanisme.permis", service="Urbanisme"
        )
        c5.turns = [_turn(0, c5s, "je voudrais un permis de construire", "callback", 800)]
        c9 = _call(
            "CA9",
            c9s,
            2,
            "resolved",
            topic="horaires_contact",
            intent="horaires_contact.horaires",
            service="Accueil",
            satisfaction=3,
        )
        c9.turns = [
            _turn(
                0, c9s, "horaires mairie", "confirm", 600, intent="horaires_contact.horaires", confidence=0.5
            )
        ]
        # 23:30 UTC on Sunday 8 is 00:30 Paris on Monday 9: outside the period (and c9, 23:30 UTC on
        # Sunday 1, is 00:30 Paris on Monday 2: inside).
        c6 = _call("CA6", utc(8, 23, 30), 2, "resolved", topic="identite", service="État civil")
        c7 = _call("CA7", utc(31, 10, 0, month=10), 2, "resolved", topic="identite", service="État civil")
        c8 = _call(
            "CA8",
            utc(30, 10, 0, month=10),
            2,
            "transferred",
            topic="urbanisme",
            service="Urbanisme",
            transfer_reason="topic",
        )
        s.add_all([c1, c2, c3, c4, c5, c9, c6, c7, c8])
        s.flush()
        s.add(
            Callback(
                call_id=c5.id,
                created_at=utc(4, 9, 3),
                number="+33612345678",
                reason="permis",
                topic="urbanisme",
            )
        )


@pytest.fixture()
def sqlite_db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'dash.db'}")
    db.migrate()
    insert_known_history(db)
    return db


@pytest.fixture()
def pg_url() -> Iterator[str]:
    name = f"callbot_dashboard_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def known_db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_db")
        return
    db = Database(request.getfixturevalue("pg_url"))
    db.migrate()
    insert_known_history(db)
    yield db
    db.engine.dispose()


def make_settings(url: str, port: int = 8000):  # noqa: ANN201
    from callbot.config import Settings

    return Settings(
        database_url=url,
        secret_key="dashboard-test-secret",
        now=NOW,
        log_level="WARNING",
        port=port,
        public_url=f"http://127.0.0.1:{port}",
    )


def add_users(db: Database) -> None:
    from callbot.web.accounts import create_user

    create_user(db, "marie", PASSWORD, "manager")
    create_user(db, "paul", PASSWORD, "agent")


def login(client, username: str) -> None:  # noqa: ANN001
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


@pytest.fixture()
def app_client(sqlite_db: Database):  # noqa: ANN201
    from fastapi.testclient import TestClient

    from callbot.app import create_app

    add_users(sqlite_db)
    app = create_app(make_settings(sqlite_db.url), speech=False)
    with TestClient(app) as client:
        yield client
