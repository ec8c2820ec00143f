"""How a reply is played: in segments (consecutive prompts of the same interruptibility), each
followed by a playback mark whose echo says the caller has heard it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pipecat.frames.frames import Frame

from callbot.dialog.types import Prompt


@dataclass
class PlaybackMarks:
    """How the telephony side tags audio: `make(name)` builds the frame queued behind a segment,
    `echo(frame)` reads the name back from an incoming frame (None if it is not an echo)."""

    make: Callable[[str], Frame]
    echo: Callable[[Frame], str | None]


def segments(prompts: list[Prompt]) -> list[list[Prompt]]:
    """Group consecutive prompts of the same interruptibility."""
    out: list[list[Prompt]] = []
    for p in prompts:
        if out and out[-1][0].interruptible == p.interruptible:
            out[-1].append(p)
        else:
            out.append([p])
    return out
