"""What one server process loads once and shares between calls: flows, models, database, events."""

from __future__ import annotations

import contextlib
import ctypes
import os
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from callbot.config import Settings, server_secret
from callbot.store.db import Database


@dataclass
class Runtime:
    settings: Settings
    db: Database
    secret: bytes
    dialog: Any = None  # callbot.dialog.engine.DialogEngine
    asr_model: Any = None  # vosk.Model, one per process
    # CALLBOT_ASR_PROFILE=adaptive: the same model with the `fast` search, for turns that start
    # while many others are being decoded (speech/vosk_stt.py).
    asr_busy_model: Any = None
    asr_search: str = "model"  # the search of `asr_model`: "model" or "fast" (decoding_profile.py)
    voice: Any = None  # callbot.speech.piper_tts.PiperVoiceEngine, one per process
    prompts: Any = None  # callbot.speech.prompt_cache.PromptCache
    asr_script: dict[str, list[str]] | None = None  # test seam, see devtools/scripted_recognizer.py
    warmer: AnswerWarmer | None = None
    load_times: dict[str, float] = field(default_factory=dict)
    # "configured": the models the settings name; "demo": the package-shipped test models that
    # `make run` falls back to offline (they understand no French: pages and /healthz say so).
    models: str = "configured"
    trimmer: MemoryTrimmer | None = None

    def call_ended(self) -> None:
        """A call is over: what it allocated goes back to the system soon (see MemoryTrimmer)."""
        if self.trimmer is not None:
            self.trimmer.request()

    def close(self) -> None:
        if self.warmer is not None:
            self.warmer.stop()
        self.db.engine.dispose()

    @property
    def speech_ready(self) -> bool:
        return self.asr_model is not None and self.voice is not None


def _timed(runtime: Runtime, name: str, fn, *args: Any) -> Any:  # noqa: ANN401
    t0 = time.perf_counter()
    value = fn(*args)
    runtime.load_times[name] = round(time.perf_counter() - t0, 3)
    logger.info("loaded {} in {:.2f} s", name, runtime.load_times[name])
    return value


DEMO_MODELS_NOTICE = "modèles de démonstration : la reconnaissance ne comprend pas le français"


def speech_models(settings: Settings) -> tuple[Path, Path, str | None]:
    """(Vosk model, Piper voice, forced language) the server loads: the configured ones, or the
    package-shipped test models when CALLBOT_DEMO_MODELS is set (never as a silent fallback)."""
    if not settings.demo_models:
        return settings.resolved_asr_model(), settings.resolved_tts_voice(), settings.tts_language
    from callbot.speech.models import demo_models

    demo = demo_models()
    details = (f"CALLBOT_DEMO_MODELS=1 : Vosk {demo.asr_model.parent.name} (coréen), voix Piper "
               f"{demo.tts_voice.stem} forcée en {demo.tts_language}. Les appels passent par tout le chemin "
               "réel, mais aucun appelant ne sera compris. Pour de vrais appels : `callbot models "
               "download`, puis relancez sans CALLBOT_DEMO_MODELS.")
    rule = "!" * 96
    for line in (rule, DEMO_MODELS_NOTICE.upper(), *textwrap.wrap(details, 96), rule):
        logger.warning("!! {}", line)
    return demo.asr_model, demo.tts_voice, demo.tts_language


def load_runtime(settings: Settings, *, speech: bool = True) -> Runtime:
    """Load everything once. Raises with a clear message when flows or models are unusable."""
    from callbot.dialog.engine import DialogEngine

    limit_malloc_arenas()
    db = Database(settings.database_url)
    _runtime = Runtime(settings=settings, db=db, secret=server_secret(settings),
                       models="demo" if settings.demo_models else "configured")
    _timed(_runtime, "database", db.migrate)
    _runtime.dialog = _timed(_runtime, "flows", DialogEngine.load, settings.flows, settings.clock)
    if speech:
        load_speech(_runtime)
    return _runtime


def release_free_memory() -> None:
    """Hand memory freed after synthesis back to the system (glibc keeps it otherwise: the
    server's resident size grew by the peak of every batch of sentences)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


# glibc gives each thread that allocates an arena of its own, up to 8 per core, and memory freed
# in one arena serves only that arena: with several threads per call (Vosk, VAD, turn model,
# synthesis) the server's resident size grew with every call and never came down (issue 13).
M_ARENA_MAX = -8  # mallopt parameter number (malloc.h)
MALLOC_ARENAS = 4


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Cap glibc's malloc arenas (as MALLOC_ARENA_MAX would, when the environment does not)."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas)


class MemoryTrimmer:
    """Returns freed memory to the system after calls end, at most every `every_secs`, from its own
    low-priority thread (malloc_trim walks the heap: never on the event loop)."""

    def __init__(self, every_secs: float = 15.0) -> None:
        self._every_secs = every_secs
        self._wanted = threading.Event()
        self._thread = threading.Thread(target=self._run, name="malloc-trim", daemon=True)
        self._thread.start()
        self.trims = 0

    def request(self) -> None:
        self._wanted.set()

    def _run(self) -> None:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        while True:
            self._wanted.wait()
            time.sleep(self._every_secs)  # calls ending together: one trim
            self._wanted.clear()
            release_free_memory()
            self.trims += 1


class AnswerWarmer:
    """Synthesises the flows' static answers in the background, at the lowest CPU priority; then,
    every `every_secs`, the replies the flows' own examples get at that moment (`refresh`:
    clarifications, today's hours), kept as learned prompts.

    Calls come first: it works one text at a time and stops when the server shuts down (a
    synthesis still running in a dying interpreter aborts the process).
    """

    def __init__(self, runtime: Runtime, texts: list[str],
                 refresh: Callable[[], list[str]] | None = None, every_secs: float = 900.0) -> None:
        self._runtime = runtime
        self._texts = texts
        self._refresh = refresh
        self._every_secs = every_secs
        self._stop = threading.Event()
        self.done = threading.Event()
        self.synthesised = 0
        self._thread = threading.Thread(target=self._run, name="prompt-warmer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        cache = self._runtime.prompts
        try:
            for text in self._texts:
                if self._stop.is_set():
                    return
                if cache.get(text) is None:
                    cache.get_or_synthesize(text)
                    self.synthesised += 1
            self._learn_current()
            logger.info("answers warmed in the background: {} synthesised", self.synthesised)
            release_free_memory()
        except Exception:  # a failed warm-up only costs latency later
            logger.exception("background prompt synthesis failed")
        finally:
            self.done.set()
        while self._refresh is not None and not self._stop.wait(self._every_secs):
            try:
                self._learn_current()
                release_free_memory()
            except Exception:
                logger.exception("background prompt synthesis failed")

    def _learn_current(self) -> None:
        if self._refresh is None:
            return
        cache = self._runtime.prompts
        for text in self._refresh():
            if self._stop.is_set():
                return
            if cache.get(text) is None:
                cache.learn(text, cache.engine.synthesize_ulaw8k(text))
                self.synthesised += 1

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


# What callers typically say, spoken by the bot's own voice to warm new recognisers.
WARM_UP_REQUESTS = (
    "Bonjour, je voudrais connaître les horaires d'ouverture de la mairie.",
    "Comment faire une carte d'identité ou un passeport ?",
    "Je voudrais parler à quelqu'un, s'il vous plaît.",
)


def _warm_up_speech(voice: Any) -> Callable[[], list[bytes]]:  # noqa: ANN401
    clips: list[bytes] = []
    lock = threading.Lock()

    def speech() -> list[bytes]:
        with lock:  # synthesised once, on first use
            if not clips:
                clips.extend(b"".join(voice.iter_pcm8k(text)) for text in WARM_UP_REQUESTS)
            return clips

    return speech


def load_speech(runtime: Runtime) -> None:
    from callbot.devtools.scripted_recognizer import load_transcript_script
    from callbot.speech.decoding_profile import PROFILES, profiled_model_dir
    from callbot.speech.piper_tts import PiperVoiceEngine
    from callbot.speech.prompt_cache import PromptCache
    from callbot.speech.recognizers import recognizer_pool
    from callbot.speech.turns import build_hearing
    from callbot.speech.vosk_stt import load_vosk_model

    s = runtime.settings
    asr_model, tts_voice, tts_language = speech_models(s)
    # The model's own search settings, or a cheaper search (speech/decoding_profile.py).
    runtime.asr_search = "model" if s.asr_profile == "adaptive" else s.asr_profile
    runtime.asr_model = _timed(runtime, "asr_model", load_vosk_model,
                               profiled_model_dir(asr_model, PROFILES[runtime.asr_search]))
    if s.asr_profile == "adaptive":
        runtime.asr_busy_model = _timed(runtime, "asr_busy_model", load_vosk_model,
                                        profiled_model_dir(asr_model, PROFILES["fast"]))
    runtime.voice = _timed(runtime, "tts_voice", PiperVoiceEngine.load, tts_voice, tts_language)
    # The VAD and end-of-turn models are shared by every call: load them now, not at the first call.
    _timed(runtime, "turn_models", build_hearing, s)
    # Recognisers with their decoding graph already expanded by a few typical requests
    # (speech/recognizers.py): a new one hears a caller's first question slower than real time.
    warm_audio = _warm_up_speech(runtime.voice)  # synthesised once for both pools (adaptive)
    pool = recognizer_pool(runtime.asr_model)
    pool.set_warm_audio(warm_audio)
    _timed(runtime, "asr_warm_up", pool.warm, s.asr_warm_recognizers)
    if runtime.asr_busy_model is None:
        pool.set_spares(s.asr_ready_recognizers)  # the others are warmed in the background
    else:
        # Adaptive: the model's own search serves up to `asr_busy_turns` turns at once, the
        # narrower one the rest of a burst; as many warm recognisers in all as without it.
        pool.set_spares(min(s.asr_ready_recognizers, s.asr_busy_turns))
        busy = recognizer_pool(runtime.asr_busy_model)
        busy.set_warm_audio(warm_audio)
        busy.set_spares(max(0, s.asr_ready_recognizers - s.asr_busy_turns))
    runtime.prompts = PromptCache(s.prompt_cache_dir, runtime.voice)
    pruned = runtime.prompts.prune_learned()
    if pruned:
        logger.info("prompt cache: {} learned prompts unused for two weeks removed", pruned)
    # Fixed prompts are synthesised once and kept on disk, so the greeting starts at once. The
    # conversation prompts are ready before the first call; answers follow in the background.
    prompts = runtime.dialog.fixed_prompts(answers=False)
    _timed(runtime, "prompt_cache", runtime.prompts.warm, prompts)
    if s.warm_answers:
        runtime.warmer = AnswerWarmer(runtime, runtime.dialog.fixed_prompts(),
                                      refresh=runtime.dialog.spoken_replies)
        runtime.warmer.start()
    release_free_memory()  # what loading and the warm-up allocated for a moment
    runtime.trimmer = MemoryTrimmer()
    if s.asr_script:
        runtime.asr_script = load_transcript_script(s.asr_script)
        logger.warning("CALLBOT_ASR_SCRIPT is set: transcripts come from {} (tests only)", s.asr_script)
