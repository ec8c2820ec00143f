"""pipecat's Twilio serializer, made tolerant of malformed frames mid-call.

A bad base64 payload or a JSON value that is not an object must cost one frame, not the call.
"""

from __future__ import annotations

from loguru import logger
from pipecat.frames.frames import Frame
from pipecat.serializers.twilio import TwilioFrameSerializer


class TolerantTwilioSerializer(TwilioFrameSerializer):
    def __init__(self, stream_sid: str, call_sid: str) -> None:
        # auto_hang_up off: the default hangs up through Twilio's REST API on EndFrame,
        # which would kill the transfer that follows the stream.
        super().__init__(stream_sid, call_sid=call_sid,
                         params=TwilioFrameSerializer.InputParams(auto_hang_up=False))
        self.malformed = 0

    async def deserialize(self, data: str | bytes) -> Frame | None:
        try:
            return await super().deserialize(data)
        except Exception as e:  # noqa: BLE001 - any decoding failure is the peer's fault
            self.malformed += 1
            if self.malformed <= 5:
                logger.warning("dropped a malformed Media Streams frame ({}): {!r}", e, str(data)[:80])
            return None
