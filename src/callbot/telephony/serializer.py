"""pipecat's Twilio serializer, made tolerant of malformed frames mid-call, plus playback marks.

A bad base64 payload or a JSON value that is not an object must cost one frame, not the call.
Twilio's `mark` echoes (ignored by pipecat) become `InputTransportMessageFrame`s: they tell the
dialog when the caller has heard a reply to the end.
"""

from __future__ import annotations

import base64
import json
import warnings

from loguru import logger
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InputTransportMessageFrame,
    OutputTransportMessageFrame,
)
from pipecat.serializers.twilio import TwilioFrameSerializer

from callbot.pipeline.input_lag import StreamClock, stamp

with warnings.catch_warnings():
    # Deprecated from 3.11; pipecat depends on `audioop-lts`, which takes over on 3.13+.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


class TolerantTwilioSerializer(TwilioFrameSerializer):
    def __init__(self, stream_sid: str, call_sid: str) -> None:
        # auto_hang_up off: the default hangs up through Twilio's REST API on EndFrame,
        # which would kill the transfer that follows the stream.
        super().__init__(stream_sid, call_sid=call_sid,
                         params=TwilioFrameSerializer.InputParams(auto_hang_up=False))
        self.malformed = 0
        self._stream_clock = StreamClock()

    def mark(self, name: str) -> OutputTransportMessageFrame:
        """A `mark` to queue behind audio; Twilio echoes it when playback reaches it."""
        return OutputTransportMessageFrame(
            message={"event": "mark", "streamSid": self._stream_sid, "mark": {"name": name}})

    @staticmethod
    def mark_echo(frame: Frame) -> str | None:
        message = getattr(frame, "message", None)
        if isinstance(message, dict) and message.get("event") == "mark":
            mark = message.get("mark")  # anything may come from the wire
            name = mark.get("name") if isinstance(mark, dict) else None
            return name if isinstance(name, str) else None
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        try:
            message = json.loads(data)
            media_event = isinstance(message, dict) and message.get("event") == "media"
            if media_event and self._sample_rate == self._twilio_sample_rate:
                # The path of every 20 ms of every call: parsed once, decoded here (pipecat's own
                # parses the JSON again and goes through a resampler that has nothing to do).
                media = message["media"]
                payload = media["payload"]
                pcm = audioop.ulaw2lin(base64.b64decode(payload, validate=True), 2) if payload else b""
                if not pcm:
                    return None
                frame = stamp(InputAudioRawFrame(audio=pcm, num_channels=1, sample_rate=self._sample_rate))
                self._stream_clock.note(media.get("timestamp"), frame)
                return frame
            if isinstance(message, dict) and message.get("event") == "mark":
                return InputTransportMessageFrame(message=message)
            return stamp(await super().deserialize(data))
        except Exception as e:  # noqa: BLE001 - any decoding failure is the peer's fault
            self.malformed += 1
            if self.malformed <= 5:
                logger.warning("dropped a malformed Media Streams frame ({}): {!r}", e, str(data)[:80])
            return None
