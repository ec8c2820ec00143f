"""What `callbot simulate` reports about a call: per caller turn, the bot's response time and
voice; for the call, marks, clears, protocol violations and the final TwiML verb (`--json`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TurnResult:
    step: int
    kind: str
    # End of caller audio (or the key press) → first bot media after it; None if the bot said nothing.
    first_audio_ms: float | None
    bot_audio_ms: float
    # The bot was still talking when the caller finished (first_audio_ms is then not a response time).
    bot_was_speaking: bool = False
    caller_audio_ms: float = 0.0
    text: str | None = None
    # End of the caller's audio (or the key press), from the start of the call.
    ended_at_ms: float | None = None


@dataclass
class CallSummary:
    call_sid: str
    stream_sid: str | None = None
    greeting_ms: float | None = None
    turns: list[TurnResult] = field(default_factory=list)
    marks_sent_by_server: int = 0
    marks_echoed: int = 0
    clears: int = 0
    violations: list[dict[str, Any]] = field(default_factory=list)
    bot_audio_seconds: float = 0.0
    bot_audio_played_seconds: float = 0.0
    # When the caller heard the bot: [start, end] of each stretch of played audio, from the start of
    # the call (stretches closer than SPAN_GAP_MS are one).
    bot_audio_spans_ms: list[list[float]] = field(default_factory=list)
    outcome: dict[str, Any] = field(default_factory=lambda: {"verb": None, "target": None, "twiml": None})
    hung_up_by: str | None = None
    reply_wav: str | None = None
    duration_seconds: float = 0.0
    frames_sent: int = 0
    dtmf_sent: int = 0
    # Pacing honesty: the worst lateness of a 20 ms frame against its schedule.
    pacing_max_late_ms: float = 0.0
    close: dict[str, Any] | None = None
    timeouts: list[int] = field(default_factory=list)
    # Bot audio still queued when the server closed the stream: the caller never heard it. Trailing
    # silence counts too; marks still pending mean real speech was cut (wait for the last echo).
    unplayed_at_close_ms: float = 0.0
    marks_pending_at_close: int = 0
    # Silences inside bot speech (ms): playback ran dry and bot audio resumed with no caller turn
    # in between (the server fell behind real time, or paused between two segments of a reply).
    underruns_ms: list[float] = field(default_factory=list)
    # When each of those silences began (ms from the start of the call), in the same order.
    underruns_at_ms: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)
