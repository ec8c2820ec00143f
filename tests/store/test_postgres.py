"""The same schema and recorder on the local PostgreSQL (CALLBOT_DATABASE_URL may point there)."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest
from sqlalchemy import select

from callbot.store.calls import CallRecorder
from callbot.store.db import Database
from callbot.store.models import Call
from callbot.vocabulary import Outcome

pytestmark = pytest.mark.postgres
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture()
def pg_url():
    name = f"callbot_store_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_migrations_and_a_recorded_call_on_postgresql(pg_url) -> None:
    db = Database(pg_url)
    db.migrate()
    db.migrate()  # idempotent: a second server process starting must not fail

    async def a_call() -> None:
        rec = CallRecorder(db, "CApg")
        await rec.open(stream_sid="MZpg", caller="+33612345678", called="+33100000000", secret=b"k")
        tid = await rec.turn("caller", "je veux un passeport", intent="cni_passeport_rdv",
                             topic="identite", confidence=0.91, action="answer")
        await rec.set_turn_latency(tid, 612.5)
        await rec.turn("bot", "Pour un passeport, prenez rendez-vous…", action="answer")
        await rec.finish(Outcome.ABANDONED)
        await rec.finish(Outcome.RESOLVED)  # a decided outcome wins over abandoned, not the reverse
        await rec.finish(Outcome.ABANDONED)

    asyncio.run(a_call())
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == "CApg"))
        assert call.outcome == Outcome.RESOLVED
        assert [t.speaker for t in call.turns] == ["caller", "bot"]
        assert call.turns[0].response_ms == 612.5
        assert call.caller_hash and "612345678" not in call.caller_hash
    db.engine.dispose()
