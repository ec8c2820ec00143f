"""Real speech engines on the package-shipped models, loaded once per test session."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pipecat.frames.frames import InputAudioRawFrame
from pipecat.pipeline.worker import PipelineParams

from tests.conftest import joe_voice, vosk_ko_model

RATE = 8000
FRAME_BYTES = 320  # 20 ms of 8 kHz PCM16, what Twilio's serializer hands the pipeline
PHONE = PipelineParams(audio_in_sample_rate=RATE, audio_out_sample_rate=RATE)
SENTENCE = "Bonjour, je voudrais connaître les horaires d'ouverture de la mairie."


@pytest.fixture(scope="session")
def vosk_model():
    from callbot.speech.vosk_stt import load_vosk_model

    return load_vosk_model(vosk_ko_model())


@pytest.fixture(scope="session")
def voice():
    from callbot.speech.piper_tts import PiperVoiceEngine

    return PiperVoiceEngine.load(joe_voice(), "fr")


@pytest.fixture(scope="session")
def speech_8k(voice) -> bytes:  # noqa: ANN001
    """About 4 s of French speech at 8 kHz (the English test voice reading French)."""
    return b"".join(voice.iter_pcm8k(SENTENCE))


def audio_frames(pcm: bytes) -> list[InputAudioRawFrame]:
    return [InputAudioRawFrame(pcm[i:i + FRAME_BYTES], RATE, 1) for i in range(0, len(pcm), FRAME_BYTES)]


def silence(secs: float) -> bytes:
    return b"\x00\x00" * int(RATE * secs)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "prompts"


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(coro)
