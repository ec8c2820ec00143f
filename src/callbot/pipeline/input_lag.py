"""How long caller audio waits between the socket and the VAD (issue 13: "caller audio must reach
the VAD within a frame or two whatever the load").

The serializer stamps each audio frame when its message is read off the socket (`stamp`); the VAD
processor measures the wait when it gets to the frame. The response clock reads the wait of the
frame that ended the caller's speech (`turn.timing` → `input_lag_ms`): a response that is late on
the wire but quick in the server's own stages was late here. `/metrics` has the histogram.
"""

from __future__ import annotations

import time
from typing import Any

from pipecat.frames.frames import Frame, InputAudioRawFrame, VADUserStoppedSpeakingFrame
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection

from callbot import metrics

_STAMP = "callbot_arrived"
_WIRE = "callbot_wire_late_ms"


def stamp(frame: Frame | None) -> Frame | None:
    """Mark an audio frame with the moment its message left the socket (monotonic seconds)."""
    if isinstance(frame, InputAudioRawFrame):
        setattr(frame, _STAMP, time.monotonic())
    return frame


class StreamClock:
    """How late each frame reached us after the sender's own clock said it was spoken.

    Twilio stamps every media message with its time in the stream (ms since the stream began).
    The earliest arrival seen fixes the offset between that clock and ours; a frame that arrives
    later than its timestamp says was waiting in the network, the kernel's socket buffer or the
    web server before our code read it, a wait the stamp above cannot see."""

    def __init__(self) -> None:
        self._offset: float | None = None  # our monotonic time minus the stream time, at best

    def note(self, timestamp: Any, frame: Frame) -> None:  # noqa: ANN401 - anything may come
        try:
            stream_secs = float(timestamp) / 1000
        except (TypeError, ValueError):
            return
        arrived = getattr(frame, _STAMP, None)
        if arrived is None:
            return
        offset = arrived - stream_secs
        if self._offset is None or offset < self._offset:
            self._offset = offset
        setattr(frame, _WIRE, (offset - self._offset) * 1000)


def stamp_at(frame: Frame, first: Frame | None) -> Frame:
    """Mark a frame joined from several messages with the stamps of the first one."""
    for name in (_STAMP, _WIRE):
        value = getattr(first, name, None)
        if value is not None:
            setattr(frame, name, value)
    return frame


class MeasuredVADProcessor(VADProcessor):
    """pipecat's VAD processor, noting how long each stamped frame waited before it."""

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.last_lag_ms = 0.0  # the wait of the latest caller frame, read at the VAD's stop
        self.max_lag_ms = 0.0
        self.last_wire_late_ms = 0.0  # how late that frame was read off the socket (StreamClock)
        self.max_wire_late_ms = 0.0
        self.stopped_at: float | None = None  # monotonic time of the VAD's latest speech stop
        self._frames = 0
        self._sum_ms = 0.0

    async def broadcast_frame(self, frame_cls: type[Frame], **kwargs) -> None:  # noqa: ANN003
        if frame_cls is VADUserStoppedSpeakingFrame:
            # When the VAD decided, not when the frame reaches the dialog: it queues behind caller
            # audio at the recogniser, which may be decoding behind real time.
            self.stopped_at = time.monotonic()
        await super().broadcast_frame(frame_cls, **kwargs)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        arrived = getattr(frame, _STAMP, None)
        if arrived is not None:
            lag = (time.monotonic() - arrived) * 1000
            self.last_lag_ms = lag
            self.max_lag_ms = max(self.max_lag_ms, lag)
            self._frames += 1
            self._sum_ms += lag
            metrics.input_lag_measured(lag)
            late = getattr(frame, _WIRE, None)
            if late is not None:
                self.last_wire_late_ms = late
                self.max_wire_late_ms = max(self.max_wire_late_ms, late)
        await super().process_frame(frame, direction)

    @property
    def mean_lag_ms(self) -> float:
        return self._sum_ms / self._frames if self._frames else 0.0
