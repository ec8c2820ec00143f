"""Erasure and retention, proven by scanning every column of every table (reflected from the
database, not listed by hand) for the resident's number in every written form and their words."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import MetaData, select
from typer.testing import CliRunner

from callbot.analytics.periods import local_today
from callbot.analytics.rollups import refresh
from callbot.cli import app as cli
from callbot.config import get_settings
from callbot.store.callbacks import create_callback
from callbot.store.calls import CallRecorder
from callbot.store.db import Database
from callbot.store.models import Call, Callback, DailyUtterance
from callbot.store.phone import written_forms
from callbot.vocabulary import Outcome

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = "erase-test-secret"
RESIDENT = "+33611112222"
DICTATED = "0687654321"  # the number the resident dictated for the callback
WORDS = ("marie martin", "rue des lilas", "jean dupont")
OTHER_WORDS = "je cherche la déchetterie"


def record(db: Database, sid: str, caller: str, said: str, age_days: int, *,
           callback: tuple[str, str] | None = None) -> None:
    async def go() -> None:
        rec = CallRecorder(db, sid)
        await rec.open(stream_sid="MZ" + sid, caller=caller, called="+33100000000", secret=SECRET.encode())
        await rec.turn("caller", said, action="fallback", fallback_reason="no_match", confidence=0.2)
        await rec.turn("bot", "Je n'ai pas compris.", action="fallback")
        if callback:
            await rec.add_callback(callback[0], callback[1], "etat_civil")
        await rec.finish(Outcome.CALLBACK if callback else Outcome.ABANDONED,
                         summary=f"rappel demandé : {said}")

    asyncio.run(go())
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == sid))
        call.started_at = call.ended_at = datetime.now(UTC) - timedelta(days=age_days)
        for cb in s.scalars(select(Callback).where(Callback.call_id == call.id)):
            cb.created_at = call.started_at
        for t in call.turns:
            t.at = call.started_at


def traces(db: Database, numbers: tuple[str, ...] = (RESIDENT, DICTATED),
           words: tuple[str, ...] = WORDS) -> list[str]:
    """Every (table.column: value) holding one of `numbers` in any written form, or one of `words`."""
    forms = {f.lower() for n in numbers for f in written_forms(n)}
    national_digits = [n[-9:] for n in numbers]
    meta = MetaData()
    meta.reflect(db.engine)
    found = []
    with db.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(table.select()):
                for column, value in zip(table.columns, row, strict=True):
                    text = str(value).lower() if value is not None else ""
                    digits = "".join(ch for ch in text if ch.isdigit())
                    if (any(f in text for f in forms) or any(w in text for w in words)
                            or any(d in digits for d in national_digits)):
                        found.append(f"{table.name}.{column.name}: {value}")
    return found


def fresh_postgres_database(request) -> str:  # noqa: ANN001
    name = f"callbot_erase_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    request.addfinalizer(drop)
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@pytest.fixture(params=["sqlite"])
def history(request, tmp_path, monkeypatch):
    if request.param == "postgresql":
        url = fresh_postgres_database(request)
    else:
        url = f"sqlite:///{tmp_path}/calls.db"
    monkeypatch.setenv("CALLBOT_DATABASE_URL", url)
    monkeypatch.setenv("CALLBOT_SECRET_KEY", SECRET)
    monkeypatch.setenv("CALLBOT_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    db = Database(url)
    db.migrate()
    # The resident called twice (Twilio's form, then a national form), left a callback request
    # with another number, and asked an agent to note one by hand; another resident called too.
    record(db, "CAvictim1", RESIDENT, "ma fille marie martin a perdu son passeport", 45,
           callback=(DICTATED, "jean dupont au 12 rue des lilas"))
    record(db, "CAvictim2", "06 11 11 22 22", "c'est encore marie martin", 3)
    create_callback(db, "06 11 11 22 22", reason="rappeler jean dupont")
    record(db, "CAother", "+33699990000", OTHER_WORDS, 3)
    refresh(db.engine, local_today())  # the dashboard's stored summaries now hold those words too
    with db.session() as s:
        assert any("marie martin" in t for t in s.scalars(select(DailyUtterance.text)))
    assert traces(db)  # the scan sees what it looks for
    yield db
    get_settings.cache_clear()


def other_resident_kept(db: Database) -> None:
    with db.session() as s:
        assert s.scalar(select(Call.call_sid)) == "CAother"
    refresh(db.engine, local_today())  # recomputed summaries keep the other resident's words
    with db.session() as s:
        assert list(s.scalars(select(DailyUtterance.text).where(DailyUtterance.service.is_(None),
                                                                 DailyUtterance.topic.is_(None)))) \
            == [OTHER_WORDS]


@pytest.mark.parametrize("history", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_access_then_erase_in_any_written_form_leaves_no_trace(history) -> None:
    shown = json.loads(CliRunner().invoke(cli, ["access", "0033611112222"]).output)
    assert shown["number"] == RESIDENT
    assert [c["call_sid"] for c in shown["calls"]] == ["CAvictim1", "CAvictim2"]
    assert "marie martin" in shown["calls"][0]["turns"][0]["text"]
    assert sorted(cb["number"] for cb in shown["callbacks"]) == ["+33611112222", "+33687654321"]

    result = CliRunner().invoke(cli, ["erase", "06 11 11 22 22"])
    assert result.exit_code == 0, result.output
    assert "2 appels et 2 demandes de rappel supprimés" in result.output
    assert traces(history) == []
    shown = json.loads(CliRunner().invoke(cli, ["access", RESIDENT]).output)
    assert shown["calls"] == [] and shown["callbacks"] == []
    other_resident_kept(history)


def test_purge_leaves_no_trace_of_what_is_older_than_the_retention(history) -> None:
    # Only the first call (45 days old) and its callback request are past the 30 days kept.
    old = {"numbers": (DICTATED,), "words": ("passeport", "rue des lilas")}
    assert traces(history, **old)
    result = CliRunner().invoke(cli, ["purge"])
    assert result.exit_code == 0, result.output
    assert "1 appels et 1 demandes de rappel de plus de 30 jours supprimés" in result.output
    assert traces(history, **old) == []
    with history.session() as s:
        assert set(s.scalars(select(Call.call_sid))) == {"CAvictim2", "CAother"}
