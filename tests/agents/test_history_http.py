"""The call history: 50 calls a page, most recent first, filters kept by the page links."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from callbot.store.db import Database
from callbot.store.models import Call
from callbot.vocabulary import Outcome
from tests.agents.conftest import AGENT, login

CALL_LINK = re.compile(r'href="/agents/calls/(CAhist\d+)"')
DAY = "2021-03-10"  # a day no other test writes: its calls are this module's


@pytest.fixture(scope="module")
def past_day(console_app: object) -> list[str]:
    """60 calls on one past day, a minute apart; every other one transferred. Newest first."""
    db: Database = console_app.state.db
    start = datetime(2021, 3, 10, 8, 0, tzinfo=UTC)
    sids = []
    with db.session() as s:
        for i in range(60):
            sid = f"CAhist{i:03d}"
            s.add(Call(call_sid=sid, started_at=start + timedelta(minutes=i), topic="etat_civil",
                       outcome=Outcome.TRANSFERRED if i % 2 else Outcome.RESOLVED, summary=f"Demande {i}"))
            sids.append(sid)
    return list(reversed(sids))


def shown(html: str) -> list[str]:
    return CALL_LINK.findall(html)


def test_history_pages_keep_the_filters(client: TestClient, past_day: list[str]) -> None:
    login(client, AGENT)
    first = client.get(f"/agents/history?du={DAY}&au={DAY}").text
    assert shown(first) == past_day[:50]
    assert "60 appels trouvés" in first and "page 1 sur 2" in first
    assert f'href="/agents/history?du={DAY}&amp;au={DAY}&amp;page=2"' in first
    second = client.get(f"/agents/history?du={DAY}&au={DAY}&page=2").text
    assert shown(second) == past_day[50:]
    transferred = client.get(f"/agents/history?du={DAY}&au={DAY}&theme=etat_civil&transferes=1").text
    assert shown(transferred) == past_day[::2][:30]
    assert "30 appels trouvés" in transferred


@pytest.mark.parametrize("page", ["-3", "abc", "99999999"])
def test_unusable_history_pages_show_a_real_page(client: TestClient, past_day: list[str], page: str) -> None:
    login(client, AGENT)
    response = client.get(f"/agents/history?du={DAY}&au={DAY}&page={page}")
    assert response.status_code == 200
    assert shown(response.text) == (past_day[50:] if page == "99999999" else past_day[:50])


def test_a_bad_date_is_explained_and_the_rest_still_applies(client: TestClient, past_day: list[str]) -> None:
    login(client, AGENT)
    response = client.get("/agents/history?du=10/03/2021&theme=inconnu")
    assert response.status_code == 400
    assert "Date invalide" in response.text and "Thème inconnu" in response.text
    assert "appel" in response.text  # the list is still there, without the unreadable filters


def test_a_history_too_long_to_count_asks_for_dates(client: TestClient, past_day: list[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from callbot.store import handoffs

    monkeypatch.setattr(handoffs, "HISTORY_COUNT_CAP", 50)  # 60 calls: past the cap, as a million are
    login(client, AGENT)
    page = client.get(f"/agents/history?du={DAY}&au={DAY}&page=9").text
    assert "Plus de 50 appels : affinez avec les dates." in page
    assert shown(page) == past_day[:50]  # the pages stop at the counted calls: page 9 is page 1
