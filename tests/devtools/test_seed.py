"""`callbot seed` as an operator runs it: only the past, only the intents the flows really have."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import func, select

from callbot.dialog.flows import load_flows
from callbot.store.db import Database
from callbot.store.models import Call, Callback, Turn
from tests.conftest import REPO

# A Monday, 10:20 in the commune: the busiest hour of the week is running when the seed is made.
NOW = "2026-12-07T10:20:00+01:00"


def seed(url: str, *args: str, now: str = NOW) -> subprocess.CompletedProcess:
    env = {**os.environ, "CALLBOT_DATABASE_URL": url, "CALLBOT_NOW": now,
           "CALLBOT_FLOWS": str(REPO / "flows")}
    return subprocess.run([sys.executable, "-m", "callbot.cli", "seed", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_seed_writes_only_the_past(tmp_path) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    r = seed(url, "--calls", "3000", "--days", "2")
    assert r.returncode == 0, r.stderr
    assert "3000 appels synthétiques" in r.stdout
    now = datetime.fromisoformat(NOW).astimezone(UTC)
    db = Database(url)
    with db.session() as s:
        latest = [s.scalar(select(func.max(column))) for column in (
            Call.started_at, Call.ended_at, Call.queued_at, Call.picked_up_at, Turn.at, Callback.created_at)]
        # Calls of the running hour exist (the seed is as busy as a Monday morning), all of them ended.
        this_hour = s.scalar(select(func.count()).select_from(Call).where(
            Call.started_at >= datetime(2026, 12, 7, 9, 0)))
    assert all(_utc(t) < now for t in latest), latest
    assert this_hour > 0


def test_seed_uses_the_flows_intents_topics_and_wordings(tmp_path) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    assert seed(url, "--calls", "4000", "--days", "30", "--seed", "3").returncode == 0
    flows = load_flows(REPO / "flows")
    intents = {i.id: i for i in flows.intents}
    db = Database(url)
    with db.session() as s:
        calls = s.execute(select(Call.intent, Call.topic)).all()
        requests = s.execute(select(Turn.intent, Turn.topic, Turn.text)
                             .where(Turn.speaker == "caller", Turn.topic.is_not(None))).all()
    assert {intent for intent, _ in calls} <= set(intents)
    assert all(intents[intent].topic == topic for intent, topic in calls)
    assert all(intents[intent].topic == topic and text in intents[intent].examples
               for intent, topic, text in requests)
    # The realistic mix: identity papers, opening hours and civil status lead; emergencies are rare.
    topics = Counter(topic for _, topic in calls)
    assert {t for t, _ in topics.most_common(3)} == {"identite", "horaires_contact", "etat_civil"}
    assert 0 < topics["urgence"] < topics["identite"] / 10
    assert len(topics) == len({i.topic for i in flows.intents if i.topic})


def test_seed_says_why_when_no_call_can_be_placed(tmp_path) -> None:  # noqa: ANN001
    # One day that has not reached any calling hour yet (00:30): nothing can be in the past.
    r = seed(f"sqlite:///{tmp_path / 'seed.db'}", "--calls", "10", "--days", "1",
             now="2026-12-07T00:30:00+01:00")
    assert r.returncode == 2 and "augmentez --days" in r.stderr and "Traceback" not in r.stderr
