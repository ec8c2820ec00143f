"""Faults against the real server: the database locked mid-call, bad frames, oversized messages,
more callers than the bot can take. A caller always hears someone; the server serves the next call.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from callbot.devtools.simulator.call import place_call
from callbot.devtools.simulator.steps import Say, WaitForBot
from callbot.vocabulary import Outcome, TransferReason
from tests.telephony.test_calls import stored
from tests.telephony.test_media_socket import CONNECTED, start

pytestmark = pytest.mark.e2e


def db_path(live_server) -> str:  # noqa: ANN001
    return live_server.settings.database_url.removeprefix("sqlite:///")


def voice(live_server, sid: str) -> httpx.Response:  # noqa: ANN001
    return httpx.post(f"{live_server.url}/twilio/voice", data={"CallSid": sid, "From": "+33699999999"},
                      timeout=30)


def closed_with(url: str, *messages: str | bytes) -> tuple[int, str]:
    with connect(url.replace("http://", "ws://") + "/twilio/media", max_size=None) as ws:
        for m in messages:
            ws.send(m)
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                ws.recv(timeout=20)  # the bot may already be talking
    return exc.value.rcvd.code, exc.value.rcvd.reason


def test_a_call_while_the_database_is_locked_is_answered_transferred_and_recorded_later(live_server) -> None:
    lock = sqlite3.connect(db_path(live_server), isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another connection holds the write lock (a long job, a backup)
    try:
        t0 = time.monotonic()
        summary = asyncio.run(place_call(live_server.url, [
            WaitForBot(30), Say("je voudrais parler à quelqu'un"), WaitForBot(30),
        ], caller="+33622222222", voice=live_server.app.state.runtime.voice, listen_secs_after=10))
        assert time.monotonic() - t0 < 60
        # The caller was greeted, heard the transfer announcement and went to the human queue.
        assert summary.greeting_ms is not None
        assert summary.turns[0].first_audio_ms is not None and summary.turns[0].first_audio_ms < 10_000
        assert summary.outcome["verb"] == "enqueue" and summary.outcome["target"]
        with sqlite3.connect(db_path(live_server)) as reader:  # nothing could be written yet
            assert reader.execute("SELECT count(*) FROM calls WHERE call_sid = ?",
                                  (summary.call_sid,)).fetchone() == (0,)
    finally:
        lock.rollback()
        lock.close()
    row = stored(live_server, summary.call_sid, settle_secs=20)  # the journal is replayed
    assert row.outcome == Outcome.TRANSFERRED
    assert row.transfer_reason == TransferReason.ASKED_AGENT
    assert row.queued_at is not None
    assert "je voudrais parler à quelqu'un s'il vous plaît" in [t.text for t in row.turns]
    assert {"stream.start", "call.end", "queue.enter"} <= {e.kind for e in row.events}


def test_a_binary_frame_before_start_closes_only_that_socket(live_server) -> None:
    code, reason = closed_with(live_server.url, json.dumps(CONNECTED), b"\x00\xff" * 80)
    assert code == 1008 and "binary" in reason
    assert httpx.get(f"{live_server.url}/healthz").json()["status"] == "ok"


def test_an_oversized_media_message_closes_the_socket_with_1009(live_server) -> None:
    sid = "CA" + "f5" * 16
    token = voice(live_server, sid).text.split('name="token" value="')[1].split('"')[0]
    big = json.dumps({"event": "media", "streamSid": "MZ" + "0" * 32,
                      "media": {"payload": "A" * 200_000, "track": "inbound"}})
    code, _ = closed_with(live_server.url, json.dumps(CONNECTED), json.dumps(start(sid, token)), big)
    assert code == 1009
    row = stored(live_server, sid)
    assert row.outcome == Outcome.ABANDONED  # the call ended and is on record
    # After the stream, a caller still on the line goes to people (the bot stopped undecided).
    r = httpx.post(f"{live_server.url}/twilio/after-stream", data={"CallSid": sid}, timeout=30)
    assert "<Enqueue" in r.text


def test_a_call_the_bot_cannot_start_reaches_people_and_is_closed_on_record(live_server, monkeypatch) -> None:  # noqa: ANN001
    """A fault while building the call's pipeline (a broken engine, a bug): the socket closes with
    1011, the record is not left "in progress" for the agents' console, the caller goes to people,
    and the next call works."""
    import callbot.speech.vosk_stt as vosk_stt

    def broken(*_args, **_kwargs) -> None:  # noqa: ANN002, ANN003
        raise RuntimeError("recogniser unavailable")

    sid = "CA" + "b0" * 16
    token = voice(live_server, sid).text.split('name="token" value="')[1].split('"')[0]
    with monkeypatch.context() as patch:
        patch.setattr(vosk_stt.VoskSTTService, "__init__", broken)
        code, reason = closed_with(live_server.url, json.dumps(CONNECTED), json.dumps(start(sid, token)))
    assert code == 1011 and "bot" in reason
    row = stored(live_server, sid)
    assert row.outcome == Outcome.ABANDONED and row.ended_at is not None
    r = httpx.post(f"{live_server.url}/twilio/after-stream", data={"CallSid": sid}, timeout=30)
    assert "<Enqueue" in r.text
    summary = asyncio.run(place_call(live_server.url, [WaitForBot(30)], caller="+33644444444"))
    assert summary.greeting_ms is not None  # the next caller is greeted as usual


def test_beyond_capacity_callers_go_to_the_human_queue_with_a_message(live_server) -> None:
    capacity = live_server.settings.max_calls
    sids = [f"CAcap{n:029d}" for n in range(2 * capacity)]
    answers = [voice(live_server, sid).text for sid in sids]
    bot = [sid for sid, a in zip(sids, answers, strict=True) if "<Connect" in a]
    people = [a for a in answers if "<Enqueue" in a]
    assert len(bot) <= capacity and len(people) >= capacity
    assert len(bot) + len(people) == len(sids)
    assert all("<Say" in a for a in people)  # a short message, never a silent line
    row = stored(live_server, sids[-1])
    assert row.outcome == Outcome.TRANSFERRED and row.transfer_reason == TransferReason.OVERLOAD
    assert row.queued_at is not None  # in the agents' waiting list at once
    # Those calls' streams never came: once Twilio has moved on, the bot takes calls again.
    for sid in bot:
        httpx.post(f"{live_server.url}/twilio/after-stream", data={"CallSid": sid}, timeout=30)
    assert "<Connect" in voice(live_server, "CA" + "f3" * 16).text


def test_out_of_hours_the_overflow_offers_a_callback_on_the_keypad(tmp_path) -> None:  # noqa: ANN001
    from datetime import datetime

    from callbot.dialog.engine import DialogEngine
    from callbot.store.db import Database
    from callbot.telephony import overflow
    from tests.conftest import PARIS, REPO

    night = DialogEngine.load(REPO / "flows", lambda: datetime(2026, 11, 24, 22, 30, tzinfo=PARIS))
    db = Database(f"sqlite:///{tmp_path}/calls.db")
    db.migrate()
    body, queue = asyncio.run(overflow.to_people(db, night, "https://example.org", "CAnight", "capacity"))
    assert queue is None
    assert "<Gather" in body and 'numDigits="1"' in body and "/twilio/overflow-callback" in body
    assert night.flows.prompts.nobody_on_duty in body


def test_the_keypad_callback_request_is_recorded(live_server) -> None:  # noqa: ANN001
    from sqlalchemy import select

    from callbot.store.models import Callback

    sid = "CA" + "f6" * 16
    r = httpx.post(f"{live_server.url}/twilio/overflow-callback",
                   data={"CallSid": sid, "From": "+33612121212", "Digits": "1"}, timeout=30)
    assert "<Hangup" in r.text and "rappellera" in r.text
    row = stored(live_server, sid)
    assert row.outcome == Outcome.CALLBACK
    with live_server.db.session() as s:
        assert s.scalars(select(Callback.number).where(Callback.call_id == row.id)).all() == ["+33612121212"]
