"""How long the configured voice takes to say a text: what `callbot flows test --timing` uses.

The voice is the one the server would load (CALLBOT_TTS_VOICE, or the demo voice with
CALLBOT_DEMO_MODELS=1). Durations are the synthesised audio's, so they include the voice's own
pauses; each text is synthesised once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from callbot.config import get_settings
from callbot.speech.errors import SpeechError


def configured_voice_seconds() -> tuple[str, Callable[[str], float]]:
    """(the voice's file name, text → seconds of audio). Raises SpeechError when it cannot load."""
    from callbot.speech.piper_tts import PiperVoiceEngine

    settings = get_settings()
    if settings.demo_models:
        from callbot.speech.models import demo_models

        demo = demo_models()
        path, language = demo.tts_voice, demo.tts_language
    else:
        path, language = settings.resolved_tts_voice(), settings.tts_language
    voice = PiperVoiceEngine.load(path, language)

    @cache
    def seconds(text: str) -> float:
        pcm, rate = voice.synthesize_pcm(text)
        return len(pcm) / 2 / rate

    return path.name, seconds


__all__ = ["SpeechError", "configured_voice_seconds"]
