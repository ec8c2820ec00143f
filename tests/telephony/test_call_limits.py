"""Every call ends: silence in every state, a maximum call length and a maximum caller turn.

The dialog processor runs in pipecat's run_test with the real demo flows and recorder; the
conversation is the real one, out of hours (nobody on duty) and in hours.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from pipecat.frames.frames import EndWorkerFrame, TTSSpeakFrame, UserStartedSpeakingFrame
from pipecat.tests.utils import SleepFrame, run_test
from sqlalchemy import select

from callbot.dialog.engine import DialogEngine
from callbot.store.models import Call
from callbot.vocabulary import Outcome, TransferReason
from tests.conftest import PARIS, REPO
from tests.pipeline.test_dialog_processor import (
    ENGINE,
    GREETING_SEGMENTS,
    MARKS,
    greeting_heard,
    make,
    mark_echo,
)

TUESDAY_NIGHT = datetime(2026, 11, 24, 22, 30, tzinfo=PARIS)


def test_silence_out_of_hours_ends_the_call_instead_of_offering_a_callback_forever() -> None:
    engine = DialogEngine.load(REPO / "flows", lambda: TUESDAY_NIGHT)
    conv = engine.new_conversation()
    conv.start()
    said = []
    for _ in range(30):
        reply = conv.silence()
        said.append(" ".join(p.text for p in reply.prompts))
        if reply.end:
            break
    assert reply.end == "hangup" and reply.outcome == Outcome.ENDED_NO_AGENT
    assert len(said) <= 3 * engine.flows.settings.max_misses
    assert any(engine.flows.prompts.nobody_on_duty in s for s in said)  # the callback was offered once


def ended_by_limit(tmp_path, frames: list, **limits) -> tuple:  # noqa: ANN001
    proc, db, ended = make(tmp_path, marks=MARKS, no_audio_secs=30, **limits)
    down, up = asyncio.run(run_test(proc, frames_to_send=frames))
    return down, up, ended, db


def test_a_call_past_its_maximum_length_is_transferred_politely(tmp_path) -> None:
    down, up, ended, db = ended_by_limit(tmp_path, [
        *greeting_heard(), SleepFrame(0.6), mark_echo(f"seg-{GREETING_SEGMENTS + 1}"), SleepFrame(0.2),
    ], max_call_secs=0.5)
    assert ended and ended[0].end == "transfer"
    assert ended[0].transfer.reason == TransferReason.TIME_LIMIT
    last = [f.text for f in down if isinstance(f, TTSSpeakFrame)][-1]
    assert last == ENGINE.flows.prompts.transfer  # the caller is told, not cut off
    assert any(isinstance(f, EndWorkerFrame) for f in up)
    with db.session() as s:
        assert s.scalar(select(Call.outcome)) == Outcome.TRANSFERRED


def test_endless_caller_speech_is_wrapped_up(tmp_path) -> None:
    _, up, ended, _ = ended_by_limit(tmp_path, [
        *greeting_heard(), UserStartedSpeakingFrame(), SleepFrame(0.5),
        mark_echo(f"seg-{GREETING_SEGMENTS + 1}"), SleepFrame(0.2),
    ], max_speech_secs=0.3)
    assert ended and ended[0].transfer.reason == TransferReason.TIME_LIMIT
    assert any(isinstance(f, EndWorkerFrame) for f in up)


def test_a_call_under_its_limits_is_not_cut(tmp_path) -> None:
    _, up, ended, _ = ended_by_limit(tmp_path, [*greeting_heard(), SleepFrame(0.3)],
                                     max_call_secs=5, max_speech_secs=5)
    assert not ended and not any(isinstance(f, EndWorkerFrame) for f in up)
