"""Barge-in through pipecat's turn processor: the caller cuts the bot off only when the prompt
playing allows it (never during the AI disclosure) and only while the bot is speaking."""

from __future__ import annotations

import asyncio

import pytest
from pipecat.frames.frames import InterruptionFrame, UserStartedSpeakingFrame, VADUserStartedSpeakingFrame
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_processor import UserTurnProcessor
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from callbot.pipeline.barge_in import BargeInGate, GatedVADTurnStart


def caller_starts_speaking(gate: BargeInGate) -> list:
    turns = UserTurnProcessor(user_turn_strategies=UserTurnStrategies(
        start=[GatedVADTurnStart(gate)], stop=[SpeechTimeoutUserTurnStopStrategy()]))
    down, _up = asyncio.run(run_test(turns, frames_to_send=[VADUserStartedSpeakingFrame(), SleepFrame(0.05)],
                                     expected_down_frames=None))
    return [type(f) for f in down]


@pytest.mark.parametrize(("allow", "bot_speaking", "interrupts"), [
    (True, True, True),  # an ordinary answer: the caller cuts in
    (False, True, False),  # the AI disclosure: heard to the end
    (True, False, False),  # the bot is silent: nothing to cut (no `clear` sent to Twilio)
])
def test_caller_interrupts_only_an_interruptible_prompt_being_played(allow, bot_speaking, interrupts):
    frames = caller_starts_speaking(BargeInGate(allow=allow, bot_speaking=bot_speaking))
    assert UserStartedSpeakingFrame in frames  # the caller is heard either way
    assert (InterruptionFrame in frames) is interrupts, frames


def test_speech_begun_over_the_disclosure_is_not_talked_over_then_gets_its_answer(tmp_path) -> None:
    from pipecat.frames.frames import TTSSpeakFrame

    from tests.pipeline.test_dialog_processor import GREETING, MARKS, make, mark_echo, transcript

    gate = BargeInGate(allow=False, bot_speaking=True)  # the disclosure is playing
    caller_starts_speaking(gate)
    assert gate.held
    proc, _, _ = make(tmp_path, marks=MARKS, gate=gate, no_audio_secs=30)
    fixed = [p.text for p in GREETING if not p.interruptible]
    down, _ = asyncio.run(run_test(proc, frames_to_send=[
        SleepFrame(0.05), UserStartedSpeakingFrame(), SleepFrame(0.05),
        mark_echo("seg-1"), SleepFrame(0.1),  # the disclosure is heard; the caller still talks
        transcript("quels sont les horaires de la mairie"), SleepFrame(0.2),
    ]))
    said = [f.text for f in down if isinstance(f, TTSSpeakFrame)]
    assert said[:len(fixed)] == fixed
    assert not any("question" in t for t in said[len(fixed):len(fixed) + 1])  # no invitation over them
    assert "ouverte" in said[len(fixed)]  # their question is answered at once

