"""Figures read from the daily summaries equal the live ones, also after late changes to past calls."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from tests.dashboard.conftest import utc

from callbot.store import stats as st
from callbot.store.models import Call, DailyRollup, Turn
from callbot.store.retention import purge_older_than
from callbot.store.seed import seed

PERIOD = st.Period(date(2026, 11, 2), date(2026, 11, 8))
TODAY = date(2026, 11, 9)


def both(db, period: st.Period = PERIOD, today: date = TODAY) -> tuple[dict, dict]:  # noqa: ANN001
    with db.session() as s:
        rolled = st.as_json(st.compute(s, period, today))
    with db.session() as s:
        live = st.as_json(st.compute_live(s, period))
    return rolled, live


def fresh_days(db) -> int:  # noqa: ANN001
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(DailyRollup).where(DailyRollup.stale.is_(False)))


def test_known_history_through_rollups_equals_live(known_db) -> None:  # noqa: ANN001
    rolled, live = both(known_db)
    assert rolled == live
    assert rolled["calls"] == 6 and rolled["peak_simultaneous"] == 3
    # Period and previous period (for trends) are now stored; a second read uses them as they are.
    assert fresh_days(known_db) == 14
    assert both(known_db)[0] == live


def test_late_queue_result_invalidates_the_day(known_db) -> None:  # noqa: ANN001
    before, _ = both(known_db)
    # A queue result arriving after the day was summarised: CA2 hung up in the queue after all.
    with known_db.session() as s:
        s.execute(update(Call).where(Call.call_sid == "CA2").values(queue_result="hangup", picked_up_at=None))
    with known_db.session() as s:
        stale = s.scalar(select(DailyRollup.stale).where(DailyRollup.day == date(2026, 11, 2)))
    assert stale is True
    rolled, live = both(known_db)
    assert rolled == live
    assert rolled["abandoned_in_queue"] == before["abandoned_in_queue"] + 1
    assert rolled["queue_wait_s"]["count"] == before["queue_wait_s"]["count"] - 1


def test_new_turn_and_deleted_call_of_a_past_day(known_db) -> None:  # noqa: ANN001
    both(known_db)
    with known_db.session() as s:
        c4 = s.scalar(select(Call).where(Call.call_sid == "CA4"))
        s.add(
            Turn(
                call_id=c4.id,
                seq=0,
                speaker="caller",
                text="c'est pour le truc",
                at=c4.started_at + timedelta(seconds=5),
                action="clarify",
                response_ms=650,
            )
        )
    with known_db.session() as s:
        s.execute(Call.__table__.delete().where(Call.call_sid == "CA5"))
    rolled, live = both(known_db)
    assert rolled == live
    assert rolled["calls"] == 5 and rolled["unrecognised"][0]["count"] == 3


def test_retention_purge_updates_summaries(known_db) -> None:  # noqa: ANN001
    both(known_db)
    # Everything started before 2 November 09:00 UTC goes: CA9, CA1, CA2, CA3 and October's calls.
    purge_older_than(known_db, days=0, now=utc(2, 9, 0))
    rolled, live = both(known_db)
    assert rolled == live and rolled["calls"] == 2 and rolled["top_topics"][0]["previous"] == 0


def test_today_is_live_and_calls_across_midnight_carry_over(known_db) -> None:  # noqa: ANN001
    with known_db.session() as s:
        # Three calls running across Paris midnight 4→5 November, one never closed (in progress), and
        # two on the 5th while two of those still run: 4 at once, more than the 3 of the 2nd.
        start = datetime(2026, 11, 4, 22, 50, tzinfo=UTC)
        s.add_all(
            [
                Call(
                    call_sid="X1",
                    started_at=start,
                    ended_at=start + timedelta(minutes=30),
                    outcome="resolved",
                ),
                Call(
                    call_sid="X2", started_at=start, ended_at=start + timedelta(hours=30), outcome="resolved"
                ),
                Call(call_sid="X3", started_at=start, outcome="in_progress"),
                *(
                    Call(
                        call_sid=f"X{4 + i}",
                        started_at=datetime(2026, 11, 5, 8, tzinfo=UTC),
                        ended_at=datetime(2026, 11, 5, 8, 5 + i, tzinfo=UTC),
                        outcome="resolved",
                    )
                    for i in range(2)
                ),
            ]
        )
    rolled, live = both(known_db)
    assert rolled == live and rolled["peak_simultaneous"] == 4
    # With "today" inside the period (its days from 6 November on are summarised live).
    assert both(known_db, today=date(2026, 11, 6))[0] == live
    # A period starting on the day after: the carried calls are not part of it.
    later = st.Period(date(2026, 11, 5), date(2026, 11, 8))
    rolled, live = both(known_db, later)
    assert rolled == live and rolled["peak_simultaneous"] == 2


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_seeded_history_month_and_year_equal_live(backend: str, tmp_path, request) -> None:  # noqa: ANN001
    from callbot.store.db import Database

    url = f"sqlite:///{tmp_path / 'seed.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    db = Database(url)
    db.migrate()
    end = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    seed(db.engine, 3000, days=60, seed=7, end=end)
    today = date(2026, 11, 23)
    for period in (st.Period(date(2026, 10, 25), today), st.Period(date(2025, 11, 24), today)):
        rolled, live = both(db, period, today)
        assert rolled["calls"] > 0
        assert rolled == live
    db.engine.dispose()


def test_days_that_cannot_be_built_are_read_live(known_db, monkeypatch) -> None:  # noqa: ANN001
    from sqlalchemy.exc import OperationalError

    from callbot.store import rollups

    def locked(*_a: object) -> None:
        raise OperationalError("build", {}, Exception("lock timeout"))

    monkeypatch.setattr(rollups, "build", locked)
    rolled, live = both(known_db)
    assert rolled == live and rolled["calls"] == 6 and fresh_days(known_db) == 0
