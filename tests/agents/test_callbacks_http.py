"""Callback requests: the list agents work from, status changes, assignment, notes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from callbot.store.callbacks import create_callback
from tests.agents.conftest import AGENT, login


def test_an_agent_sees_the_number_and_processes_a_callback(client: TestClient) -> None:
    db = client.app.state.db
    cb_id = create_callback(db, "+33698765432", reason="Rappeler au sujet d'une concession au cimetière",
                            topic="deces_funeraire")
    token = login(client, AGENT)
    page = client.get("/agents/callbacks").text
    assert 'href="tel:+33698765432"' in page
    assert "concession au cimetière" in page and "à rappeler" in page
    response = client.post(f"/agents/callbacks/{cb_id}", data={
        "csrf_token": token, "status": "injoignable", "assigned_to": AGENT[0],
        "notes": "Messagerie, rappeler demain matin", "back": "/agents/callbacks?statut=a_rappeler"})
    assert response.status_code == 200
    assert response.url.path == "/agents/callbacks"
    assert response.url.params["statut"] == "a_rappeler"  # back to the list the agent was on
    mine = client.get("/agents/callbacks?moi=1&statut=injoignable").text
    assert f'id="rappel-{cb_id}"' in mine
    assert "Messagerie, rappeler demain matin" in mine
    assert "Attribué à <strong>alice</strong>" in mine
    todo = client.get("/agents/callbacks?statut=a_rappeler").text
    assert f'id="rappel-{cb_id}"' not in todo


def test_bad_callback_updates_are_refused_with_a_message(client: TestClient) -> None:
    cb_id = create_callback(client.app.state.db, "+33611112222", reason="test")
    token = login(client, AGENT)
    bad = client.post(f"/agents/callbacks/{cb_id}", data={"csrf_token": token, "status": "perdu"})
    assert bad.status_code == 400 and "Statut inconnu" in bad.text
    missing = client.post("/agents/callbacks/999999", data={"csrf_token": token, "status": "clos"})
    assert missing.status_code == 400
    no_token = client.post(f"/agents/callbacks/{cb_id}", data={"status": "clos"})
    assert no_token.status_code == 403
    assert "à rappeler" in client.get("/agents/callbacks?statut=a_rappeler").text
