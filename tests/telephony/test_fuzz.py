"""Property-based fuzzing (hypothesis) of what Twilio, or anyone, may send.

In process: the media socket's serializer and playback-mark reader (tens of thousands of
messages: JSON of every shape, binary, base64, marks, DTMF, sizes), the socket's handshake, and
the webhooks' forms. Over a real socket: a short random burst in the middle of a genuine call.
The property is always the same: bad input costs at most its own socket, never the server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from callbot.telephony.serializer import TolerantTwilioSerializer
from tests.telephony.test_media_socket import CONNECTED, start

STREAM = "MZ" + "0" * 32
EVENTS = ["connected", "start", "media", "mark", "dtmf", "stop", "clear", None, 7, "MEDIA"]

# JSON of any shape, biased towards Media Streams messages with odd fields.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8)
payloads = st.one_of(
    st.binary(max_size=400).map(lambda b: base64.b64encode(b).decode()),  # valid base64 audio
    st.text(max_size=60),  # broken base64
    json_values,
)
media_like = st.fixed_dictionaries(
    {"event": st.sampled_from(EVENTS)},
    optional={
        "streamSid": st.sampled_from([STREAM, "", None, 3]),
        "media": st.fixed_dictionaries({}, optional={"payload": payloads, "track": json_values,
                                                     "timestamp": json_values}) | json_values,
        "mark": st.fixed_dictionaries({}, optional={"name": json_values}) | json_values,
        "dtmf": st.fixed_dictionaries({}, optional={
            "digit": st.sampled_from(list("0123456789*#A")) | json_values,
            "track": json_values,
        }) | json_values,
        "sequenceNumber": json_values,
    })
messages = st.one_of(
    media_like.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=80),
    st.binary(max_size=200),
)


def mutations(message: str | bytes, rng: random.Random) -> list[str | bytes]:
    """What a broken peer or a bad network makes of a message: cut, flipped, as bytes, doubled."""
    raw = message.encode() if isinstance(message, str) else message
    cut = raw[:rng.randrange(len(raw) + 1)]
    flipped = bytearray(raw)
    for _ in range(min(3, len(flipped))):
        flipped[rng.randrange(len(flipped))] = rng.randrange(256)
    return [message, cut, bytes(flipped), raw, raw + raw]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages, min_size=20, max_size=20), st.randoms(use_true_random=False))
def test_the_serializer_and_mark_reader_survive_any_message(batch: list, rng: random.Random) -> None:
    """100 examples × 20 generated messages × 5 mutations: 10 000 messages per run."""
    serializer = TolerantTwilioSerializer(STREAM, "CA" + "0" * 32)

    async def feed() -> None:
        for message in batch:
            for data in mutations(message, rng):
                frame = await serializer.deserialize(data)
                if frame is not None:
                    serializer.mark_echo(frame)  # what the dialog asks of every message frame

    asyncio.run(feed())


form_values = st.one_of(st.text(max_size=40),
                        st.sampled_from(["", "CA" + "f1" * 16, "+33612345678", "1", "0"]))
forms = st.dictionaries(st.sampled_from(["CallSid", "From", "To", "Digits", "QueueResult", "QueueTime",
                                         "CallStatus", "x"]), form_values, max_size=6)
WEBHOOKS = ["/twilio/voice", "/twilio/after-stream", "/twilio/overflow-callback", "/twilio/queue-wait",
            "/twilio/queue-result"]


@pytest.mark.e2e
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(WEBHOOKS), form=forms)
def test_webhooks_answer_any_form_without_a_server_error(live_server, path: str, form: dict) -> None:  # noqa: ANN001
    r = httpx.post(live_server.url + path, data=form, timeout=30)
    assert r.status_code < 500, (path, form, r.text[:200])
    if "<Connect" in r.text:  # a stream that will never come must not hold a place
        httpx.post(live_server.url + "/twilio/after-stream", data={"CallSid": form["CallSid"]}, timeout=30)


@pytest.mark.e2e
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=messages, second=messages)
def test_any_handshake_closes_cleanly(live_server, first: str | bytes, second: str | bytes) -> None:  # noqa: ANN001
    url = live_server.url.replace("http://", "ws://") + "/twilio/media"
    with connect(url, max_size=None) as ws, pytest.raises(ConnectionClosed) as exc:
        ws.send(first)
        ws.send(second)
        ws.recv(timeout=20)
    assert exc.value.rcvd is not None and exc.value.rcvd.code in (1008, 1009)


@pytest.mark.e2e
def test_a_random_burst_mid_call_costs_at_most_that_call(live_server) -> None:  # noqa: ANN001
    sid = "CA" + "f4" * 16
    r = httpx.post(f"{live_server.url}/twilio/voice", data={"CallSid": sid, "From": "+33644444444"})
    token = r.text.split('name="token" value="')[1].split('"')[0]
    rng = random.Random(11)
    burst = [_random_message(rng) for _ in range(2000)]
    t0 = time.monotonic()
    try:
        with connect(live_server.url.replace("http://", "ws://") + "/twilio/media", max_size=None) as ws:
            ws.send(json.dumps(CONNECTED))
            ws.send(json.dumps(start(sid, token)))
            for m in burst:
                ws.send(m)
            ws.close()
    except ConnectionClosed as e:  # closed by the server for this socket's behaviour: fine
        assert e.rcvd is None or e.rcvd.code in (1000, 1008, 1009)
    assert time.monotonic() - t0 < 30
    assert httpx.get(f"{live_server.url}/healthz").json()["status"] == "ok"


def _random_message(rng: random.Random) -> str | bytes:
    kind = rng.random()
    if kind < 0.5:
        audio = base64.b64encode(rng.randbytes(160)).decode()
        return json.dumps({"event": "media", "streamSid": STREAM, "media": {"payload": audio}})
    if kind < 0.6:
        return json.dumps({"event": "mark", "mark": rng.choice([{"name": "seg-1"}, "x", None, 3])})
    if kind < 0.7:
        return json.dumps({"event": "dtmf", "dtmf": rng.choice([{"digit": "5"}, {"digit": 5}, "9", None])})
    if kind < 0.8:
        return rng.randbytes(rng.randrange(1, 300))
    if kind < 0.9:
        return "".join(rng.choice("{}[]\":,ab01") for _ in range(rng.randrange(1, 60)))
    return json.dumps({"event": rng.choice(EVENTS), "media": {"payload": "!!notbase64"}})
