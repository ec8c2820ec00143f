"""Media Streams frames as Twilio writes them, and checks of what a server writes back.

See /work/shared/twilio-media-streams.md §2-§3. Counters are JSON strings, `sampleRate` and
`channels` JSON numbers, `connected` has neither streamSid nor sequenceNumber, the DTMF track is
spelled `inbound_track` while media tracks are `inbound`.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

MEDIA_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
SERVER_EVENTS = ("media", "mark", "clear")


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


@dataclass
class StreamEncoder:
    """Twilio's side of one stream: owns the sequenceNumber and chunk counters."""

    call_sid: str
    account_sid: str = field(default_factory=lambda: new_sid("AC"))
    stream_sid: str = field(default_factory=lambda: new_sid("MZ"))
    sequence: int = 0
    chunk: int = 0

    def _next_seq(self) -> str:
        self.sequence += 1
        return str(self.sequence)

    @staticmethod
    def connected() -> dict[str, Any]:
        return {"event": "connected", "protocol": "Call", "version": "1.0.0"}

    def start(self, custom_parameters: dict[str, str]) -> dict[str, Any]:
        return {
            "event": "start",
            "sequenceNumber": self._next_seq(),
            "start": {
                "accountSid": self.account_sid,
                "streamSid": self.stream_sid,
                "callSid": self.call_sid,
                "tracks": ["inbound"],
                "customParameters": dict(custom_parameters),
                "mediaFormat": dict(MEDIA_FORMAT),
            },
            "streamSid": self.stream_sid,
        }

    def media(self, ulaw: bytes, timestamp_ms: int) -> dict[str, Any]:
        self.chunk += 1
        return {
            "event": "media",
            "sequenceNumber": self._next_seq(),
            "media": {"track": "inbound", "chunk": str(self.chunk), "timestamp": str(int(timestamp_ms)),
                      "payload": base64.b64encode(ulaw).decode("ascii")},
            "streamSid": self.stream_sid,
        }

    def dtmf(self, digit: str) -> dict[str, Any]:
        return {"event": "dtmf", "streamSid": self.stream_sid, "sequenceNumber": self._next_seq(),
                "dtmf": {"track": "inbound_track", "digit": digit}}

    def mark(self, name: str) -> dict[str, Any]:
        return {"event": "mark", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
                "mark": {"name": name}}

    def stop(self) -> dict[str, Any]:
        return {"event": "stop", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
                "stop": {"accountSid": self.account_sid, "callSid": self.call_sid}}


@dataclass
class ServerFrame:
    """One valid message from the server: media (decoded mu-law), mark (name) or clear."""

    event: str
    audio: bytes = b""
    name: str | None = None


class Violation(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def _excerpt(raw: str | bytes, limit: int = 120) -> str:
    text = raw if isinstance(raw, str) else repr(raw[:limit])
    return text if len(text) <= limit else text[:limit] + "…"


def read_server_frame(raw: str | bytes, stream_sid: str) -> ServerFrame:
    """Parse what the server sent on the media socket, or raise Violation saying what Twilio would reject."""
    if isinstance(raw, bytes | bytearray):
        raise Violation("binary_frame",
                        f"trame binaire de {len(raw)} octets (Twilio n'accepte que du JSON texte)")
    try:
        msg = json.loads(raw)
    except json.JSONDecodeError as e:
        raise Violation("bad_json", f"JSON invalide ({e}) : {_excerpt(raw)}") from None
    if not isinstance(msg, dict):
        raise Violation("bad_json", f"le message n'est pas un objet JSON : {_excerpt(raw)}")
    event = msg.get("event")
    if event not in SERVER_EVENTS:
        raise Violation("unknown_event", f"événement inconnu {event!r} : {_excerpt(raw)}")
    sid = msg.get("streamSid")
    if not sid:
        raise Violation("missing_stream_sid", f"{event} sans streamSid")
    if sid != stream_sid:
        raise Violation("wrong_stream_sid", f"{event} pour le flux {sid!r}, attendu {stream_sid!r}")
    if event == "clear":
        return ServerFrame("clear")
    if event == "mark":
        mark = msg.get("mark")
        name = mark.get("name") if isinstance(mark, dict) else None
        if not isinstance(name, str) or not name:
            raise Violation("bad_mark", f"mark sans mark.name : {_excerpt(raw)}")
        return ServerFrame("mark", name=name)
    media = msg.get("media")
    payload = media.get("payload") if isinstance(media, dict) else None
    if not isinstance(payload, str) or not payload:
        raise Violation("bad_media", "media sans media.payload")
    try:
        audio = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise Violation("bad_base64", f"media.payload n'est pas du base64 valide ({e})") from None
    if audio[:4] == b"RIFF":
        raise Violation("wav_header", "media.payload commence par un en-tête WAV (RIFF) : Twilio le jouerait "
                                      "comme du bruit ; seul du mu-law brut est accepté")
    return ServerFrame("media", audio=audio)
