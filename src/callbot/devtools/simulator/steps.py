"""What the simulated caller does, step by step (`callbot simulate`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DTMF_DIGITS = "0123456789*#"


@dataclass(frozen=True)
class Say:
    """The caller speaks `text` (synthesised with the project's Piper voice)."""

    text: str


@dataclass(frozen=True)
class Wav:
    """The caller plays a WAV file into the phone."""

    path: Path


@dataclass(frozen=True)
class Dtmf:
    digit: str


@dataclass(frozen=True)
class Wait:
    """The caller stays silent (silence frames keep flowing)."""

    seconds: float


@dataclass(frozen=True)
class WaitForBot:
    """Silence until the bot has spoken, its audio has finished playing and `quiet` seconds followed
    without more (a reply comes in segments; the next one is synthesised after the previous is heard),
    or until `timeout`."""

    timeout: float = 60.0
    quiet: float = 1.5


@dataclass(frozen=True)
class WaitForBotAudio:
    """Silence until the bot's audio is playing (to speak over it: barge-in), or until `timeout`."""

    timeout: float = 30.0


@dataclass(frozen=True)
class Hangup:
    pass


Step = Say | Wav | Dtmf | Wait | WaitForBot | WaitForBotAudio | Hangup
CALLER_TURN_KINDS = ("say", "wav", "dtmf")


def step_kind(step: Step) -> str:
    return {Say: "say", Wav: "wav", Dtmf: "dtmf", Wait: "wait", WaitForBot: "wait_for_bot",
            WaitForBotAudio: "wait_for_bot_audio", Hangup: "hangup"}[type(step)]
