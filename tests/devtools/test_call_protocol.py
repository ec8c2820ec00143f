"""`place_call` speaks Twilio's protocol to a server: checked from the server's side of the socket."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time

import pytest

from callbot.devtools.simulator.call import (
    Dtmf,
    Hangup,
    SimulationError,
    Wait,
    WaitForBot,
    Wav,
    place_call,
)
from tests.devtools.conftest import SILENCE, Peer, bot_media, mark, run, speech


async def greet_then_answer_then_transfer(ws, peer: Peer) -> None:  # noqa: ANN001
    """Greets (0.4 s + mark), answers the caller's first utterance (0.3 s + mark), then hangs up."""
    await peer.next_message(ws)  # connected
    start = await peer.next_message(ws)
    sid = start["streamSid"]
    peer.sent_at["greeting"] = time.perf_counter()
    for m in bot_media(sid, 0.4):
        await ws.send_text(m)
    await ws.send_text(mark(sid, "greeting"))
    await peer.read_until(ws, speech)
    # End of speech: the first silent frame after speech.
    await peer.read_until(ws, lambda m: m.get("event") == "media" and not speech(m))
    await asyncio.sleep(0.2)  # "thinking"
    peer.sent_at["reply"] = time.perf_counter()
    for m in bot_media(sid, 0.3):
        await ws.send_text(m)
    await ws.send_text(mark(sid, "reply"))
    await peer.read_until(ws, lambda m: m.get("event") == "mark" and m["mark"]["name"] == "reply")
    await ws.close()


def test_a_call_follows_twilios_protocol_from_webhook_to_connect_action(peer: Peer, tone) -> None:  # noqa: ANN001
    peer.behaviour = greet_then_answer_then_transfer
    peer.after_twiml = "<Response><Enqueue>accueil</Enqueue></Response>"
    summary = run(place_call(peer.url, [WaitForBot(5), Wav(tone), WaitForBot(5)], caller="+33611111111",
                             listen_secs_after=5))

    # Webhook like Twilio's, then the Connect action for the same call.
    (path1, form1, _), (path2, form2, _) = peer.webhooks
    assert path1 == "/twilio/voice" and path2 == "/twilio/after-stream"
    assert form1["From"] == "+33611111111" and form1["CallStatus"] == "ringing"
    assert form1["Direction"] == "inbound" and form1["ApiVersion"] == "2010-04-01"
    assert re.fullmatch(r"CA[0-9a-f]{32}", form1["CallSid"])
    assert re.fullmatch(r"AC[0-9a-f]{32}", form1["AccountSid"])
    assert form2["CallSid"] == form1["CallSid"] == summary.call_sid

    # connected, then start exactly as Twilio writes them.
    messages = [m for _, m in peer.frames]
    assert messages[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = messages[1]
    assert start["event"] == "start" and start["sequenceNumber"] == "1"
    assert re.fullmatch(r"MZ[0-9a-f]{32}", start["streamSid"]) and start["streamSid"] == summary.stream_sid
    assert start["start"] == {
        "accountSid": form1["AccountSid"], "streamSid": start["streamSid"], "callSid": form1["CallSid"],
        "tracks": ["inbound"], "customParameters": {"caller": "+33611111111", "token": "tok-123"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }
    # Every later frame: sequenceNumber +1 as strings; media chunk +1 and timestamp +20 ms.
    assert [m["sequenceNumber"] for m in messages[1:]] == [str(i) for i in range(1, len(messages))]
    media = [m for m in messages if m["event"] == "media"]
    assert [m["media"]["chunk"] for m in media] == [str(i) for i in range(1, len(media) + 1)]
    stamps = [int(m["media"]["timestamp"]) for m in media]
    assert all(b - a == 20 for a, b in zip(stamps, stamps[1:], strict=False))
    assert all(m["media"]["track"] == "inbound" and m["streamSid"] == start["streamSid"] for m in media)
    assert all(len(base64.b64decode(m["media"]["payload"])) == 160 for m in media)
    # The 0.5 s tone arrived as 25 non-silent frames, with silence before and after (the line never pauses).
    payloads = peer.media_payloads()
    spoken = [i for i, p in enumerate(payloads) if p != SILENCE]
    assert 24 <= len(spoken) <= 26 and spoken[0] > 20 and spoken[-1] < len(payloads) - 5

    # Paced in real time: 20 ms apart on the server's clock, no hole.
    arrivals = [t for t, m in peer.frames if m["event"] == "media"]
    span = arrivals[-1] - arrivals[0]
    assert span == pytest.approx(0.02 * (len(arrivals) - 1), rel=0.05)
    assert max(b - a for a, b in zip(arrivals, arrivals[1:], strict=False)) < 0.1

    # Marks come back when playback reaches them, not when they arrive.
    echoes = {m["mark"]["name"]: t for t, m in peer.frames if m["event"] == "mark"}
    assert set(echoes) == {"greeting", "reply"}
    assert echoes["greeting"] - peer.sent_at["greeting"] >= 0.4 - 0.03
    assert echoes["reply"] - peer.sent_at["reply"] >= 0.3 - 0.03

    assert summary.greeting_ms is not None and 0 <= summary.greeting_ms < 300
    (turn,) = summary.turns
    assert turn.kind == "wav" and turn.step == 1
    # The peer waits for one silent frame, then 200 ms: the answer comes 200-400 ms after the caller stopped.
    assert 200 <= turn.first_audio_ms < 450
    assert turn.bot_audio_ms == pytest.approx(300, abs=25)
    assert summary.bot_audio_seconds == pytest.approx(0.7, abs=0.05)
    assert summary.marks_sent_by_server == 2 and summary.marks_echoed == 2 and summary.clears == 0
    assert summary.violations == []
    assert summary.hung_up_by == "server"
    assert summary.outcome["verb"] == "enqueue" and summary.outcome["target"] == "accueil"
    assert "<Enqueue>accueil</Enqueue>" in summary.outcome["twiml"]
    json.loads(summary.to_json())


async def long_reply_cut_by_caller(ws, peer: Peer) -> None:  # noqa: ANN001
    await peer.next_message(ws)
    sid = (await peer.next_message(ws))["streamSid"]
    for m in bot_media(sid, 3.0):
        await ws.send_text(m)
    await ws.send_text(mark(sid, "long-reply"))
    await peer.read_until(ws, speech)  # barge-in
    peer.sent_at["clear"] = time.perf_counter()
    await ws.send_text(json.dumps({"event": "clear", "streamSid": sid}))
    await peer.drain(ws)


def test_clear_drops_the_buffer_and_echoes_pending_marks_at_once(peer: Peer, tone) -> None:  # noqa: ANN001
    peer.behaviour = long_reply_cut_by_caller
    summary = run(place_call(peer.url, [Wait(0.4), Wav(tone), Wait(0.2), Hangup()]))
    (echo_at, echo), = [(t, m) for t, m in peer.frames if m["event"] == "mark"]
    assert echo["mark"] == {"name": "long-reply"}
    assert echo_at - peer.sent_at["clear"] < 0.1  # not after the 3 s of audio
    assert summary.clears == 1 and summary.marks_echoed == 1
    assert summary.bot_audio_seconds == pytest.approx(3.0, abs=0.05)
    assert summary.bot_audio_played_seconds < 1.0  # the rest was dropped
    # The caller hung up: a stop frame, and no Connect action request.
    last = [m for _, m in peer.frames][-1]
    assert last["event"] == "stop" and last["stop"]["callSid"] == summary.call_sid
    assert last["streamSid"] == summary.stream_sid
    assert peer.closed_by_caller and summary.hung_up_by == "caller"
    assert [path for path, _, _ in peer.webhooks] == ["/twilio/voice"]
    assert summary.outcome["verb"] is None


async def record_everything(ws, peer: Peer) -> None:  # noqa: ANN001
    await peer.drain(ws)


def test_dtmf_frames_are_sent_in_order_between_media(peer: Peer) -> None:
    peer.behaviour = record_everything
    summary = run(place_call(peer.url, [Wait(0.1), Dtmf("0"), Wait(0.1), Dtmf("#"), Hangup()]))
    messages = [m for _, m in peer.frames]
    dtmf = [m for m in messages if m["event"] == "dtmf"]
    assert [d["dtmf"] for d in dtmf] == [{"track": "inbound_track", "digit": "0"},
                                         {"track": "inbound_track", "digit": "#"}]
    assert all(d["streamSid"] == summary.stream_sid for d in dtmf)
    assert [m["sequenceNumber"] for m in messages[1:]] == [str(i) for i in range(1, len(messages))]
    first = messages.index(dtmf[0])
    assert messages[first - 1]["event"] == "media" and messages[first + 1]["event"] == "media"
    assert summary.dtmf_sent == 2 and [t.kind for t in summary.turns] == ["dtmf", "dtmf"]


async def misbehaving_server(ws, peer: Peer) -> None:  # noqa: ANN001
    await peer.next_message(ws)
    sid = (await peer.next_message(ws))["streamSid"]
    riff = base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 160).decode()
    await ws.send_bytes(b"\x00\x01binary")
    await ws.send_text(json.dumps({"event": "media", "streamSid": sid, "media": {"payload": riff}}))
    await ws.send_text(json.dumps({"event": "media", "streamSid": sid, "media": {"payload": "not base64!"}}))
    await ws.send_text(json.dumps({"event": "playAudio", "streamSid": sid}))
    await ws.send_text(json.dumps({"event": "media", "media": {"payload": "//8="}}))
    await ws.send_text("{broken")
    await ws.send_text(bot_media(sid, 0.02)[0])  # one valid frame among the bad ones
    await asyncio.sleep(0.3)
    await ws.close()


def test_protocol_violations_by_the_server_are_reported(peer: Peer) -> None:
    peer.behaviour = misbehaving_server
    summary = run(place_call(peer.url, [Wait(2)]))
    codes = [v["code"] for v in summary.violations]
    assert codes == ["binary_frame", "wav_header", "bad_base64", "unknown_event", "missing_stream_sid",
                     "bad_json"]
    assert all(v["detail"] for v in summary.violations)
    assert summary.bot_audio_seconds == pytest.approx(0.02)
    assert summary.hung_up_by == "server" and summary.outcome["verb"] == "hangup"


def test_signed_like_twilio_when_an_auth_token_is_given(peer: Peer) -> None:
    peer.auth_token = "s3cret"
    peer.behaviour = misbehaving_server
    summary = run(place_call(peer.url, [Wait(1)], auth_token="s3cret"))
    assert summary.outcome["verb"] == "hangup"  # both webhooks accepted
    assert all(h.get("x-twilio-signature") for _, _, h in peer.webhooks) and len(peer.webhooks) == 2
    assert peer.ws_headers.get("x-twilio-signature")
    with pytest.raises(SimulationError, match="403"):
        run(place_call(peer.url, [Wait(1)], auth_token="wrong"))


@pytest.mark.parametrize("twiml, message", [
    ("<Response><Connect><Stream/></Connect></Response>", "url"),
    ("<html>oops</html>", "Response"),
    ("not xml at all", "XML"),
    ("<Response><Start><Stream url='wss://x/y'/></Start></Response>", "unidirectionnel"),
])
def test_invalid_twiml_is_a_clear_error(peer: Peer, twiml: str, message: str) -> None:
    peer.voice_twiml = lambda _p: twiml
    with pytest.raises(SimulationError, match=message):
        run(place_call(peer.url, [Wait(0.1)]))


def test_a_call_the_server_sends_straight_to_the_queue_opens_no_stream(peer: Peer) -> None:
    peer.voice_twiml = lambda _p: "<Response><Enqueue>accueil</Enqueue></Response>"
    summary = run(place_call(peer.url, [Wait(0.1)]))
    assert summary.stream_sid is None and summary.outcome["verb"] == "enqueue"
    assert peer.frames == []


def test_rewrite_host_reaches_a_server_announced_under_a_public_name(peer: Peer) -> None:
    public = "https://mairie.example.org"
    peer.voice_twiml = lambda p: p.default_twiml().replace(p.url, public).replace(
        p.url.replace("http", "ws"), public.replace("https", "wss"))
    peer.behaviour = misbehaving_server
    with pytest.raises(SimulationError, match="rewrite-host"):
        run(place_call(peer.url, [Wait(0.1)]))
    summary = run(place_call(peer.url, [Wait(0.5)], rewrite_stream_host=True, public_url=public))
    assert summary.outcome["verb"] == "hangup"
    assert [p for p, _, _ in peer.webhooks][-1] == "/twilio/after-stream"


def test_unreachable_server() -> None:
    from tests.devtools.conftest import free_port

    with pytest.raises(SimulationError, match="injoignable"):
        run(place_call(f"http://127.0.0.1:{free_port()}", [Wait(0.1)]))


async def close_before_playback_ends(ws, peer: Peer) -> None:  # noqa: ANN001
    await peer.next_message(ws)
    sid = (await peer.next_message(ws))["streamSid"]
    for m in bot_media(sid, 1.0):
        await ws.send_text(m)
    await ws.send_text(mark(sid, "goodbye"))
    await asyncio.sleep(0.3)
    await ws.close()


def test_audio_still_queued_when_the_server_closes_is_reported_unheard(peer: Peer) -> None:
    peer.behaviour = close_before_playback_ends
    summary = run(place_call(peer.url, [Wait(3)]))
    assert summary.hung_up_by == "server"
    assert summary.unplayed_at_close_ms == pytest.approx(700, abs=60)
    assert summary.marks_pending_at_close == 1 and summary.marks_echoed == 0
    assert summary.bot_audio_played_seconds == pytest.approx(0.3, abs=0.06)
    assert [m for _, m in peer.frames if m["event"] == "mark"] == []
