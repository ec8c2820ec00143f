"""Piper speech synthesis: one voice per process, shared by every call, as a pipecat TTS service.

pipecat's own PiperTTSService loads the voice in its constructor (about 1.3 s per call) and
downloads missing voices; this one takes an already loaded `PiperVoiceEngine` and a
`PromptCache`, and speaks at the telephone rate (8 kHz) directly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import threading
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

from loguru import logger
from pipecat.frames.frames import ErrorFrame, Frame, TTSAudioRawFrame, TTSSpeakFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService

from callbot.speech.audio import PHONE_RATE, pcm16_to_ulaw, resample_pcm16, ulaw_to_pcm16
from callbot.speech.errors import ModelMissingError

__all__ = ["PHONE_RATE", "PiperTTSService", "PiperVoiceEngine", "SynthesisSettings", "pcm16_to_ulaw",
           "resample_pcm16", "ulaw_to_pcm16"]
# Cached prompts are pushed in frames of this length (the output transport re-chunks anyway).
CACHED_CHUNK_SECS = 0.5
FIRST_AUDIO_TIMEOUT_SECS = 30.0


@dataclasses.dataclass(frozen=True)
class SynthesisSettings:
    """Piper's synthesis knobs; part of the prompt-cache key."""

    length_scale: float | None = None  # >1 speaks slower
    noise_scale: float | None = None
    noise_w_scale: float | None = None
    volume: float = 1.0


def _session_without_arena(path: Path, providers: list[str]) -> Any:  # noqa: ANN401
    """onnxruntime keeps the peak of its CPU memory arena for good: one long sentence (a service's
    hours for the whole week) left the server 360 MB bigger. Without the arena, memory goes back
    after each sentence, for no measurable loss of speed."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = False
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=providers)


class PiperVoiceEngine:
    """One loaded Piper voice. Synthesis is serialised by a lock: espeak-ng (the phonemizer) is
    process-global C state, and onnxruntime already uses every core for one sentence."""

    _loaded: dict[tuple[Path, str | None], PiperVoiceEngine] = {}
    _load_lock = threading.Lock()

    def __init__(self, voice: Any, path: Path, language: str | None,  # noqa: ANN401
                 settings: SynthesisSettings | None = None) -> None:
        self.voice = voice
        self.path = path
        self.language = language or voice.config.espeak_voice
        self.settings = settings or SynthesisSettings()
        self.sample_rate: int = voice.config.sample_rate
        self._lock = threading.Lock()
        self.identity = self._identity()

    @classmethod
    def load(cls, path: Path, language: str | None = None) -> PiperVoiceEngine:
        """Load a voice once per process. `language` overrides the voice's espeak-ng language
        (e.g. "fr" makes the English test voice read French)."""
        path = Path(path).resolve()
        key = (path, language)
        with cls._load_lock:
            if key not in cls._loaded:
                cls._loaded[key] = cls._load(path, language)
            return cls._loaded[key]

    @classmethod
    def _load(cls, path: Path, language: str | None) -> PiperVoiceEngine:
        import json

        from piper import PiperConfig, PiperVoice

        config = Path(f"{path}.json")
        for needed in (path, config):
            if not needed.is_file():
                raise ModelMissingError("Piper voice", needed, "file missing")
        try:
            # Built here rather than by PiperVoice.load, which would load the model a second
            # time with its own session options (see _session_without_arena).
            voice = PiperVoice(session=_session_without_arena(path, ["CPUExecutionProvider"]),
                               config=PiperConfig.from_dict(json.loads(config.read_text("utf-8"))))
        except Exception as e:
            raise ModelMissingError("Piper voice", path, f"Piper could not load it: {e}") from e
        if language:
            # piper-tts 1.8 reads `espeak.voice` from the .onnx.json into this frozen-free dataclass.
            voice.config = dataclasses.replace(voice.config, espeak_voice=language)
        return cls(voice, path, language)

    def _identity(self) -> str:
        """Identifies the voice for cache keys without hashing 60 MB: name, size, config digest."""
        config = Path(f"{self.path}.json")
        digest = hashlib.sha256(config.read_bytes()).hexdigest()[:16] if config.is_file() else "-"
        size = self.path.stat().st_size if self.path.is_file() else 0
        return f"{self.path.name}:{size}:{digest}"

    def _syn_config(self) -> Any:  # noqa: ANN401
        from piper import SynthesisConfig

        s = self.settings
        return SynthesisConfig(length_scale=s.length_scale, noise_scale=s.noise_scale,
                               noise_w_scale=s.noise_w_scale, volume=s.volume)

    def iter_pcm(self, text: str) -> Iterator[bytes]:
        """PCM16 at the voice's rate, one chunk per sentence, as each sentence is ready."""
        chunks = self.voice.synthesize(text, self._syn_config())
        while True:
            with self._lock:
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk.audio_int16_bytes

    def iter_pcm8k(self, text: str) -> Iterator[bytes]:
        """PCM16 at 8 kHz, one chunk per sentence."""
        for pcm in self.iter_pcm(text):
            yield resample_pcm16(pcm, self.sample_rate, PHONE_RATE)

    def synthesize_pcm(self, text: str) -> tuple[bytes, int]:
        """The whole text as PCM16 mono, and its sample rate."""
        return b"".join(self.iter_pcm(text)), self.sample_rate

    def synthesize_ulaw8k(self, text: str) -> bytes:
        """The whole text as 8 kHz mu-law (what Twilio plays)."""
        return pcm16_to_ulaw(b"".join(self.iter_pcm8k(text)))


class PiperTTSService(TTSService):
    """Speaks with a shared `PiperVoiceEngine`; fixed prompts come from the `PromptCache`.

    Text not in the cache is synthesised in a worker thread and streamed sentence by sentence.
    It is kept in the cache afterwards (`PromptCache.learn`) only when the `TTSSpeakFrame` that
    asked for it says `cacheable = True` (flow content only, no caller data); frames without
    the attribute are never kept.
    """

    def __init__(self, engine: PiperVoiceEngine, cache: Any, **kwargs: Any) -> None:  # noqa: ANN401
        kwargs.setdefault("sample_rate", PHONE_RATE)
        # pipecat gives up on an audio context that stays silent this long (default 3 s): a long
        # first sentence on a busy server can take longer than that to synthesise.
        kwargs.setdefault("stop_frame_timeout_s", FIRST_AUDIO_TIMEOUT_SECS)
        kwargs.setdefault("settings", TTSSettings(model="piper", voice=engine.path.stem,
                                                  language=engine.language))
        super().__init__(push_start_frame=True, push_stop_frames=True, **kwargs)
        self._engine = engine
        self._cache = cache
        self._cacheable: set[str] = set()  # texts of this call that may be kept once synthesised

    def can_generate_metrics(self) -> bool:
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, TTSSpeakFrame) and getattr(frame, "cacheable", False):
            self._cacheable.add(frame.text)
        await super().process_frame(frame, direction)

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        await self.start_tts_usage_metrics(text)
        try:
            ulaw = self._cache.get(text) if self._cache is not None else None
            if ulaw is not None:
                async for frame in self._cached_frames(ulaw, context_id):
                    yield frame
                return
            learn = self._cache is not None and text in self._cacheable
            spoken: list[bytes] = []
            async for pcm in self._synthesize(text):
                if learn:
                    spoken.append(pcm)
                yield self._frame(pcm, PHONE_RATE, context_id)
            if learn:  # only reached when the whole text was synthesised (no barge-in)
                self._cacheable.discard(text)
                await asyncio.to_thread(self._cache.learn, text, pcm16_to_ulaw(b"".join(spoken)))
        except Exception as e:  # a failed sentence must not take the call down
            logger.exception("Piper failed on a {}-character text", len(text))  # may hold a number
            yield ErrorFrame(error=f"synthèse vocale impossible: {e}")

    async def _cached_frames(self, ulaw: bytes, context_id: str) -> AsyncGenerator[Frame, None]:
        pcm = ulaw_to_pcm16(ulaw)
        step = int(PHONE_RATE * CACHED_CHUNK_SECS) * 2
        for i in range(0, len(pcm), step):
            yield self._frame(pcm[i:i + step], PHONE_RATE, context_id)

    def _frame(self, pcm: bytes, rate: int, context_id: str) -> TTSAudioRawFrame:
        if rate != self.sample_rate:  # only if someone asked for a rate other than the phone's
            pcm = resample_pcm16(pcm, rate, self.sample_rate)
        return TTSAudioRawFrame(pcm, self.sample_rate, 1, context_id=context_id)

    async def _synthesize(self, text: str) -> AsyncGenerator[bytes, None]:
        chunks = self._engine.iter_pcm8k(text)
        while True:
            pcm = await asyncio.to_thread(next, chunks, None)
            if pcm is None:
                return
            await self.stop_ttfb_metrics()
            yield pcm
