"""Barge-in policy: caller speech interrupts the bot unless the current prompt forbids it."""

from __future__ import annotations

from pipecat.frames.frames import Frame, VADUserStartedSpeakingFrame
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_start import VADUserTurnStartStrategy

from callbot.pipeline.dialog_processor import BargeInGate


class GatedVADTurnStart(VADUserTurnStartStrategy):
    """VAD starts the caller's turn; it interrupts the bot only while the gate allows it.

    During a non-interruptible prompt (the legal AI disclosure) the caller is still heard, but
    the bot's audio is not cut and no `clear` is sent to Twilio.
    """

    def __init__(self, gate: BargeInGate, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self._gate = gate

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, VADUserStartedSpeakingFrame):
            await self.trigger_user_turn_started(enable_interruptions=self._gate.interrupts)
            return ProcessFrameResult.STOP
        return ProcessFrameResult.CONTINUE
