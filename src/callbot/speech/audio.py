"""What a phone line carries: G.711 mu-law at 8 kHz, mono, 20 ms frames; and PCM resampling.

One home for these helpers: the voice (speech/piper_tts.py) and the call simulator
(devtools/simulator/) both use them.
"""

from __future__ import annotations

import warnings

import numpy as np
import soxr

with warnings.catch_warnings():
    # Deprecated from 3.11; pipecat depends on `audioop-lts`, which takes over on 3.13+.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

PHONE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = PHONE_RATE * FRAME_MS // 1000  # 160 bytes of mu-law = 20 ms
SILENCE_BYTE = b"\xff"  # mu-law code of zero amplitude
SILENCE_FRAME = SILENCE_BYTE * FRAME_BYTES


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    return audioop.lin2ulaw(pcm, 2)


def ulaw_to_pcm16(ulaw: bytes) -> bytes:
    return audioop.ulaw2lin(ulaw, 2)


def resample_pcm16(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample 16-bit mono PCM (soxr, high quality), clipped to the 16-bit range."""
    if from_rate == to_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype=np.int16)
    out = soxr.resample(samples, from_rate, to_rate, quality="HQ")
    return np.clip(out, -32768, 32767).astype(np.int16).tobytes()


def to_width16(raw: bytes, width: int) -> bytes:
    """PCM of another sample width (8-bit WAV is unsigned) as 16-bit."""
    if width == 1:
        raw = audioop.bias(raw, 1, -128)
    return audioop.lin2lin(raw, width, 2) if width != 2 else raw
