"""Figures read from the daily summaries equal the live ones, also after late changes to past calls."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import func, select, text, update
from tests.dashboard.conftest import insert_known_history, utc
from tests.dashboard.oracle import compute_live

from callbot.analytics import figures as st
from callbot.analytics.exports import as_json
from callbot.analytics.periods import Period
from callbot.analytics.retention_purge import purge_days
from callbot.devtools.seed import seed
from callbot.store.db import Database, alembic_config
from callbot.store.models import Call, Callback, DailyRollup, DailySlice, Turn

PERIOD = Period(date(2026, 11, 2), date(2026, 11, 8))
TODAY = date(2026, 11, 9)


def both(db, period: Period = PERIOD, today: date = TODAY) -> tuple[dict, dict]:  # noqa: ANN001
    with db.session() as s:
        rolled = as_json(st.compute(s, period, today))
    with db.session() as s:
        live = as_json(compute_live(s, period))
    return rolled, live


def fresh_days(db) -> int:  # noqa: ANN001
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(DailyRollup).where(DailyRollup.stale.is_(False)))


def test_known_history_through_rollups_equals_live(known_db) -> None:  # noqa: ANN001
    rolled, live = both(known_db)
    assert rolled == live
    assert rolled["calls"] == 6 and rolled["peak_simultaneous"] == 3
    # Period and previous period (for trends) are now stored, from the first call's day (30 Oct)
    # on: 26-29 Oct are before the history began and need no row. A second read uses them as is.
    assert fresh_days(known_db) == 10
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


def test_retention_purge_keeps_the_figures_of_the_days_it_empties(known_db) -> None:  # noqa: ANN001
    before, _ = both(known_db)
    # Whole Paris days up to 2 November go: CA1, CA2, CA3 (2 Nov), CA9 and October's calls.
    purge_days(known_db, days=1, now=utc(3, 9, 0))
    with known_db.session() as s:
        assert s.scalar(select(func.count(Call.id)).where(Call.started_at < utc(2, 23, 0))) == 0
    rolled, live = both(known_db)
    assert live["calls"] == 2 and rolled["calls"] == before["calls"] == 6
    # Same counts; the wordings of the purged days are gone with the callers' words.
    assert {k: v for k, v in rolled.items() if k != "unrecognised"} \
        == {k: v for k, v in before.items() if k != "unrecognised"}
    assert [u["text"] for u in rolled["unrecognised"]] == [u["text"] for u in live["unrecognised"]]
    # The days left are still summarised from their calls.
    after = Period(date(2026, 11, 3), PERIOD.end)
    assert both(known_db, after)[0]["calls"] == both(known_db, after)[1]["calls"] == 2


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
    later = Period(date(2026, 11, 5), date(2026, 11, 8))
    rolled, live = both(known_db, later)
    assert rolled == live and rolled["peak_simultaneous"] == 2


# Filtered views read the summaries of their key (one service, one topic, one pair) or add up
# several keys (several services or topics; the peak is then swept live): exact known counts.
FILTERED = [
    # services, topics, (calls, callbacks, peak, unrecognised group counts, previous calls of top topic)
    (("État civil",), (), (2, 0, 2, [2], 1)),
    (("Accueil",), (), (2, 0, 1, [1], 0)),
    ((), ("identite",), (2, 0, 2, [2], 1)),
    ((), ("urbanisme",), (1, 1, 1, [], 1)),
    (("Urbanisme",), ("urbanisme",), (1, 1, 1, [], 1)),
    (("État civil",), ("parler_agent",), (0, 0, 0, [], None)),
    (("Accueil", "État civil"), (), (4, 0, 3, [2, 1], 1)),
    (("Accueil", "État civil", "Urbanisme"), ("identite", "urbanisme"), (3, 1, 2, [2], 1)),
    (("Piscine",), (), (0, 0, 0, [], None)),
]


@pytest.mark.parametrize(("services", "topics", "expected"), FILTERED)
def test_filtered_views_through_rollups_equal_live(known_db, services, topics, expected) -> None:  # noqa: ANN001
    period = Period(PERIOD.start, PERIOD.end, services, topics)
    rolled, live = both(known_db, period)
    assert rolled == live
    top = rolled["top_topics"][0]["previous"] if rolled["top_topics"] else None
    groups = [g["count"] for g in rolled["unrecognised"]]
    assert (rolled["calls"], rolled["callbacks"], rolled["peak_simultaneous"], groups, top) == expected
    # Read again from the stored summaries (now built), with today inside the period.
    assert both(known_db, period)[0] == live
    assert both(known_db, period, today=date(2026, 11, 3))[0] == live


def test_filtered_peak_at_and_stored_keys(known_db) -> None:  # noqa: ANN001
    rolled, _ = both(known_db, Period(PERIOD.start, PERIOD.end, ("Accueil",)))
    # CA9 (00:30 Paris on the 2nd) and CA2 (09:02) never overlap: the earliest instant of 1 call.
    assert rolled["peak_at"] == "2026-11-01T23:30:00+00:00"
    with known_db.session() as s:
        keys = set(
            s.execute(select(DailySlice.service, DailySlice.topic).where(DailySlice.day == PERIOD.start))
        )
    assert keys == {
        (None, None),
        ("Accueil", None),
        ("État civil", None),
        (None, "identite"),
        (None, "parler_agent"),
        (None, "horaires_contact"),
        ("Accueil", "parler_agent"),
        ("Accueil", "horaires_contact"),
        ("État civil", "identite"),
    }


def test_new_service_of_a_call_marks_the_days_of_its_turns_and_callbacks(known_db) -> None:  # noqa: ANN001
    # A call from 23:55 (Paris) on the 3rd whose caller turn and callback come after midnight.
    start = datetime(2026, 11, 3, 22, 55, tzinfo=UTC)
    with known_db.session() as s:
        call = Call(
            call_sid="LATE", started_at=start, ended_at=start + timedelta(minutes=20), outcome="callback"
        )
        call.turns = [
            Turn(
                seq=0,
                speaker="caller",
                text="c'est pour le truc",
                at=start + timedelta(minutes=10),
                action="fallback",
                response_ms=640,
            )
        ]
        s.add(call)
        s.flush()
        s.add(Callback(call_id=call.id, created_at=start + timedelta(minutes=15), number="+33600000000"))
    period = Period(PERIOD.start, PERIOD.end, ("Urbanisme",))
    both(known_db, period)
    # The call is routed to Urbanisme afterwards (the 4th is already summarised).
    with known_db.session() as s:
        s.execute(update(Call).where(Call.call_sid == "LATE").values(service="Urbanisme"))
    with known_db.session() as s:
        stale = dict(
            s.execute(select(DailyRollup.day, DailyRollup.stale).where(DailyRollup.day.in_(DAYS_3_4))).all()
        )
    assert stale == {date(2026, 11, 3): True, date(2026, 11, 4): True}
    rolled, live = both(known_db, period)
    assert rolled == live
    assert (rolled["calls"], rolled["callbacks"], rolled["response_ms"]["count"]) == (2, 2, 2)
    assert [g["count"] for g in rolled["unrecognised"]] == [1]


DAYS_3_4 = (date(2026, 11, 3), date(2026, 11, 4))


def test_later_end_of_a_call_across_midnight_marks_the_next_day(known_db) -> None:  # noqa: ANN001
    # Y runs from 23:50 (Paris) on the 4th to 00:05; Z starts at 00:10 on the 5th.
    y = datetime(2026, 11, 4, 22, 50, tzinfo=UTC)
    z = datetime(2026, 11, 4, 23, 10, tzinfo=UTC)
    with known_db.session() as s:
        s.add(Call(call_sid="Y", started_at=y, ended_at=y + timedelta(minutes=15), outcome="resolved"))
        s.add(Call(call_sid="Z", started_at=z, ended_at=z + timedelta(minutes=10), outcome="resolved"))
    period = Period(date(2026, 11, 4), PERIOD.end)
    rolled, live = both(known_db, period)
    assert rolled == live and rolled["peak_simultaneous"] == 1
    # Y's end is corrected to 00:25: it overlaps Z on the 5th, a day already summarised.
    with known_db.session() as s:
        s.execute(update(Call).where(Call.call_sid == "Y").values(ended_at=y + timedelta(minutes=35)))
    with known_db.session() as s:
        assert s.scalar(select(DailyRollup.stale).where(DailyRollup.day == date(2026, 11, 5))) is True
    rolled, live = both(known_db, period)
    assert rolled == live and rolled["peak_simultaneous"] == 2


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_seeded_history_month_and_year_equal_live(backend: str, tmp_path, request) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'seed.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    db = Database(url)
    db.migrate()
    end = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    seed(db.engine, 3000, days=60, seed=7, end=end)
    today = date(2026, 11, 23)
    filters = [
        ((), ()),
        (("État civil",), ()),
        ((), ("identite",)),
        (("État civil",), ("identite",)),
        (("Accueil", "Urbanisme"), ("horaires_contact", "urbanisme", "parler_agent")),
    ]
    for services, topics in filters:
        for start in (date(2026, 10, 25), date(2025, 11, 24)):
            rolled, live = both(db, Period(start, today, services, topics), today)
            assert rolled["calls"] > 0 and rolled["unrecognised"]
            assert rolled == live
    db.engine.dispose()


def test_days_that_cannot_be_built_are_read_live(known_db, monkeypatch) -> None:  # noqa: ANN001
    from sqlalchemy.exc import OperationalError

    from callbot.analytics import rollups

    def locked(*_a: object) -> None:
        raise OperationalError("build", {}, Exception("lock timeout"))

    monkeypatch.setattr(rollups, "build", locked)
    rolled, live = both(known_db)
    assert rolled == live and rolled["calls"] == 6 and fresh_days(known_db) == 0


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_upgrade_from_0004_rebuilds_the_summaries(backend: str, tmp_path, request) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    command.upgrade(alembic_config(url), "0004_daily_rollups")
    db = Database(url)
    insert_known_history(db)
    with db.engine.begin() as c:  # summaries as 0004's code stored them
        c.execute(text("DELETE FROM daily_rollups"))
        c.execute(
            text("INSERT INTO daily_rollups (day, stale, figures) VALUES ('2026-11-02', false, :f)"),
            {"f": '{"v":2,"bd":[]}'},
        )
        c.execute(text("INSERT INTO daily_utterances (day, text, count) VALUES ('2026-11-02', 'x', 9)"))
    db.migrate()
    rolled, live = both(db, Period(PERIOD.start, PERIOD.end, ("État civil",)))
    assert rolled == live and rolled["calls"] == 2 and fresh_days(db) == 10  # from 30 Oct on
    # And back: 0004's tables and triggers, then 0005 again.
    command.downgrade(alembic_config(url), "0004_daily_rollups")
    with db.engine.begin() as c:
        assert c.execute(text("SELECT count(*) FROM daily_rollups WHERE figures IS NULL")).scalar() == 0
    db.migrate()
    assert both(db)[0] == both(db)[1]
    db.engine.dispose()
