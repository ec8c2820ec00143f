"""How a reply is played: in segments (consecutive prompts of the same interruptibility), each
followed by a playback mark whose echo says the caller has heard it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipecat.frames.frames import Frame, OutputAudioRawFrame

from callbot.dialog.types import Prompt


@dataclass
class PlaybackMarks:
    """How the telephony side tags audio: `make(name)` builds the frame queued behind a segment,
    `echo(frame)` reads the name back from an incoming frame (None if it is not an echo)."""

    make: Callable[[str], Frame]
    echo: Callable[[Frame], str | None]


# The pause between two segments, sent as silence right behind the first one's mark. The next
# segment is only decided once that mark is echoed (the caller may have spoken over the
# disclosure): on a busy server the echo, the decision and the first audio of the next segment
# took 100-160 ms, which the caller heard as playback running dry (bench/bench_load.py "gaps").
# With the pause already queued, the next segment arrives while the pause plays.
SEGMENT_PAUSE_SECS = 0.2


def pause_frame(sample_rate: int, secs: float = SEGMENT_PAUSE_SECS) -> OutputAudioRawFrame:
    """Silence to play between two segments (PCM16 mono at the output rate)."""
    return OutputAudioRawFrame(audio=bytes(2 * int(sample_rate * secs)), sample_rate=sample_rate,
                               num_channels=1)


def segments(prompts: list[Prompt]) -> list[list[Prompt]]:
    """Group consecutive prompts of the same interruptibility."""
    out: list[list[Prompt]] = []
    for p in prompts:
        if out and out[-1][0].interruptible == p.interruptible:
            out[-1].append(p)
        else:
            out.append([p])
    return out


def still_to_say(pending: list[list[Prompt]], *, caller_speaking: bool) -> list[list[Prompt]]:
    """The segments still to speak when the next one is due.

    A caller who started talking during a prompt that could not be cut (the AI disclosure) has
    barged in on what follows it: an interruptible segment is not started over their voice, and
    the rest of that reply is dropped, as a barge-in drops it. Their words are answered instead."""
    if caller_speaking and pending and pending[0][0].interruptible:
        return []
    return pending
