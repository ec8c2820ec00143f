"""Callback requests: the paginated table agents work from, its filters and sort, the edit page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from callbot.store.callbacks import create_callback
from callbot.store.db import Database
from callbot.store.models import Callback
from tests.agents.conftest import AGENT, login

ROW = re.compile(r'<tr id="rappel-(\d+)"')
BLOCK_SIZE = 120
BLOCK_PREFIX = "+3365550"  # numbers of the block below: filtering by "06 55 50" isolates them


def row_ids(html: str) -> list[int]:
    return [int(n) for n in ROW.findall(html)]


def test_an_agent_sees_the_number_and_processes_a_callback(client: TestClient) -> None:
    db = client.app.state.db
    cb_id = create_callback(db, "+33698765432", reason="Rappeler au sujet d'une concession au cimetière",
                            topic="deces_funeraire")
    token = login(client, AGENT)
    page = client.get("/agents/callbacks").text
    assert 'href="tel:+33698765432"' in page
    assert "concession au cimetière" in page and "à rappeler" in page
    # The list links to the request's own edit page, which knows the list to go back to.
    link = re.search(rf'href="(/agents/callbacks/{cb_id}\?retour=[^"]+)"', page)
    assert link, "no edit link for the callback"
    form = client.get(link.group(1).replace("&amp;", "&"))
    assert form.status_code == 200 and 'name="notes"' in form.text and 'name="csrf_token"' in form.text
    response = client.post(f"/agents/callbacks/{cb_id}", data={
        "csrf_token": token, "status": "injoignable", "assigned_to": AGENT[0],
        "notes": "Messagerie, rappeler demain matin", "back": "/agents/callbacks?statut=a_rappeler&page=2"})
    assert response.status_code == 200
    assert response.url.path == "/agents/callbacks"
    assert response.url.params["statut"] == "a_rappeler"  # back to the list the agent was on
    assert response.url.params["page"] == "2"
    assert f"Rappel n° {cb_id} enregistré" in response.text
    mine = client.get("/agents/callbacks?attribue=moi&statut=injoignable").text
    assert cb_id in row_ids(mine)
    assert re.search(rf'<tr id="rappel-{cb_id}".*?<td>alice</td>', mine, re.S)
    assert "Messagerie, rappeler demain matin" in client.get(f"/agents/callbacks/{cb_id}").text
    assert cb_id not in row_ids(client.get("/agents/callbacks?statut=a_rappeler").text)
    # The older `moi=1` link still means "assigned to me".
    assert cb_id in row_ids(client.get("/agents/callbacks?moi=1&statut=injoignable").text)


def test_bad_callback_updates_are_refused_with_a_message(client: TestClient) -> None:
    cb_id = create_callback(client.app.state.db, "+33611112222", reason="test")
    token = login(client, AGENT)
    bad = client.post(f"/agents/callbacks/{cb_id}", data={"csrf_token": token, "status": "perdu"})
    assert bad.status_code == 400 and "Statut inconnu" in bad.text
    missing = client.post("/agents/callbacks/999999", data={"csrf_token": token, "status": "clos"})
    assert missing.status_code == 400
    no_token = client.post(f"/agents/callbacks/{cb_id}", data={"status": "clos"})
    assert no_token.status_code == 403
    forged = client.post(f"/agents/callbacks/{cb_id}", data={"status": "clos", "csrf_token": "jeton-forgé-é"})
    assert forged.status_code == 403
    assert client.get("/agents/callbacks/999999", headers={"Accept": "text/html"}).status_code == 404
    assert "à rappeler" in client.get("/agents/callbacks?statut=a_rappeler").text


@pytest.fixture(scope="module")
def block(console_app: object) -> list[int]:
    """120 requests from numbers +3365550…, created one minute apart (the first is the oldest);
    every third is assigned to alice, the last ten are already called back."""
    db: Database = console_app.state.db
    start = datetime.now(UTC) - timedelta(days=3)
    ids = []
    with db.session() as s:
        for i in range(BLOCK_SIZE):
            cb = Callback(created_at=start + timedelta(minutes=i), number=f"{BLOCK_PREFIX}{i:04d}",
                          reason=f"Demande {i}", status="rappele" if i >= BLOCK_SIZE - 10 else "a_rappeler",
                          assigned_to=AGENT[0] if i % 3 == 0 else None)
            s.add(cb)
            s.flush()
            ids.append(cb.id)
    return ids


def test_callbacks_are_paginated_oldest_waiting_first(client: TestClient, block: list[int]) -> None:
    login(client, AGENT)
    first = client.get("/agents/callbacks?numero=06+55+50").text
    assert "110 demandes de rappel" in first and "page 1 sur 3" in first
    assert row_ids(first) == block[:50]  # "à rappeler" by default, who waited longest first
    assert 'href="/agents/callbacks?statut=a_rappeler&amp;numero=06+55+50&amp;page=2"' in first
    last = client.get("/agents/callbacks?numero=06+55+50&page=3").text
    assert row_ids(last) == block[100:110]
    everything = client.get("/agents/callbacks?numero=06+55+50&statut=tous&page=3").text
    assert "120 demandes" in everything and len(row_ids(everything)) == 20


@pytest.mark.parametrize("page", ["-3", "abc", "", "0", "1.5", "99999999999999999999"])
def test_unusable_page_numbers_show_a_real_page(client: TestClient, block: list[int], page: str) -> None:
    login(client, AGENT)
    response = client.get(f"/agents/callbacks?numero=0655500&page={page}")
    assert response.status_code == 200
    ids = row_ids(response.text)
    # Nonsense is page 1; beyond the end is the last page (110 open requests: 3 pages).
    assert ids == (block[100:110] if page == "99999999999999999999" else block[:50])


def test_callbacks_filter_by_assignee_and_number_and_sort_by_column(client: TestClient,
                                                                    block: list[int]) -> None:
    login(client, AGENT)
    mine = row_ids(client.get("/agents/callbacks?numero=0655500&attribue=alice&statut=tous").text)
    assert mine == [cb for i, cb in enumerate(block) if i % 3 == 0][::-1]  # "tous": newest first
    nobody = row_ids(client.get("/agents/callbacks?numero=0655500&attribue=personne").text)
    assert nobody[:3] == [block[1], block[2], block[4]]
    one = row_ids(client.get("/agents/callbacks?numero=%2B33+6+55+50+00+42").text)
    assert one == [block[42]]
    by_number = client.get("/agents/callbacks?numero=0655500&tri=numero&ordre=desc").text
    assert row_ids(by_number)[0] == block[109]
    assert 'aria-sort="descending"' in by_number
    # The header of the sorted column reverses it; its link keeps the filters.
    reverse = "/agents/callbacks?statut=a_rappeler&amp;numero=0655500&amp;tri=numero&amp;ordre=asc"
    assert f'href="{reverse}"' in by_number
    done = row_ids(client.get("/agents/callbacks?numero=0655500&statut=rappele").text)
    assert done == list(reversed(block[110:]))  # handled requests: the most recent first


def test_unknown_filter_values_fall_back_with_a_notice(client: TestClient, block: list[int]) -> None:
    login(client, AGENT)
    response = client.get("/agents/callbacks?numero=0655500&statut=perdu&tri=couleur&ordre=haut")
    assert response.status_code == 200
    assert "Statut inconnu « perdu »" in response.text
    assert row_ids(response.text) == block[:50]
    letters = client.get("/agents/callbacks?numero=abc")
    assert letters.status_code == 200 and "non reconnu" in letters.text
