"""`callbot stats` and `callbot seed` as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select
from tests.dashboard.conftest import FROM, TO

from callbot.store.db import Database
from callbot.store.models import Call, Callback, Turn


def callbot(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CALLBOT_DATABASE_URL": url, "CALLBOT_NOW": "2026-11-09T10:00:00+01:00"}
    return subprocess.run(
        [sys.executable, "-m", "callbot.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_stats_json_for_the_known_history(sqlite_db: Database) -> None:
    r = callbot(sqlite_db.url, "stats", "--from", FROM, "--to", TO, "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert (
        data["calls"],
        data["resolved_by_bot"],
        data["transferred"],
        data["abandoned"],
        data["callbacks"],
    ) == (6, 2, 2, 2, 1)
    assert data["top_topics"][0] == {"topic": "identite", "calls": 2, "previous": 1, "trend": 1.0}
    assert data["transfers_by_reason"] == {"asked_agent": 1, "misunderstanding": 1}
    assert data["peak_simultaneous"] == 3 and data["satisfaction"]["mean"] == 4.0


def test_stats_text_and_default_period_and_bad_date(sqlite_db: Database) -> None:
    text = callbot(sqlite_db.url, "stats")
    assert text.returncode == 0, text.stderr
    # Without --from: from the first call (30 October) to today (CALLBOT_NOW, 9 November): all 9 calls.
    assert "Période du 30/10/2026 au 09/11/2026" in text.stdout and "Appels : 9" in text.stdout
    bad = callbot(sqlite_db.url, "stats", "--from", "demain")
    assert bad.returncode != 0 and "AAAA-MM-JJ" in bad.stderr


def test_seed_writes_synthetic_history(tmp_path) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    r = callbot(url, "seed", "--calls", "500", "--days", "14", "--seed", "7")
    assert r.returncode == 0, r.stderr
    assert "500 appels synthétiques" in r.stdout
    db = Database(url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 500
        assert s.scalar(select(func.count()).select_from(Call).where(Call.synthetic.is_(False))) == 0
        assert s.scalar(select(func.count()).select_from(Callback).where(Callback.synthetic.is_(False))) == 0
        assert s.scalar(select(func.count()).select_from(Turn)) > 500
        outcomes = dict(s.execute(select(Call.outcome, func.count()).group_by(Call.outcome)).all())
        assert {"resolved", "transferred", "abandoned", "callback"} <= set(outcomes)
        assert outcomes["resolved"] > outcomes["transferred"]
    stats = json.loads(callbot(url, "stats", "--json").stdout)
    assert stats["calls"] == 500 and stats["unrecognised"] and stats["satisfaction"]["count"] > 0
    # Monday mornings are the busiest hours of the week.
    monday = stats["heatmap"]["lundi"]
    assert max(monday[8:12]) > max(stats["heatmap"]["samedi"] + stats["heatmap"]["dimanche"])


@pytest.mark.postgres
def test_seed_and_stats_on_postgresql(pg_url: str) -> None:
    r = callbot(pg_url, "seed", "--calls", "300", "--days", "7")
    assert r.returncode == 0, r.stderr
    again = callbot(pg_url, "seed", "--calls", "100", "--days", "7", "--seed", "2")  # appends, new ids
    assert again.returncode == 0, again.stderr
    db = Database(pg_url)
    try:
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Call).where(Call.synthetic.is_(True))) == 400
            turns = s.scalar(select(func.count()).select_from(Turn))
            callbacks = s.scalar(select(func.count()).select_from(Callback))
        stats = json.loads(callbot(pg_url, "stats", "--json").stdout)
        assert stats["calls"] == 400 and turns > 400
        assert stats["callbacks"] == callbacks > 0
    finally:
        db.engine.dispose()
