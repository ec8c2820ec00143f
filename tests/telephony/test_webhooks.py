"""Twilio's HTTP side: the incoming-call TwiML, signatures, the after-stream decision."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from callbot.app import create_app
from callbot.config import Settings
from tests.conftest import REPO

CALL = {"CallSid": "CA" + "1" * 32, "AccountSid": "AC" + "2" * 32, "From": "+33612345678",
        "To": "+33100000000", "CallStatus": "ringing", "Direction": "inbound"}


def test_incoming_call_connects_a_media_stream_with_a_signed_token(live_server) -> None:
    r = httpx.post(f"{live_server.url}/twilio/voice", data=CALL)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(r.text)
    connect = root.find("Connect")
    assert connect is not None
    assert connect.get("action") == f"{live_server.url}/twilio/after-stream"
    stream = connect.find("Stream")
    assert stream.get("url") == live_server.url.replace("http://", "ws://") + "/twilio/media"
    assert "?" not in stream.get("url")  # Twilio refuses query strings on stream URLs
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params["caller"] == "+33612345678"
    assert params["called"] == "+33100000000"
    expires, mac = params["token"].split(".")
    assert expires.isdigit() and len(mac) == 64


def test_after_stream_for_an_unknown_call_apologises_and_hangs_up(live_server) -> None:
    r = httpx.post(f"{live_server.url}/twilio/after-stream", data={**CALL, "CallSid": "CA" + "9" * 32})
    root = ET.fromstring(r.text)
    assert root.find("Hangup") is not None
    assert root.find("Say").get("language") == "fr-FR"


@pytest.fixture()
def signed_app(tmp_path):
    settings = Settings(flows=REPO / "flows", database_url=f"sqlite:///{tmp_path}/db.sqlite",
                        public_url="https://mairie.example.org", twilio_auth_token="tok3n",
                        secret_key="s", prompt_cache_dir=tmp_path / "cache")
    with TestClient(create_app(settings, speech=False)) as client:
        yield client


def test_webhook_with_a_bad_signature_is_refused(signed_app) -> None:
    r = signed_app.post("/twilio/voice", data=CALL, headers={"X-Twilio-Signature": "forged"})
    assert r.status_code == 403
    r = signed_app.post("/twilio/voice", data=CALL)
    assert r.status_code == 403


def test_webhook_with_twilios_signature_is_accepted(signed_app) -> None:
    url = "https://mairie.example.org/twilio/voice"
    signature = RequestValidator("tok3n").compute_signature(url, CALL)
    r = signed_app.post("/twilio/voice", data=CALL, headers={"X-Twilio-Signature": signature})
    assert r.status_code == 200
    # Without speech models the bot cannot answer: the caller goes straight to people.
    root = ET.fromstring(r.text)
    assert root.find("Enqueue") is not None
    assert root.find("Enqueue").get("action") == "https://mairie.example.org/twilio/queue-result"
