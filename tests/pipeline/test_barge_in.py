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
