"""Caller audio for `callbot simulate`: what a phone line carries (G.711 mu-law, 8 kHz, mono, 20 ms)."""

from __future__ import annotations

import warnings
import wave
from pathlib import Path
from typing import Any

import numpy as np
import soxr

with warnings.catch_warnings():
    # Deprecated from 3.11 (pipecat imports it too); `audioop-lts` takes over on 3.13.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

RATE = 8000
FRAME_MS = 20
FRAME_BYTES = RATE * FRAME_MS // 1000  # 160 bytes of mu-law = 20 ms
SILENCE_BYTE = b"\xff"  # mu-law code of zero amplitude
SILENCE_FRAME = SILENCE_BYTE * FRAME_BYTES


class AudioError(ValueError):
    """A caller audio source cannot be used (missing file, unsupported WAV, no voice)."""


def ulaw_from_pcm16(pcm: bytes) -> bytes:
    return audioop.lin2ulaw(pcm, 2)


def pcm16_from_ulaw(ulaw: bytes) -> bytes:
    return audioop.ulaw2lin(ulaw, 2)


def resample_pcm16(pcm: bytes, rate_in: int, rate_out: int) -> bytes:
    if rate_in == rate_out or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype=np.int16)
    out = soxr.resample(samples, rate_in, rate_out, quality="HQ")
    return np.clip(out, -32768, 32767).astype(np.int16).tobytes()


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
    if width == 1:  # 8-bit WAV is unsigned
        raw = audioop.bias(raw, 1, -128)
    pcm = audioop.lin2lin(raw, width, 2) if width != 2 else raw
    if channels > 1:
        samples = np.frombuffer(pcm, dtype=np.int16).reshape(-1, channels)
        pcm = samples.mean(axis=1).astype(np.int16).tobytes()
    return ulaw_from_pcm16(resample_pcm16(pcm, rate, RATE))


def write_wav(path: Path, ulaw: bytes) -> None:
    """What the caller heard, as an ordinary 16-bit 8 kHz WAV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm16_from_ulaw(ulaw))


def load_caller_voice(voice_path: Path | None = None, language: str | None = None) -> Any:  # noqa: ANN401
    """The project's Piper voice (Settings.tts_voice / tts_language unless given), to speak as the caller."""
    from callbot.config import get_settings
    from callbot.speech.errors import ModelMissingError
    from callbot.speech.piper_tts import PiperVoiceEngine

    settings = get_settings()
    path = Path(voice_path) if voice_path else settings.resolved_tts_voice()
    try:
        return PiperVoiceEngine.load(path, language if language is not None else settings.tts_language)
    except ModelMissingError as e:
        raise AudioError(f"{e} ; réglez CALLBOT_TTS_VOICE, utilisez --wav, ou téléchargez les modèles "
                         "avec `callbot models download`") from None


def speak_as_caller(voice: Any, text: str) -> bytes:  # noqa: ANN401
    """`text` spoken by `voice` (a callbot.speech.piper_tts.PiperVoiceEngine), as 8 kHz mu-law."""
    ulaw = voice.synthesize_ulaw8k(text)
    if not ulaw:
        raise AudioError(f"la voix n'a produit aucun son pour {text!r}")
    return ulaw
