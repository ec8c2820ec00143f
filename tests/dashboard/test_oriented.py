"""Issue 10 item 3: calls the bot oriented to another body (impôts, CAF, notaire…) count as "oriented":
from the daily summaries as live, on the dashboard, in `callbot stats --json`, and from a real call."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from datetime import date, timedelta

import pytest
from pipecat.frames.frames import BotStartedSpeakingFrame, BotStoppedSpeakingFrame, TranscriptionFrame
from pipecat.tests.utils import SleepFrame, run_test
from sqlalchemy import select, update
from tests.conftest import OPEN_TUESDAY, REPO
from tests.dashboard.conftest import FROM, NOW, TO, insert_known_history, login, utc
from tests.dashboard.oracle import compute_live
from typer.testing import CliRunner

from callbot.analytics import figures as st
from callbot.analytics.exports import as_json
from callbot.analytics.periods import Period
from callbot.analytics.retention_purge import purge_days
from callbot.cli import app
from callbot.config import get_settings
from callbot.devtools.seed import seed
from callbot.dialog.engine import DialogEngine
from callbot.pipeline.dialog_processor import DialogProcessor
from callbot.store.calls import CallRecorder
from callbot.store.db import Database
from callbot.store.models import Call, DailyRollup, DailySlice, Turn
from callbot.vocabulary import Outcome

PERIOD = Period(date(2026, 11, 2), date(2026, 11, 8))
TODAY = date(2026, 11, 9)


def _orient_call(sid: str, start, outcome: str, turns: list[tuple], **kw: object) -> Call:  # noqa: ANN001
    """A call whose caller turns are (text, action, intent, topic)."""
    call = Call(call_sid=sid, started_at=start, ended_at=start + timedelta(minutes=2), outcome=outcome,
                caller_masked="06 ** ** ** 34", **kw)
    call.turns = [
        Turn(seq=i, speaker="caller", text=text, at=start + timedelta(seconds=10 + i), action=action,
             intent=intent, topic=topic, response_ms=600)
        for i, (text, action, intent, topic) in enumerate(turns)
    ]
    return call


def insert_oriented_history(db: Database) -> None:
    """The known history plus outside-body questions: three oriented calls in the period (four
    orientations: impots_revenu twice, caf_aides, justice_notaire), and four that are not."""
    insert_known_history(db)
    hm = "hors_mairie"
    with db.session() as s:
        s.add_all([
            # The intent layer recognised it: recorded as out_of_scope with the sub-kind's intent.
            _orient_call("OR1", utc(3, 9), "resolved",
                         [("ma déclaration d'impôts", "out_of_scope", "impots_revenu", hm)],
                         topic=hm, intent="impots_revenu"),
            # The topic layer oriented twice in one call: once in the total, once per sub-kind.
            _orient_call("OR2", utc(4, 10), "resolved", [
                ("le médiateur de la caf", "orient", "caf_aides", hm),
                ("et pour mes impôts", "orient", "impots_revenu", hm),
            ], topic=hm, intent="impots_revenu", service="Accueil"),
            # Oriented, then a town-hall question answered: still oriented, under its own topic.
            _orient_call("OR3", utc(5, 14), "resolved", [
                ("un problème de succession chez le notaire", "orient", "justice_notaire", hm),
                ("et une carte d'identité", "answer", "identite.rendez_vous", "identite"),
            ], topic="identite", intent="identite.rendez_vous", service="État civil"),
            # The caller insisted and got an agent: not oriented.
            _orient_call("NO1", utc(5, 15), "transferred", [
                ("mon bailleur ne répare rien", "orient", "logement_prive", hm),
                ("je veux parler à quelqu'un", "transfer", "parler_agent.demande", "parler_agent"),
            ], topic="parler_agent", transfer_reason="asked_agent"),
            # The generic "not the town hall" sentence names nobody: not oriented.
            _orient_call("NO2", utc(6, 9), "resolved", [("un truc pas d'ici", "orient", None, hm)], topic=hm),
            # Nobody said goodbye after the orientation yet: not oriented while in progress.
            _orient_call("NO3", utc(6, 10), "in_progress", [("la caf", "orient", "caf_aides", hm)], topic=hm),
            # Before the period.
            _orient_call("NO4", utc(28, 10, month=10), "resolved",
                         [("impôts", "out_of_scope", "impots_revenu", hm)], topic=hm),
        ])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def oriented_db(request: pytest.FixtureRequest, tmp_path) -> Database:  # noqa: ANN001
    sqlite = f"sqlite:///{tmp_path / 'oriented.db'}"
    db = Database(sqlite if request.param == "sqlite" else request.getfixturevalue("pg_url"))
    db.migrate()
    insert_oriented_history(db)
    yield db
    db.engine.dispose()


def both(db: Database, period: Period = PERIOD) -> tuple[dict, dict]:
    with db.session() as s:
        rolled = as_json(st.compute(s, period, TODAY))
    with db.session() as s:
        live = as_json(compute_live(s, period))
    return rolled, live


def test_oriented_calls_from_the_summaries_equal_the_live_count(oriented_db: Database) -> None:
    rolled, live = both(oriented_db)
    assert rolled == live
    assert rolled["oriented"] == 3
    assert rolled["oriented_by_kind"] == {"impots_revenu": 2, "caf_aides": 1, "justice_notaire": 1}
    assert list(rolled["oriented_by_kind"])[0] == "impots_revenu"  # most asked first
    by_topic, live_topic = both(oriented_db, Period(PERIOD.start, PERIOD.end, (), ("hors_mairie",)))
    assert by_topic == live_topic and (by_topic["oriented"], by_topic["oriented_by_kind"]) == (
        2, {"impots_revenu": 2, "caf_aides": 1})
    both_services = Period(PERIOD.start, PERIOD.end, ("Accueil", "État civil"), ())
    rolled, live = both(oriented_db, both_services)
    assert rolled == live and rolled["oriented"] == 2


def test_a_call_handed_to_an_agent_afterwards_stops_counting(oriented_db: Database) -> None:
    both(oriented_db)  # past days now stored
    with oriented_db.session() as s:  # OR1's caller called the queue after all
        s.execute(update(Call).where(Call.call_sid == "OR1").values(outcome=Outcome.TRANSFERRED))
    with oriented_db.session() as s:
        assert s.scalar(select(DailyRollup.stale).where(DailyRollup.day == date(2026, 11, 3))) is True
    rolled, live = both(oriented_db)
    assert rolled == live
    assert rolled["oriented"] == 2 and rolled["oriented_by_kind"]["impots_revenu"] == 1


@pytest.fixture()
def oriented_client(tmp_path):  # noqa: ANN001, ANN201
    from fastapi.testclient import TestClient
    from tests.dashboard.conftest import add_users, make_settings

    from callbot.app import create_app

    db = Database(f"sqlite:///{tmp_path / 'oriented.db'}")
    db.migrate()
    insert_oriented_history(db)
    add_users(db)
    with TestClient(create_app(make_settings(db.url), speech=False)) as client:
        yield client


def test_the_dashboard_shows_oriented_calls_and_exports_them(oriented_client) -> None:  # noqa: ANN001
    login(oriented_client, "marie")
    html = oriented_client.get(f"/dashboard?du={FROM}&au={TO}").text
    assert re.search(r'id="kpi-orientes">3<', html)
    assert ">Questions relevant d'un autre organisme</h2>" in html
    table = html[html.index('id="t-orientations"'):]
    assert table.index("impots_revenu") < table.index("caf_aides")
    r = oriented_client.get(f"/dashboard/export/orientations.csv?du={FROM}&au={TO}")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text), delimiter=";"))
    assert rows[1][:2] == ["impots_revenu", "2"] and len(rows) == 4
    filtered = oriented_client.get(f"/dashboard?du={FROM}&au={TO}&service=%C3%89tat+civil").text
    assert re.search(r'id="kpi-orientes">1<', filtered)


def test_stats_json_and_text_report_oriented_calls(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    db = Database(f"sqlite:///{tmp_path / 'stats.db'}")
    db.migrate()
    insert_oriented_history(db)
    monkeypatch.setenv("CALLBOT_DATABASE_URL", db.url)
    monkeypatch.setenv("CALLBOT_NOW", NOW.isoformat())
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["stats", "--from", FROM, "--to", TO, "--json"])
        text = CliRunner().invoke(app, ["stats", "--from", FROM, "--to", TO])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert (data["oriented"], data["oriented_by_kind"]["impots_revenu"]) == (3, 2)
    assert "Orientés vers un autre organisme : 3" in text.stdout and "  - caf_aides : 1" in text.stdout


def test_seeded_history_has_oriented_calls(tmp_path) -> None:  # noqa: ANN001
    db = Database(f"sqlite:///{tmp_path / 'seed.db'}")
    db.migrate()
    seed(db.engine, 400, days=7, seed=3, end=NOW)
    with db.session() as s:
        data = as_json(st.compute(s, Period(TODAY - timedelta(days=7), TODAY), TODAY))
        hors_mairie = set(s.scalars(select(Turn.intent).where(Turn.topic == "hors_mairie")))
    assert 0 < data["oriented"] <= data["resolved_by_bot"]
    assert set(data["oriented_by_kind"]) <= hors_mairie


def test_a_real_call_oriented_by_the_topic_layer_is_counted(tmp_path) -> None:  # noqa: ANN001
    """Through the call pipeline: the caller asks about their landlord in words the flows never
    wrote, hears who handles it (the ADIL), says goodbye; the recorded call counts as oriented."""
    engine = DialogEngine.load(REPO / "flows", lambda: OPEN_TUESDAY)
    db = Database(f"sqlite:///{tmp_path / 'call.db'}")
    db.migrate()
    rec = CallRecorder(db, "CAorient")
    asyncio.run(rec.open(stream_sid="MZ", caller="+33600000000", called="+331", secret=b"k"))
    conversation = engine.new_conversation()

    async def on_end(reply) -> None:  # noqa: ANN001
        await rec.finish(reply.outcome or Outcome.RESOLVED, topic=conversation.topic,
                         intent=conversation.intent)

    def heard(text: str) -> list:
        return [TranscriptionFrame(text, "caller", "2026-11-24T10:00:00", finalized=True), SleepFrame(0.1),
                BotStartedSpeakingFrame(), SleepFrame(0.05), BotStoppedSpeakingFrame(), SleepFrame(0.1)]

    proc = DialogProcessor(conversation, rec, on_end=on_end)
    greeting = [BotStartedSpeakingFrame(), SleepFrame(0.05), BotStoppedSpeakingFrame(), SleepFrame(0.05)] * 2
    asyncio.run(run_test(proc, frames_to_send=[
        *greeting, *heard("mon bailleur refuse de faire les réparations de la chaudière"),
        *heard("non merci au revoir"),
    ]))
    with db.session() as s:
        call = s.scalars(select(Call)).one()
        orient = [t for t in call.turns if t.speaker == "caller"][0]
        assert (orient.action, orient.topic, call.outcome) == ("orient", "hors_mairie", Outcome.RESOLVED)
        day = call.started_at.date()
        data = as_json(st.compute(s, Period(day - timedelta(days=1), day + timedelta(days=1)), day))
    assert (data["oriented"], data["oriented_by_kind"]) == (1, {"logement_prive": 1})


def test_days_purged_before_the_oriented_figure_existed_keep_their_figures(oriented_db: Database) -> None:
    """A day summarised in format 3 (no oriented figure) then purged cannot be rebuilt: its calls
    still count, its oriented calls read as none, and the days not purged are rebuilt in full."""
    before, _ = both(oriented_db)
    purge_days(oriented_db, days=1, now=utc(4, 9, 0))  # whole Paris days up to 3 November go (OR1)
    with oriented_db.session() as s:
        for sl in s.scalars(select(DailySlice).where(DailySlice.day <= date(2026, 11, 3))):
            old = json.loads(sl.figures)
            del old["or"], old["ok"]
            sl.figures = json.dumps(old)
        # As stored before format 4 (an earlier build time: not the decoded summaries cached since).
        s.execute(update(DailyRollup).values(format=3, built_at=NOW - timedelta(days=30)))
    rolled, _ = both(oriented_db)
    assert rolled["calls"] == before["calls"]
    assert (rolled["oriented"], rolled["oriented_by_kind"]) == (2, {"caf_aides": 1, "impots_revenu": 1,
                                                                   "justice_notaire": 1})
