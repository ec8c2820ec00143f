"""Barge-in policy: caller speech interrupts the bot unless the current prompt forbids it.

The dialog processor opens and closes the gate (segment by segment); the turn-start strategy
reads it when the VAD hears the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.frames.frames import Frame, VADUserStartedSpeakingFrame
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_start import VADUserTurnStartStrategy


@dataclass
class BargeInGate:
    """Shared with the turn-start strategy: may caller speech interrupt the bot right now?"""

    allow: bool = True  # False while a non-interruptible prompt plays
    bot_speaking: bool = False  # nothing to interrupt (and no `clear` to send) while silent
    # The caller's speech began while the bot could not be cut (the disclosure): what follows the
    # disclosure is not started over their voice (playback.still_to_say).
    held: bool = False

    @property
    def interrupts(self) -> bool:
        return self.allow and self.bot_speaking


class GatedVADTurnStart(VADUserTurnStartStrategy):
    """VAD starts the caller's turn; it interrupts the bot only while the gate allows it.

    During a non-interruptible prompt (the legal AI disclosure) the caller is still heard, but
    the bot's audio is not cut and no `clear` is sent to Twilio; the gate remembers it (`held`)
    so that the interruptible rest of the reply is dropped once the disclosure is heard.
    """

    def __init__(self, gate: BargeInGate, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self._gate = gate

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._gate.held = self._gate.bot_speaking and not self._gate.allow
            await self.trigger_user_turn_started(enable_interruptions=self._gate.interrupts)
            return ProcessFrameResult.STOP
        return ProcessFrameResult.CONTINUE
