"""Where the time of one response went: each stage between the caller's last sound and the bot's
first audio, recorded per turn (`turn.timing` events) so a slow answer says which stage was slow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callbot import metrics


@dataclass
class ResponseClock:
    """Where the time of one response went, from the caller's last sound to the bot's first audio.

    Filled as the frames pass (monotonic seconds); `breakdown()` is recorded as a
    `turn.timing` event and logged, so a slow answer says which stage was slow."""

    vad_stop: float | None = None  # the VAD reported silence (`vad_stop_secs` after the last sound)
    input_lag_ms: float | None = None  # how long that last frame waited between the socket and the VAD
    stop_seen: float | None = None  # the VAD's stop frame reached the dialog (queued behind audio)
    turn_end: float | None = None  # the turn strategy ended the caller's turn
    ended_by: str | None = None  # what ended it: "model", "words", "silence" (speech/turns.py)
    transcript: float | None = None  # the final transcript reached the dialog
    recogniser: dict[str, Any] | None = None  # the transcript's timing fields (speech/vosk_stt.py)
    say: float | None = None  # the reply was handed to the TTS

    def breakdown(self, started: float, first_audio: float, vad_stop_secs: float) -> dict[str, Any]:
        def ms(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round((b - a) * 1000, 1)

        out: dict[str, Any] = {
            "response_ms": ms(started, first_audio),
            "input_lag_ms": self.input_lag_ms,
            "stop_queued_ms": ms(self.vad_stop, self.stop_seen),
            "vad_ms": round(vad_stop_secs * 1000, 1) if self.vad_stop is not None else None,
            "turn_end_ms": ms(self.vad_stop, self.turn_end),
            "ended_by": self.ended_by,
            "transcript_ms": ms(self.turn_end or self.vad_stop, self.transcript),
            "dialog_ms": ms(self.transcript or started, self.say),
            "audio_ms": ms(self.say, first_audio),
        }
        for key in ("final_ms", "utterances", "grammar", "search"):
            if self.recogniser and key in self.recogniser:
                out[f"recogniser_{key}"] = self.recogniser[key]
        metrics.response_measured(out["response_ms"])  # one breakdown per response: the histogram
        return out
