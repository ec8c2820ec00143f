"""The dialog processor in a pipecat pipeline (pipecat's run_test), with the real demo flows.

Frames in: what the recogniser, the keypad and the output transport would produce.
Frames out: what the bot says (TTSSpeakFrame), the playback marks, and the end of the call.
"""

from __future__ import annotations

import asyncio

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndWorkerFrame,
    InputDTMFFrame,
    InputTransportMessageFrame,
    OutputTransportMessageFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from callbot.dialog.engine import DialogEngine
from callbot.pipeline.dialog_processor import DialogProcessor
from callbot.pipeline.playback import PlaybackMarks, segments
from callbot.store.calls import CallRecorder
from callbot.store.db import Database
from callbot.store.models import Call
from callbot.vocabulary import Outcome
from tests.conftest import OPEN_TUESDAY, REPO

ENGINE = DialogEngine.load(REPO / "flows", lambda: OPEN_TUESDAY)
GREETING = ENGINE.new_conversation().start().prompts
GREETING_SEGMENTS = len(segments(GREETING))


def greeting_heard() -> list:
    """The caller hears the greeting to the end: one mark echo per segment."""
    frames = []
    for i in range(1, GREETING_SEGMENTS + 1):
        frames += [SleepFrame(0.05), mark_echo(f"seg-{i}")]
    return [*frames, SleepFrame(0.05)]


def mark_echo(name: str) -> InputTransportMessageFrame:
    return InputTransportMessageFrame(message={"event": "mark", "mark": {"name": name}})


MARKS = PlaybackMarks(
    make=lambda name: OutputTransportMessageFrame(message={"event": "mark", "mark": {"name": name}}),
    echo=lambda f: (f.message.get("mark") or {}).get("name") if isinstance(f.message, dict) else None,
)


def said(frames) -> list[str]:  # noqa: ANN001
    return [f.text for f in frames if isinstance(f, TTSSpeakFrame)]


def transcript(text: str) -> TranscriptionFrame:
    return TranscriptionFrame(text, "caller", "2026-11-24T10:00:00", finalized=True)


def make(tmp_path, **kwargs):  # noqa: ANN001, ANN201
    db = Database(f"sqlite:///{tmp_path}/calls.db")
    db.migrate()
    rec = CallRecorder(db, "CAtest")
    asyncio.run(rec.open(stream_sid="MZ", caller="+33600000000", called="+331", secret=b"k"))
    ended = []

    async def on_end(reply) -> None:  # noqa: ANN001
        ended.append(reply)
        await rec.finish(reply.outcome or Outcome.RESOLVED)

    proc = DialogProcessor(ENGINE.new_conversation(), rec, on_end=on_end, **kwargs)
    return proc, db, ended


def test_greeting_waits_for_the_disclosure_to_be_heard_then_answers(tmp_path) -> None:
    proc, db, ended = make(tmp_path, marks=MARKS, no_audio_secs=30)  # no watchdog help
    down, up = asyncio.run(run_test(proc, frames_to_send=[
        SleepFrame(0.05), mark_echo("seg-1"), SleepFrame(0.05),
        *greeting_heard()[2:],
        transcript("quels sont les horaires de la mairie"),
        SleepFrame(0.2),
    ]))
    texts = said(down)
    greeting = [p.text for p in GREETING]
    assert texts[:len(greeting)] == greeting  # the whole greeting, in order, before anything else
    assert any("assistant" in t.lower() for t in greeting)
    answer = " ".join(texts[len(greeting):]).lower()
    assert "ouvert" in answer
    marks = [f.message["mark"]["name"] for f in down if isinstance(f, OutputTransportMessageFrame)]
    assert marks == [f"seg-{i}" for i in range(1, GREETING_SEGMENTS + 2)]
    with db.session() as s:
        call = s.query(Call).one()
        caller = [t for t in call.turns if t.speaker == "caller"][0]
        assert caller.intent == "horaires_mairie" and caller.confidence > 0.5
    assert not ended


def test_without_marks_the_end_of_bot_audio_moves_the_dialog_on(tmp_path) -> None:
    proc, _, _ = make(tmp_path)
    down, _ = asyncio.run(run_test(proc, frames_to_send=[
        BotStartedSpeakingFrame(), SleepFrame(0.05), BotStoppedSpeakingFrame(), SleepFrame(0.05),
        BotStartedSpeakingFrame(), SleepFrame(0.05), BotStoppedSpeakingFrame(), SleepFrame(0.05),
    ]))
    assert said(down) == [p.text for p in GREETING]


def test_keypad_zero_ends_the_stream_with_a_transfer(tmp_path) -> None:
    proc, db, ended = make(tmp_path, marks=MARKS, no_audio_secs=30)
    _, up = asyncio.run(run_test(proc, frames_to_send=[
        *greeting_heard(), InputDTMFFrame(KeypadEntry.ZERO), SleepFrame(0.1),
        mark_echo(f"seg-{GREETING_SEGMENTS + 1}"), SleepFrame(0.2),
    ]))
    assert ended and ended[0].end == "transfer" and ended[0].transfer.kind in ("queue", "dial")
    assert any(isinstance(f, EndWorkerFrame) for f in up)
    with db.session() as s:
        assert s.query(Call).one().outcome == Outcome.TRANSFERRED
