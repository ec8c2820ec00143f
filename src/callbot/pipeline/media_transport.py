"""pipecat's FastAPI websocket transport, with caller audio pushed straight into the pipeline.

pipecat's input transport puts every audio frame on a queue that a task drains with
`asyncio.wait_for(queue.get(), timeout)`; on Python 3.11 that makes a new task per frame, so each
20 ms frame of each call needs several turns of the event loop before the VAD sees it. Under load
(bench/bench_load.py, 20 calls arriving one per second) a loop turn took 30 to 60 ms, the queue
could not keep up with 50 frames a second, and caller audio reached the VAD 2 to 15 s late: the
bot answered seconds after the caller stopped, though every stage it timed was quick. Here the
socket's reading task pushes the audio on at once (same order: one task reads the socket).

Twilio sends 20 ms of audio per message. Each frame costs every processor it crosses a turn of
the event loop, so messages are joined into frames of `frame_ms` (40 ms by default: half the
per-frame work, at most 20 ms later to the VAD).
"""

from __future__ import annotations

from fastapi import WebSocket
from pipecat.frames.frames import InputAudioRawFrame
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketInputTransport,
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


class MediaStreamTransport(FastAPIWebsocketTransport):
    def __init__(self, websocket: WebSocket, params: FastAPIWebsocketParams, *, frame_ms: int = 40) -> None:
        super().__init__(websocket, params)
        self._input = DirectAudioInput(self, self._client, self._params, name=self._input_name,
                                       frame_ms=frame_ms)
