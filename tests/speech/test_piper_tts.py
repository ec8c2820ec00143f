"""Piper voice, prompt cache and TTS service on the real (English, reading French) test voice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pipecat.frames.frames import (
    ErrorFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.tests.utils import run_test

from callbot.speech.errors import ModelMissingError
from callbot.speech.piper_tts import PiperTTSService, PiperVoiceEngine, SynthesisSettings, ulaw_to_pcm16
from callbot.speech.prompt_cache import PromptCache
from tests.conftest import joe_voice
from tests.speech.conftest import PHONE, RATE, run

GREETING = "Bonjour, vous êtes bien à la mairie de Saint-Martin. Que puis-je faire pour vous ?"


class CountingEngine:
    """Wraps the real engine and counts syntheses (the cache must avoid them)."""

    def __init__(self, engine: PiperVoiceEngine) -> None:
        self._engine = engine
        self.calls = 0

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._engine, name)

    def synthesize_ulaw8k(self, text: str) -> bytes:
        self.calls += 1
        return self._engine.synthesize_ulaw8k(text)

    def iter_pcm8k(self, text: str):  # noqa: ANN201
        self.calls += 1
        return self._engine.iter_pcm8k(text)


def speak(service: PiperTTSService, text: str) -> list:
    down, _ = run(run_test(service, frames_to_send=[TTSSpeakFrame(text)], pipeline_params=PHONE))
    return down


def audio_of(frames) -> bytes:  # noqa: ANN001
    return b"".join(f.audio for f in frames if isinstance(f, TTSAudioRawFrame))


def test_service_speaks_french_at_8khz_with_start_and_stop(voice, cache_dir: Path) -> None:  # noqa: ANN001
    down = speak(PiperTTSService(voice, PromptCache(cache_dir, voice)), GREETING)
    kinds = [type(f) for f in down]
    assert kinds.count(TTSStartedFrame) == 1 and kinds.count(TTSStoppedFrame) == 1
    first_audio = kinds.index(TTSAudioRawFrame)
    assert kinds.index(TTSStartedFrame) < first_audio < kinds.index(TTSStoppedFrame)
    chunks = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert {(f.sample_rate, f.num_channels) for f in chunks} == {(RATE, 1)}
    seconds = len(audio_of(down)) / 2 / RATE
    # 15 words read at a normal pace: 3 to 9 seconds, not a click and not a stuck loop.
    assert 3.0 < seconds < 9.0


def test_a_slow_first_sentence_is_still_spoken(voice) -> None:  # noqa: ANN001
    # A busy server may need more than pipecat's default 3 s for a long first sentence.
    class SlowEngine(CountingEngine):
        def iter_pcm8k(self, text: str):  # noqa: ANN202
            time.sleep(3.5)  # runs in the synthesis thread, at the first chunk
            yield from super().iter_pcm8k(text)

    down = speak(PiperTTSService(SlowEngine(voice), None), "Un instant.")
    kinds = [type(f) for f in down]
    assert ErrorFrame not in kinds
    assert TTSAudioRawFrame in kinds and kinds.index(TTSAudioRawFrame) < kinds.index(TTSStoppedFrame)


def test_uncached_text_streams_one_chunk_per_sentence(voice) -> None:  # noqa: ANN001
    chunks = list(voice.iter_pcm8k("Votre demande est enregistrée. Un agent vous rappellera demain."))
    assert len(chunks) == 2 and all(len(c) > RATE for c in chunks)  # each sentence > 0.5 s


def test_prompt_cache_synthesises_once_then_serves_from_disk(voice, cache_dir: Path) -> None:  # noqa: ANN001
    engine = CountingEngine(voice)
    cache = PromptCache(cache_dir, engine)
    assert cache.warm([GREETING, GREETING, "Au revoir."]) == {"cached": 0, "synthesised": 2}
    assert engine.calls == 2
    assert len(list(cache_dir.glob("*.ulaw"))) == 2
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".tmp")]  # atomic writes

    # A second process (new cache object, same directory) finds everything on disk.
    again = PromptCache(cache_dir, engine)
    assert again.warm([GREETING, "Au revoir."]) == {"cached": 2, "synthesised": 0}
    ulaw = again.get_or_synthesize(GREETING)
    assert engine.calls == 2

    # The service plays the cached prompt without synthesising anything.
    down = speak(PiperTTSService(engine, again), GREETING)
    assert engine.calls == 2
    assert audio_of(down) == ulaw_to_pcm16(ulaw)

    # Text that is not a fixed prompt is synthesised, streamed, and not written to disk.
    down = speak(PiperTTSService(engine, again), "Votre numéro se termine par 42.")
    assert engine.calls == 3 and len(audio_of(down)) > RATE
    assert len(list(cache_dir.glob("*.ulaw"))) == 2


def test_cache_key_covers_language_and_synthesis_settings(voice, cache_dir: Path) -> None:  # noqa: ANN001
    french = PromptCache(cache_dir, voice)
    english = PromptCache(cache_dir, PiperVoiceEngine.load(joe_voice()))
    slower = PiperVoiceEngine(voice.voice, voice.path, "fr", SynthesisSettings(length_scale=1.3))
    keys = {french.key(GREETING), english.key(GREETING), PromptCache(cache_dir, slower).key(GREETING)}
    assert len(keys) == 3
    assert french.key(GREETING) == PromptCache(cache_dir, voice).key(GREETING)


def test_language_override_changes_the_phonemes(voice) -> None:  # noqa: ANN001
    english = PiperVoiceEngine.load(joe_voice())
    assert voice.language == "fr" and english.language == "en-us"
    assert voice.voice.phonemize("mairie") != english.voice.phonemize("mairie")
    assert PiperVoiceEngine.load(joe_voice(), "fr") is voice  # one voice per process


def test_missing_voice_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError) as missing:
        PiperVoiceEngine.load(tmp_path / "fr_FR-siwis-medium.onnx", "fr")
    assert "fr_FR-siwis-medium.onnx" in str(missing.value)
    assert "callbot models download" in str(missing.value)


def _speak_frame(text: str, **attrs: object) -> TTSSpeakFrame:
    frame = TTSSpeakFrame(text)
    for name, value in attrs.items():
        setattr(frame, name, value)
    return frame


def test_flow_text_synthesised_in_a_call_is_kept_for_the_next_caller(voice, cache_dir: Path) -> None:  # noqa: ANN001
    # E.g. "Vous voulez A ou plutôt B ?" built from two intents' labels: not known in advance.
    text = "Vous voulez les horaires de la mairie, ou plutôt ceux de la médiathèque ?"
    engine = CountingEngine(voice)
    cache = PromptCache(cache_dir, engine)
    first, _ = run(run_test(PiperTTSService(engine, cache), pipeline_params=PHONE,
                            frames_to_send=[_speak_frame(text, cacheable=True)]))
    assert engine.calls == 1 and cache.learned_path(text).is_file()

    second = speak(PiperTTSService(engine, PromptCache(cache_dir, engine)), text)
    assert engine.calls == 1, "the second caller hears the kept audio, no new synthesis"
    assert len(audio_of(second)) == pytest.approx(len(audio_of(first)), rel=0.01)


def test_text_with_caller_data_is_never_kept(voice, cache_dir: Path) -> None:  # noqa: ANN001
    private = "Un agent vous rappellera au 06 12 34 56 78."
    engine = CountingEngine(voice)
    cache = PromptCache(cache_dir, engine)
    run(run_test(PiperTTSService(engine, cache),
                 frames_to_send=[_speak_frame(private, cacheable=False), TTSSpeakFrame(private + " Merci.")],
                 pipeline_params=PHONE))
    assert engine.calls == 2
    assert cache.get(private) is None and cache.get(private + " Merci.") is None
    assert not any(cache_dir.rglob("*.ulaw"))


def test_learned_prompts_unused_for_two_weeks_are_pruned(voice, cache_dir: Path) -> None:  # noqa: ANN001
    import os

    cache = PromptCache(cache_dir, voice)
    cache.learn("Ouvert aujourd'hui jusqu'à 17 heures.", b"\xff" * 800)
    cache.learn("Ouvert demain à partir de 9 heures.", b"\xff" * 800)
    old = cache.learned_path("Ouvert aujourd'hui jusqu'à 17 heures.")
    fifteen_days_ago = time.time() - 15 * 86400
    os.utime(old, (fifteen_days_ago, fifteen_days_ago))
    assert cache.prune_learned() == 1
    assert cache.get("Ouvert aujourd'hui jusqu'à 17 heures.") is None
    assert cache.get("Ouvert demain à partir de 9 heures.") == b"\xff" * 800


def test_the_background_warmer_learns_the_replies_of_the_moment(voice, cache_dir: Path) -> None:  # noqa: ANN001
    from types import SimpleNamespace

    from callbot.runtime import AnswerWarmer

    now = ["La mairie est ouverte aujourd'hui jusqu'à midi."]
    cache = PromptCache(cache_dir, voice)
    warmer = AnswerWarmer(SimpleNamespace(prompts=cache), ["Bonjour."], refresh=lambda: now, every_secs=0.05)
    warmer.start()
    assert warmer.done.wait(60)
    assert cache.path("Bonjour.").is_file() and cache.learned_path(now[0]).is_file()
    now.append("La mairie est fermée. Elle réouvre demain à 8 heures 30.")  # the state changed
    deadline = time.monotonic() + 60
    while cache.get(now[1]) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    warmer.stop()
    assert cache.learned_path(now[1]).is_file()
