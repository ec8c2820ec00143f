"""The media socket refuses what is not a genuine call, and survives it."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

CONNECTED = {"event": "connected", "protocol": "Call", "version": "1.0.0"}


def start(call_sid: str, token: str | None) -> dict:
    params = {"caller": "+33600000000"}
    if token is not None:
        params["token"] = token
    return {"event": "start", "sequenceNumber": "1", "streamSid": "MZ" + "0" * 32,
            "start": {"accountSid": "AC" + "0" * 32, "streamSid": "MZ" + "0" * 32, "callSid": call_sid,
                      "tracks": ["inbound"], "customParameters": params,
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}


def refused(url: str, *messages: str) -> tuple[int, str]:
    with connect(url.replace("http://", "ws://") + "/twilio/media") as ws:
        for m in messages:
            ws.send(m)
        with pytest.raises(ConnectionClosed) as exc:
            ws.recv(timeout=10)
    return exc.value.rcvd.code, exc.value.rcvd.reason


@pytest.mark.parametrize("case", ["forged", "missing", "other-call"])
def test_a_socket_without_a_valid_call_token_is_closed(live_server, case) -> None:
    r = httpx.post(f"{live_server.url}/twilio/voice", data={"CallSid": "CA" + "7" * 32, "From": "+336"})
    token = r.text.split('name="token" value="')[1].split('"')[0]
    sid, tok = {"forged": ("CA" + "7" * 32, token[:-4] + "beef"), "missing": ("CA" + "7" * 32, None),
                "other-call": ("CA" + "8" * 32, token)}[case]
    code, reason = refused(live_server.url, json.dumps(CONNECTED), json.dumps(start(sid, tok)))
    assert code == 1008
    assert "token" in reason


def test_malformed_handshakes_are_refused_and_the_server_stays_up(live_server) -> None:
    code, reason = refused(live_server.url, "{not json")
    assert code == 1008 and "JSON" in reason
    code, reason = refused(live_server.url, json.dumps({"event": "media"}))
    assert code == 1008
    code, _ = refused(live_server.url, json.dumps(CONNECTED), json.dumps({"event": "start", "start": {}}))
    assert code == 1008
    assert httpx.get(f"{live_server.url}/healthz").json()["status"] == "ok"
