"""Retention limits and erasure, through the `callbot purge` / `callbot erase` commands."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from callbot.store.calls import CallRecorder
from callbot.store.db import Database
from callbot.store.models import Call, Callback, Turn
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
