"""pipecat's FastAPI websocket transport, with caller audio pushed straight into the pipeline.

pipecat's input transport puts every audio frame on a queue that a task drains with
`asyncio.wait_for(queue.get(), timeout)`; on Python 3.11 that makes a new task per frame, so each
20 ms frame of each call needs several turns of the event loop before the VAD sees it. Under load
(bench/bench_load.py, 20 calls arriving one per second) a loop turn took 30 to 60 ms, the queue
could not keep up with 50 frames a second, and caller audio reached the VAD 2 to 15 s late: the
bot answered seconds after the caller stopped, though every stage it timed was quick. Here the
socket's reading task pushes the audio on at once (same order: one task reads the socket).

Bot audio is kept `LEAD_SECS` ahead of playback. pipecat paces it at exactly real time (it
sleeps one chunk's length after each chunk, and starts the clock again when it is late), so the
caller's buffer at Twilio held at most one chunk: any pause of the event loop longer than that
was heard as the line running dry inside a sentence (bench/bench_load.py "gaps"). A barge-in's
`clear` drops what is queued at Twilio, and marks are echoed when playback reaches them, so
neither depends on the pacing.

Twilio sends 20 ms of audio per message. Each frame costs every processor it crosses a turn of
the event loop, so messages are joined into frames of `frame_ms` (40 ms by default: half the
per-frame work, at most 20 ms later to the VAD).
"""

from __future__ import annotations

import asyncio
import time

from fastapi import WebSocket
from pipecat.frames.frames import Frame, InputAudioRawFrame, InterruptionFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketInputTransport,
    FastAPIWebsocketOutputTransport,
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)

from callbot.pipeline.input_lag import stamp_at


class DirectAudioInput(FastAPIWebsocketInputTransport):
    def __init__(self, *args, frame_ms: int = 40, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._frame_ms = frame_ms
        self._pending = bytearray()
        self._pending_first: InputAudioRawFrame | None = None

    async def push_audio_frame(self, frame: InputAudioRawFrame) -> None:
        if not self._params.audio_in_enabled or self._paused:
            return
        if self._frame_ms <= 20 and not self._pending:
            await self.push_frame(frame)
            return
        if not self._pending:
            self._pending_first = frame
        self._pending += frame.audio
        if len(self._pending) * 1000 < self._frame_ms * frame.sample_rate * 2 * frame.num_channels:
            return
        joined = InputAudioRawFrame(audio=bytes(self._pending), sample_rate=frame.sample_rate,
                                    num_channels=frame.num_channels)
        self._pending.clear()
        await self.push_frame(stamp_at(joined, self._pending_first))


# Bot audio queued at Twilio ahead of what the caller hears: absorbs event-loop pauses this long.
LEAD_SECS = 0.3


class LeadingAudioOutput(FastAPIWebsocketOutputTransport):
    def __init__(self, *args, lead_secs: float = LEAD_SECS, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._lead = lead_secs
        self._queued_until = 0.0  # when the caller's playback of what was sent ends (estimate)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            self._queued_until = 0.0  # Twilio's buffer was cleared

    async def _write_audio_sleep(self) -> None:
        now = time.monotonic()
        self._queued_until = max(self._queued_until, now) + self._send_interval
        ahead = self._queued_until - now
        if ahead > self._lead:
            await asyncio.sleep(ahead - self._lead)


class MediaStreamTransport(FastAPIWebsocketTransport):
    def __init__(self, websocket: WebSocket, params: FastAPIWebsocketParams, *, frame_ms: int = 40) -> None:
        super().__init__(websocket, params)
        self._input = DirectAudioInput(self, self._client, self._params, name=self._input_name,
                                       frame_ms=frame_ms)
        self._output = LeadingAudioOutput(self, self._client, self._params, name=self._output_name)
