"""Playback marks: after each spoken reply, a Media Streams `mark` follows the audio.

Twilio echoes it when the caller has heard everything before it (or at once after a `clear`),
which shows in the call's events where replies were cut.
"""

from __future__ import annotations

from pipecat.frames.frames import Frame, OutputTransportMessageFrame, TTSStoppedFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class PlaybackMarks(FrameProcessor):
    """Sits after the TTS: queues a `mark` behind the audio of every synthesised text."""

    def __init__(self, stream_sid: str, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self._stream_sid = stream_sid
        self._count = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, TTSStoppedFrame) and direction == FrameDirection.DOWNSTREAM:
            self._count += 1
            mark = {"event": "mark", "streamSid": self._stream_sid, "mark": {"name": f"reply-{self._count}"}}
            await self.push_frame(OutputTransportMessageFrame(message=mark))
