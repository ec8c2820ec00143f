"""Retention limits and erasure, through the `callbot purge` / `callbot erase` commands."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import MetaData, func, select, update
from typer.testing import CliRunner

from callbot.analytics.periods import local_day
from callbot.cli import app as cli
from callbot.config import get_settings
from callbot.store.calls import CallRecorder
from callbot.store.db import Database
from callbot.store.models import Call, Callback, DailyRollup, Turn
from callbot.vocabulary import Outcome


def record(db: Database, sid: str, caller: str, age_days: int, secret: bytes) -> None:
    async def go() -> None:
        rec = CallRecorder(db, sid)
        await rec.open(stream_sid="MZ1", caller=caller, called="+331", secret=secret)
        await rec.turn("caller", "je voudrais un acte de naissance")
        await rec.add_callback(caller, "acte de naissance", "etat_civil")
        await rec.finish(Outcome.CALLBACK)

    asyncio.run(go())
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == sid))
        call.started_at = datetime.now(UTC) - timedelta(days=age_days)
        for cb in s.scalars(select(Callback).where(Callback.call_id == call.id)):
            cb.created_at = call.started_at


def callbot(env: dict, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "callbot.cli", *args], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout


def counts(db: Database) -> tuple[int, int, int]:
    with db.session() as s:
        return (s.scalar(select(func.count(Call.id))), s.scalar(select(func.count(Turn.id))),
                s.scalar(select(func.count(Callback.id))))


def test_purge_and_erase(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/calls.db"
    env = {**os.environ, "CALLBOT_DATABASE_URL": url, "CALLBOT_SECRET_KEY": "k",
           "CALLBOT_RETENTION_DAYS": "30"}
    db = Database(url)
    db.migrate()
    record(db, "CAold", "+33611111111", 45, b"k")
    record(db, "CAnew", "+33622222222", 2, b"k")
    record(db, "CAnew2", "+33633333333", 1, b"k")
    assert counts(db) == (3, 3, 3)

    assert "1 appels et 1 demandes" in callbot(env, "purge")
    assert counts(db) == (2, 2, 2)

    assert "1 appels et 1 demandes" in callbot(env, "erase", "+33622222222")
    assert counts(db) == (1, 1, 1)
    with db.session() as s:
        assert s.scalar(select(Call.call_sid)) == "CAnew2"
        # The number is never stored on the call itself, only masked.
        assert s.scalar(select(Call.caller_masked)) == "+336••••••33"


WORDS = "madame michu"  # what a purged caller said, unrecognised: a stored wording of the day


def said(db: Database, sid: str, caller: str, words: str, at: datetime) -> None:
    async def go() -> None:
        rec = CallRecorder(db, sid)
        await rec.open(stream_sid="MZ" + sid, caller=caller, called="+331", secret=b"k")
        await rec.turn("caller", words, action="fallback", fallback_reason="no_match", confidence=0.2)
        await rec.add_callback(caller, words, "etat_civil")
        await rec.finish(Outcome.CALLBACK)

    asyncio.run(go())
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == sid))
        call.started_at = call.ended_at = at
        for row in (*call.turns, *s.scalars(select(Callback).where(Callback.call_id == call.id))):
            setattr(row, "at" if isinstance(row, Turn) else "created_at", at)


def stats(day: date) -> dict:
    out = CliRunner().invoke(cli, ["stats", "--json", "--from", day.isoformat(), "--to", day.isoformat()])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def anywhere(db: Database, word: str) -> list[str]:
    """Every table.column, in every table of the database, whose value holds `word`."""
    meta = MetaData()
    meta.reflect(db.engine)
    with db.engine.connect() as conn:
        return [f"{t.name}.{c.name}" for t in meta.sorted_tables for row in conn.execute(t.select())
                for c, v in zip(t.columns, row, strict=True) if v is not None and word in str(v).lower()]


def test_purge_keeps_the_anonymous_figures_of_the_days_it_empties(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path}/calls.db"
    env = {"CALLBOT_DATABASE_URL": url, "CALLBOT_SECRET_KEY": "k", "CALLBOT_RETENTION_DAYS": "90"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    db = Database(url)
    db.migrate()
    now = datetime.now(UTC)
    said(db, "CAold1", "+33611111111", f"je cherche {WORDS}", now - timedelta(days=100))
    said(db, "CAold2", "+33622222222", "ma carte grise", now - timedelta(days=100, minutes=5))
    # 90 days ago is the last day purged; the day after keeps its calls (the retention's edge).
    said(db, "CAedge", "+33633333333", "un passeport", now - timedelta(days=90))
    said(db, "CAkept", "+33644444444", "le cimetière", now - timedelta(days=89))
    said(db, "CAkept2", "+33655555555", "la cantine", now - timedelta(days=89))
    old, edge, kept = (local_day(now - timedelta(days=d)) for d in (100, 90, 89))
    before = {d: stats(d) for d in (old, edge, kept)}
    assert before[old]["calls"] == 2 and before[old]["callbacks"] == 2
    assert WORDS in json.dumps(before[old]["unrecognised"], ensure_ascii=False)
    with db.session() as s:  # changed after the last read: the purge must summarise them again
        s.execute(update(DailyRollup).values(stale=True))

    out = CliRunner().invoke(cli, ["purge"])
    assert out.exit_code == 0, out.output
    assert "3 appels et 3 demandes de rappel de plus de 90 jours supprimés" in out.output
    with db.session() as s:
        assert set(s.scalars(select(Call.call_sid))) == {"CAkept", "CAkept2"}
    assert anywhere(db, WORDS) == [] and anywhere(db, "passeport") == []
    for d in (old, edge):
        after = stats(d)
        assert after.pop("unrecognised") == []
        assert after == {k: v for k, v in before[d].items() if k != "unrecognised"}
    # The history still starts with the purged days.
    history = json.loads(CliRunner().invoke(cli, ["stats", "--json"]).output)
    assert (history["from"], history["calls"]) == (old.isoformat(), 5)

    # Erasing a caller still recomputes their day from what is left; the purged day next to it
    # (within the erasure's time-zone margin) keeps its figures.
    out = CliRunner().invoke(cli, ["erase", "+33644444444"])
    assert out.exit_code == 0, out.output
    assert (stats(kept)["calls"], stats(edge)["calls"], stats(old)["calls"]) == (1, 1, 2)
    get_settings.cache_clear()
