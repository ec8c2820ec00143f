"""What the simulated caller does, step by step (`callbot simulate`)."""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass
from pathlib import Path

DTMF_DIGITS = "0123456789*#"


def _one_value_step(name: str, field_name: str, kind: type, doc: str) -> type:
    """A frozen dataclass holding one value: the simple steps differ only by it."""
    return make_dataclass(name, [(field_name, kind)], frozen=True,
                          namespace={"__doc__": doc, "__module__": __name__})


Say = _one_value_step("Say", "text", str, "The caller speaks `text` (synthesised with a Piper voice).")
Wav = _one_value_step("Wav", "path", Path, "The caller plays a WAV file into the phone.")
Dtmf = _one_value_step("Dtmf", "digit", str, "The caller presses a key (0-9, * or #).")
Wait = _one_value_step("Wait", "seconds", float, "The caller stays silent (silence frames keep flowing).")


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
