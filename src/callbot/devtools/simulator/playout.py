"""The phone's loudspeaker, as Twilio models it: bot audio is queued and played in real time.

A `mark` is due when playback reaches it (at once when nothing is queued); `clear` drops what has
not been played yet and makes every pending mark due at once. Times are seconds on any monotonic
clock, passed in so the arithmetic can be tested without waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from callbot.devtools.simulator.audio import RATE


@dataclass
class _Chunk:
    start: float
    audio: bytes

    @property
    def end(self) -> float:
        return self.start + len(self.audio) / RATE


@dataclass
class Playout:
    chunks: list[_Chunk] = field(default_factory=list)
    pending_marks: list[tuple[float, str]] = field(default_factory=list)
    # Playback of everything queued so far ends at this instant.
    queued_until: float = 0.0
    received_bytes: int = 0
    dropped_bytes: int = 0
    first_media_at: float | None = None
    last_media_at: float | None = None

    def add_media(self, audio: bytes, now: float) -> float:
        """Queue bot audio received at `now`; return when it starts playing."""
        start = max(now, self.queued_until)
        self.chunks.append(_Chunk(start, audio))
        self.queued_until = start + len(audio) / RATE
        self.received_bytes += len(audio)
        if self.first_media_at is None:
            self.first_media_at = now
        self.last_media_at = now
        return start

    def add_mark(self, name: str, now: float) -> None:
        self.pending_marks.append((max(now, self.queued_until), name))

    def due_marks(self, now: float) -> list[str]:
        """Marks whose position playback has reached, in order; they leave the pending list."""
        due = [name for at, name in self.pending_marks if at <= now]
        if due:
            self.pending_marks = [(at, name) for at, name in self.pending_marks if at > now]
        return due

    def clear(self, now: float) -> list[str]:
        """Barge-in: drop unplayed audio; every pending mark is echoed at once."""
        self.drop_unplayed(now)
        marks = [name for _, name in self.pending_marks]
        self.pending_marks = []
        return marks

    def drop_unplayed(self, now: float) -> int:
        """Forget audio not played by `now`; return how many bytes were dropped."""
        before = self.dropped_bytes
        kept: list[_Chunk] = []
        for chunk in self.chunks:
            if chunk.start >= now:
                self.dropped_bytes += len(chunk.audio)
            elif chunk.end > now:
                played = int((now - chunk.start) * RATE)
                self.dropped_bytes += len(chunk.audio) - played
                kept.append(_Chunk(chunk.start, chunk.audio[:played]))
            else:
                kept.append(chunk)
        self.chunks = kept
        self.queued_until = min(self.queued_until, now)
        return self.dropped_bytes - before

    def playing(self, now: float) -> bool:
        return now < self.queued_until

    def played_audio(self) -> bytes:
        """What the caller actually heard (cleared audio excluded), in order."""
        return b"".join(c.audio for c in self.chunks)

    def spans(self, gap: float) -> list[tuple[float, float]]:
        """When audio was played: (start, end) stretches, merged across gaps shorter than `gap`."""
        out: list[tuple[float, float]] = []
        for c in self.chunks:
            if out and c.start - out[-1][1] < gap:
                out[-1] = (out[-1][0], max(out[-1][1], c.end))
            else:
                out.append((c.start, c.end))
        return out

    @property
    def received_seconds(self) -> float:
        return self.received_bytes / RATE
