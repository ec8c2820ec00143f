"""The Twilio side of the human queue, checked as Twilio would call it (form posts → TwiML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from tests.agents.conftest import AGENT, login, make_settings, transferred_call


def twiml(response) -> ET.Element:  # noqa: ANN001
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return ET.fromstring(response.text)


def test_whisper_says_what_and_how_long_then_the_console_shows_it_taken(client: TestClient) -> None:
    transferred_call(client.app.state.db, "CAwhisper1", summary="Demande de passeport", queued_secs_ago=130)
    root = twiml(client.post("/twilio/whisper?agent=alice", data={
        "CallSid": "CAwhisper1", "QueueSid": "QU1", "QueueTime": "125", "DequeingCallSid": "CAagent"}))
    say = root.find("Say")
    assert say is not None and say.get("language") == "fr-FR"
    assert say.text == "Appel transféré : demande de passeport, attente 2 minutes."
    login(client, AGENT)
    assert "CAwhisper1" not in client.get("/agents/waiting").text
    detail = client.get("/agents/calls/CAwhisper1").text
    assert "Pris par <strong>alice</strong>" in detail


def test_whisper_without_summary_falls_back_to_the_topic_and_short_waits(client: TestClient) -> None:
    transferred_call(client.app.state.db, "CAwhisper2", summary="", topic="urbanisme", queued_secs_ago=20)
    root = twiml(client.post("/twilio/whisper", data={"CallSid": "CAwhisper2", "QueueTime": "20"}))
    assert root.find("Say").text == "Appel transféré : urbanisme, attente moins d'une minute."


def test_whisper_for_an_unknown_call_still_connects_the_agent(client: TestClient) -> None:
    root = twiml(client.post("/twilio/whisper", data={"CallSid": "CAnobody", "QueueTime": "5"}))
    assert root.find("Say").text == "Appel transféré."


def test_agent_phone_dials_the_named_queue_with_the_absolute_whisper_url(client: TestClient) -> None:
    root = twiml(client.post("/twilio/agent?queue=urbanisme", data={"From": "+33199000100"}))
    queue = root.find("Dial/Queue")
    assert queue.text == "urbanisme"
    assert queue.get("url") == "https://mairie.example.org/twilio/whisper"
    default = twiml(client.post("/twilio/agent", data={})).find("Dial/Queue")
    assert default.text == "accueil"  # the demo commune's main queue
    assert client.post("/twilio/agent", data={"queue": "<script>"}).status_code == 400


def test_queue_wait_announces_the_position_in_french_then_loops(client: TestClient) -> None:
    db = client.app.state.db
    transferred_call(db, "CAwait1", queue="etat_civil", queued_secs_ago=90)
    transferred_call(db, "CAwait2", queue="etat_civil", queued_secs_ago=30)
    # Twilio sends QueuePosition; without it the position is computed from the database.
    first = twiml(client.post("/twilio/queue-wait", data={"CallSid": "CAwait2", "QueueTime": "2"}))
    assert "position 2" in first.find("Say").text
    assert first.find("Say").get("language") == "fr-FR"
    assert int(first.find("Pause").get("length")) > 0
    assert first.find("Redirect").text == "https://mairie.example.org/twilio/queue-wait"
    next_in_line = twiml(client.post("/twilio/queue-wait", data={"CallSid": "CAwait1", "QueuePosition": "1",
                                                                 "QueueTime": "95"}))
    assert "Vous êtes le prochain appel." in next_in_line.find("Say").text


def test_queue_result_hangup_is_an_abandon_and_leaves_the_waiting_list(client: TestClient) -> None:
    transferred_call(client.app.state.db, "CAgone", summary="Question sur la cantine", topic="ecole_enfance")
    login(client, AGENT)
    assert "Question sur la cantine" in client.get("/agents/waiting").text
    root = twiml(client.post("/twilio/queue-result", data={"CallSid": "CAgone", "QueueResult": "hangup",
                                                           "QueueTime": "240"}))
    assert root.find("Hangup") is not None
    assert "Question sur la cantine" not in client.get("/agents/waiting").text
    recent = client.get("/agents").text
    assert "a raccroché en attente" in recent
    history = client.get("/agents/history?theme=ecole_enfance").text
    assert "Question sur la cantine" in history and "a raccroché en attente" in history


def test_queue_result_error_apologises_and_bad_requests_are_refused(client: TestClient) -> None:
    transferred_call(client.app.state.db, "CAfull")
    root = twiml(client.post("/twilio/queue-result", data={"CallSid": "CAfull", "QueueResult": "queue-full"}))
    assert "aucun agent ne peut vous répondre" in root.find("Say").text
    assert client.post("/twilio/queue-result", data={"QueueResult": "hangup"}).status_code == 400


def test_twilio_routes_check_the_signature_when_a_token_is_set(tmp_path: Path) -> None:
    from callbot.app import create_app

    settings = make_settings(tmp_path, twilio_auth_token="tok-123")
    with TestClient(create_app(settings, speech=False)) as c:
        params = {"CallSid": "CAsig", "QueueTime": "5"}
        assert c.post("/twilio/whisper", data=params).status_code == 403
        assert c.post("/twilio/queue-wait", data=params).status_code == 403
        assert c.post("/twilio/queue-result", data={**params, "QueueResult": "hangup"}).status_code == 403
        assert c.post("/twilio/agent?queue=accueil", data={}).status_code == 403
        url = "https://mairie.example.org/twilio/agent?queue=accueil"
        signature = RequestValidator("tok-123").compute_signature(url, {})
        ok = c.post("/twilio/agent?queue=accueil", data={}, headers={"X-Twilio-Signature": signature})
        assert ok.status_code == 200 and "<Queue" in ok.text
