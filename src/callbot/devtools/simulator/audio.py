"""Caller audio for `callbot simulate`: what a phone line carries (G.711 mu-law, 8 kHz, mono, 20 ms)."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np

from callbot.speech.audio import (
    FRAME_BYTES,
    FRAME_MS,
    SILENCE_BYTE,
    SILENCE_FRAME,
    pcm16_to_ulaw,
    resample_pcm16,
    to_width16,
    ulaw_to_pcm16,
)
from callbot.speech.audio import PHONE_RATE as RATE

__all__ = ["FRAME_BYTES", "FRAME_MS", "RATE", "SILENCE_BYTE", "SILENCE_FRAME", "AudioError", "frames_of",
           "load_caller_voice", "silence_frames", "speak_as_caller", "wav_to_ulaw", "write_wav"]


class AudioError(ValueError):
    """A caller audio source cannot be used (missing file, unsupported WAV, no voice)."""


def frames_of(ulaw: bytes) -> list[bytes]:
    """Cut into 160-byte frames; the last one is padded with silence (a line never sends less)."""
    frames = [ulaw[i:i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]
    if frames and len(frames[-1]) < FRAME_BYTES:
        frames[-1] = frames[-1] + SILENCE_BYTE * (FRAME_BYTES - len(frames[-1]))
    return frames


def silence_frames(seconds: float) -> int:
    return max(0, round(seconds * 1000 / FRAME_MS))


def wav_to_ulaw(path: Path) -> bytes:
    """Any PCM WAV (rate, channels, 8/16/24/32-bit) → 8 kHz mono mu-law."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"fichier WAV introuvable : {path}")
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise AudioError(f"{path} : WAV PCM illisible ({e})") from None
    pcm = to_width16(raw, width)
    if channels > 1:
        samples = np.frombuffer(pcm, dtype=np.int16).reshape(-1, channels)
        pcm = samples.mean(axis=1).astype(np.int16).tobytes()
    return pcm16_to_ulaw(resample_pcm16(pcm, rate, RATE))


def write_wav(path: Path, ulaw: bytes) -> None:
    """What the caller heard, as an ordinary 16-bit 8 kHz WAV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(ulaw_to_pcm16(ulaw))


def caller_voice_path() -> tuple[Path, str | None]:
    """Which Piper voice speaks as the caller, with its forced language: the server's configured
    voice when its files are here, else the package-shipped test voice (what `make run-test-models`
    and the demo mode serve with), else AudioError saying what to install."""
    from callbot.config import get_settings
    from callbot.speech.models import DEMO_INSTALL_HINT, DEMO_LANGUAGE, demo_voice

    settings = get_settings()
    configured = settings.resolved_tts_voice()
    demo = demo_voice()
    if settings.demo_models and demo is not None:
        return demo, DEMO_LANGUAGE
    if configured.is_file() and configured.with_suffix(".onnx.json").is_file():
        return configured, settings.tts_language
    if demo is not None and demo.is_file():
        return demo, DEMO_LANGUAGE
    raise AudioError(f"aucune voix Piper pour parler à la place de l'appelant : ni {configured} "
                     f"(CALLBOT_TTS_VOICE ; `callbot models download`) ni la voix de démonstration "
                     f"({DEMO_INSTALL_HINT}) ; ou utilisez --wav")


def load_caller_voice() -> Any:  # noqa: ANN401
    """The Piper voice (a callbot.speech.piper_tts.PiperVoiceEngine) of `caller_voice_path()`."""
    from callbot.speech.errors import ModelMissingError
    from callbot.speech.piper_tts import PiperVoiceEngine

    path, language = caller_voice_path()
    try:
        return PiperVoiceEngine.load(path, language)
    except ModelMissingError as e:
        raise AudioError(f"{e} ; réglez CALLBOT_TTS_VOICE, utilisez --wav, ou téléchargez les modèles "
                         "avec `callbot models download`") from None


def speak_as_caller(voice: Any, text: str) -> bytes:  # noqa: ANN401
    """`text` spoken by `voice` (a callbot.speech.piper_tts.PiperVoiceEngine), as 8 kHz mu-law."""
    ulaw = voice.synthesize_ulaw8k(text)
    if not ulaw:
        raise AudioError(f"la voix n'a produit aucun son pour {text!r}")
    return ulaw
