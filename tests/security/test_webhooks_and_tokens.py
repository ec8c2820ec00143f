"""The attacks of issue 12 on the Twilio side, replayed: open webhooks, a whisper that marks a call
taken, a media token used twice or after the call, a different `caller` on the socket, a replayed
signed webhook."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient
from loguru import logger
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from callbot.app import create_app
from callbot.config import Settings
from callbot.store.call_streams import claim_stream, record_arrival
from callbot.store.calls import hash_number, mask_number
from callbot.store.db import Database
from callbot.store.models import Call
from callbot.telephony.signature import announce_webhook_security
from tests.conftest import REPO

CALL = {"CallSid": "CA" + "5" * 32, "AccountSid": "AC" + "2" * 32, "From": "+33612345678",
        "To": "+33100000000", "CallStatus": "ringing", "Direction": "inbound"}
TWILIO_ROUTES = ["/twilio/voice", "/twilio/after-stream", "/twilio/queue-wait", "/twilio/queue-result",
                 "/twilio/agent?queue=accueil", "/twilio/whisper?agent=evil"]
PUBLIC = "https://mairie.example.org"


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> TestClient:  # noqa: ANN001
    """One web-only app (loading the dialog takes seconds); each test sets how it is configured."""
    tmp = tmp_path_factory.mktemp("webhooks")
    settings = Settings(flows=REPO / "flows", database_url=f"sqlite:///{tmp}/db.sqlite", public_url=PUBLIC,
                        secret_key="s", prompt_cache_dir=tmp / "cache", allow_unsigned=False)
    with TestClient(create_app(settings, speech=False)) as c:
        yield c


def configured(client: TestClient, **overrides: object) -> str:
    """Reconfigure the app; returns what the server says at start-up with this configuration."""
    settings = Settings(**{**client.app.state.settings.model_dump(), "twilio_auth_token": None,
                           "allow_unsigned": False, **overrides})
    client.app.state.settings = settings
    log = io.StringIO()
    sink = logger.add(log, level="INFO", format="{message}")
    try:
        announce_webhook_security(settings)  # what the app's start-up calls
    finally:
        logger.remove(sink)
    return log.getvalue()


def test_without_an_auth_token_every_twilio_route_refuses_and_start_up_says_why(client) -> None:
    assert "CALLBOT_TWILIO_AUTH_TOKEN is not set" in configured(client)
    for route in TWILIO_ROUTES:
        assert client.post(route, data={**CALL, "QueueResult": "bridged"}).status_code == 403, route
    with client.app.state.db.session() as s:
        assert s.scalar(select(Call.id)) is None  # no fake call reached the agents' queue


def test_allow_unsigned_is_for_local_tests_and_is_loud(client) -> None:
    said = configured(client, allow_unsigned=True)
    assert "CALLBOT_ALLOW_UNSIGNED=1" in said and "!!" in said
    assert client.post("/twilio/voice", data={**CALL, "CallSid": "CAunsigned"}).status_code == 200


def test_signatures_are_checked_against_the_public_url_behind_a_tls_proxy(client) -> None:
    assert "signatures checked" in configured(client, twilio_auth_token="tok3n")
    # The proxy hands us http://testserver/…; Twilio signed the https public URL.
    good = RequestValidator("tok3n").compute_signature(PUBLIC + "/twilio/voice", CALL)
    assert client.post("/twilio/voice", data=CALL, headers={"X-Twilio-Signature": good}).status_code == 200
    local = RequestValidator("tok3n").compute_signature("http://testserver/twilio/voice", CALL)
    assert client.post("/twilio/voice", data=CALL, headers={"X-Twilio-Signature": local}).status_code == 403
    url = PUBLIC + "/twilio/whisper?agent=evil"
    forged = RequestValidator("other").compute_signature(url, {"CallSid": CALL["CallSid"]})
    r = client.post("/twilio/whisper?agent=evil", data={"CallSid": CALL["CallSid"]},
                    headers={"X-Twilio-Signature": forged})
    assert r.status_code == 403
    with client.app.state.db.session() as s:
        assert s.scalar(select(Call.picked_up_by).where(Call.call_sid == CALL["CallSid"])) is None


def start_message(call_sid: str, token: str, caller: str, stream: str) -> str:
    return json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": stream,
                       "start": {"accountSid": "AC" + "0" * 32, "streamSid": stream, "callSid": call_sid,
                                 "tracks": ["inbound"],
                                 "customParameters": {"token": token, "caller": caller, "called": "+33999"},
                                 "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                                 "channels": 1}}})


@contextmanager
def media(url: str, call_sid: str, token: str, caller: str, stream: str):  # noqa: ANN201
    """A media socket that has sent Twilio's `connected` and `start` for this call."""
    with connect(url.replace("http://", "ws://") + "/twilio/media") as ws:
        ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        ws.send(start_message(call_sid, token, caller, stream))
        yield ws


def refused(ws) -> str:  # noqa: ANN001
    with pytest.raises(ConnectionClosed) as exc:
        while True:  # a refused socket is closed before any audio
            ws.recv(timeout=10)
    assert exc.value.rcvd.code == 1008
    return exc.value.rcvd.reason


def test_a_media_token_opens_one_stream_once_and_the_socket_cannot_change_the_caller(live_server) -> None:
    sid = "CA" + "6" * 32
    r = httpx.post(f"{live_server.url}/twilio/voice", data={**CALL, "CallSid": sid})
    token = r.text.split('name="token" value="')[1].split('"')[0]
    with media(live_server.url, sid, token, "+33699999999", "MZ" + "1" * 32) as first:
        first.recv(timeout=30)  # the call runs: the greeting's first audio
        with media(live_server.url, sid, token, "+33688888888", "MZ" + "2" * 32) as second:
            assert "already used" in refused(second)
    with media(live_server.url, sid, token, "+33677777777", "MZ" + "3" * 32) as again:
        assert "already used" in refused(again)
    secret = live_server.app.state.runtime.secret
    with live_server.db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == sid))
        assert call.stream_sid == "MZ" + "1" * 32
        assert call.caller_hash == hash_number(secret, CALL["From"])  # what the webhook said
        assert call.caller_masked == mask_number(CALL["From"])
        assert call.called_number == CALL["To"]
    # A replayed webhook for this CallSid hands out no new token: it hangs up.
    replay = ET.fromstring(httpx.post(f"{live_server.url}/twilio/voice", data={**CALL, "CallSid": sid}).text)
    assert replay.find("Hangup") is not None and replay.find("Connect") is None


def test_single_use_holds_across_server_processes_sharing_the_database(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    Database(url).migrate()
    processes = [Database(url) for _ in range(4)]  # one engine each, as separate workers have
    record_arrival(processes[0], b"k", "CArace", "+33612345678", "+33100000000")
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda i: claim_stream(processes[i % 4], "CArace", f"MZ{i}"), range(8)))
    assert sum(w is not None for w in won) == 1
