"""Every dashboard figure against the known history (tests/dashboard/conftest.py), SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from tests.dashboard.conftest import utc

from callbot.analytics import figures as st
from callbot.analytics.exports import yaml_snippet
from callbot.analytics.periods import Period

PERIOD = Period(date(2026, 11, 2), date(2026, 11, 8))


@pytest.fixture()
def figures(known_db) -> st.Figures:  # noqa: ANN001
    with known_db.session() as s:
        return st.compute(s, PERIOD)


def test_counts_containment_transfers_callbacks_abandons(figures: st.Figures) -> None:
    t = figures.totals
    assert (t.calls, t.resolved_by_bot, t.transferred, t.callbacks) == (6, 2, 2, 1)
    assert (t.abandoned_before_answer, t.abandoned_in_queue, t.abandoned) == (1, 1, 2)
    assert t.containment == pytest.approx(2 / 6)
    assert dict(figures.transfers) == {"asked_agent": 1, "misunderstanding": 1}
    assert dict(figures.outcomes) == {"resolved": 2, "transferred": 2, "abandoned": 1, "callback": 1}


def test_days_heatmap_and_peak_in_paris_time(figures: st.Figures) -> None:
    per_day = {r.day.isoformat(): r.calls for r in figures.series.days}
    assert per_day == {
        "2026-11-02": 4,
        "2026-11-03": 1,
        "2026-11-04": 1,
        "2026-11-05": 0,
        "2026-11-06": 0,
        "2026-11-07": 0,
        "2026-11-08": 0,
    }
    monday = figures.series.days[0]
    assert (monday.resolved, monday.transferred, monday.abandoned) == (2, 2, 0)
    heat = figures.series.heatmap
    assert heat[0][0] == 1 and heat[0][9] == 3 and heat[1][14] == 1 and heat[2][10] == 1
    assert sum(map(sum, heat)) == 6
    assert figures.peak[0] == 3
    assert figures.peak[1] == utc(2, 8, 4)


def test_topics_and_intents_with_trend(figures: st.Figures) -> None:
    topics = {r.key: (r.count, r.previous) for r in figures.topics}
    assert topics == {
        "identite": (2, 1),
        "parler_agent": (1, 0),
        "urbanisme": (1, 1),
        "horaires_contact": (1, 0),
    }
    assert figures.topics[0].key == "identite" and figures.topics[0].trend == pytest.approx(1.0)
    intents = {r.key: (r.topic, r.count) for r in figures.intents}
    assert intents["identite.perte"] == ("identite", 1) and len(intents) == 5


def test_unrecognised_grouped_by_similarity_with_reasons(figures: st.Figures) -> None:
    groups = figures.unrecognised
    assert [(g.count, len(g.variants)) for g in groups] == [(2, 2), (1, 1)]
    first = groups[0]
    assert {v for v, _ in first.variants} == {"euh c'est pour le truc", "euh c'est pour le truc là"}
    assert first.actions == ["fallback"] and len(first.reasons) == 2
    assert groups[1].text == "horaires mairie" and groups[1].actions == ["confirm"]
    snippet = yaml_snippet(groups[:1], "identite.perte")
    import yaml

    assert yaml.safe_load(snippet) == {
        "intents": {"identite.perte": {"examples": ["euh c'est pour le truc", "euh c'est pour le truc là"]}}
    }


def test_durations_latency_satisfaction(figures: st.Figures) -> None:
    d = figures.durations
    assert d.count == 6 and d.mean == pytest.approx(210, abs=1)
    assert figures.queue_waits.count == 1 and figures.queue_waits.p50 == 60
    lat = figures.latency
    assert lat.count == 6 and lat.mean == pytest.approx(4600 / 6, abs=0.5)
    assert lat.p50 == 700 and lat.p95 == 1100  # one value per bucket here: exact
    assert figures.satisfaction == {1: 0, 2: 0, 3: 1, 4: 0, 5: 1}
    assert figures.satisfaction_mean == 4


def test_service_and_topic_filters(known_db) -> None:  # noqa: ANN001
    with known_db.session() as s:
        civil = st.compute(s, Period(PERIOD.start, PERIOD.end, services=("État civil",)))
        accueil_topic = st.compute(s, Period(PERIOD.start, PERIOD.end, topics=("parler_agent",)))
        assert st.services(s) == ["Accueil", "Urbanisme", "État civil"]
    assert civil.totals.calls == 2 and civil.totals.callbacks == 0
    assert [g.count for g in civil.unrecognised] == [2]
    assert civil.latency.count == 3
    assert accueil_topic.totals.calls == 1 and dict(accueil_topic.transfers) == {"asked_agent": 1}


def test_empty_period_has_no_figures_but_no_error(known_db) -> None:  # noqa: ANN001
    with known_db.session() as s:
        f = st.compute(s, Period(date(2020, 1, 1), date(2020, 1, 31)))
    assert f.totals.calls == 0 and f.totals.containment is None and f.peak == (0, None)
    assert f.latency.p50 is None and f.unrecognised == [] and len(f.series.days) == 31
