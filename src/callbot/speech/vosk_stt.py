"""Vosk speech recognition as a pipecat STT service: one recogniser per call, finalised by turn-taking.

Audio arrives as 8 kHz PCM16 (Twilio). The recogniser is opened at 8 kHz and Kaldi resamples to the
model's 16 kHz inside its feature pipeline (`--allow-upsample=true` in the model's mfcc.conf); this
costs less than resampling in Python first and decodes the same (see bench/bench_speech.py).

Vosk's own endpointing is not used to end a turn: when the caller's turn ends (pipecat's
`UserStoppedSpeakingFrame`, or the raw VAD stop with `finalize_on="vad"`) the service pushes one
`TranscriptionFrame(finalized=True)`.

The forced `FinalResult()` starts early, at the VAD's stop, in the call's Vosk thread, while the
turn model (Smart Turn) decides on another core whether the caller has finished: the transcript
is then ready when the turn ends instead of 0.2 to 1.5 s after it. If the caller goes on talking,
the text finalised so far is kept and the next stretch of speech is decoded as a new utterance of
the same turn; the turn's transcript joins them.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any, Literal

import vosk
from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterimTranscriptionFrame,
    StartFrame,
    TranscriptionFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.settings import STTSettings
from pipecat.services.stt_service import STTService
from pipecat.utils.time import time_now_iso8601

from callbot.speech.errors import ModelMissingError
from callbot.speech.recognizers import RecognizerPool, recognizer_pool
from callbot.speech.turns import WordsHint

vosk.SetLogLevel(-1)  # Kaldi's own logging goes to stderr line by line; we log what matters

# Files every Vosk model needs; a dynamic-graph model (grammar-capable) also has HCLr.fst + Gr.fst.
REQUIRED_MODEL_FILES = ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf")
STATIC_GRAPH = "graph/HCLG.fst"
DYNAMIC_GRAPH = ("graph/HCLr.fst", "graph/Gr.fst")

# Vocabularies for grammar-constrained turns (French). "[unk]" lets anything else through as
# unknown instead of forcing it onto the nearest listed word.
EXPECTATION_PHRASES: dict[str, list[str]] = {
    "yes_no": ["oui", "non", "ouais", "si", "d'accord", "exactement", "c'est ça", "pas du tout",
               "oui merci", "non merci", "[unk]"],
    "digits": ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix",
               "onze", "douze", "treize", "quatorze", "quinze", "seize", "vingt", "trente",
               "quarante", "cinquante", "soixante", "cent", "et", "[unk]"],
}

# Decode in ~100 ms blocks: fewer thread hops than per 20 ms frame, negligible added delay.
BLOCK_SECS = 0.1
# A partial result makes Kaldi search its lattice again: asking for one every block nearly doubled
# decoding time (bench/bench_speech.py), which delays the final at the end of every turn.
PARTIAL_EVERY_BLOCKS = 5
# Audio kept from before the VAD's speech start: the VAD reports a start after `vad_start_secs`
# (0.2 s) of speech, plus 0.1 s for a soft first consonant. Every extra 0.1 s is decoded on each
# turn and delays the final on a busy server.
PREROLL_SECS = 0.3

_model_lock = threading.Lock()


def check_model_dir(path: Path) -> None:
    """Raise ModelMissingError unless `path` looks like a complete Vosk model."""
    path = Path(path)
    if not path.is_dir():
        raise ModelMissingError("Vosk model", path, "no such directory")
    missing = [f for f in REQUIRED_MODEL_FILES if not (path / f).is_file()]
    if not (path / STATIC_GRAPH).is_file() and not all((path / f).is_file() for f in DYNAMIC_GRAPH):
        missing.append(f"{STATIC_GRAPH} or {' + '.join(DYNAMIC_GRAPH)}")
    if missing:
        raise ModelMissingError("Vosk model", path, "missing " + ", ".join(missing))


def supports_grammar(model_path: Path) -> bool:
    """Grammars need a dynamic graph (HCLr.fst + Gr.fst), as in the small Vosk models."""
    return all((Path(model_path) / f).is_file() for f in DYNAMIC_GRAPH)


@cache
def _load(path: Path) -> vosk.Model:
    model = vosk.Model(str(path))
    # Remembered so services can tell whether grammars will work.
    model.callbot_path = path  # type: ignore[attr-defined]
    return model


def load_vosk_model(path: Path) -> vosk.Model:
    """Load a Vosk model once per process per path (about 3 s and 500 MB for the small models)."""
    path = Path(path).resolve()
    check_model_dir(path)
    with _model_lock:
        try:
            return _load(path)
        except Exception as e:  # Kaldi raises a bare Exception("Failed to create a model")
            raise ModelMissingError("Vosk model", path, f"Vosk could not load it: {e}") from e


class VoskSTTService(STTService):
    """Streaming Vosk recogniser for one call.

    The recogniser only decodes inside the caller's turns: from the VAD's speech start (plus
    `PREROLL_SECS` of audio kept from before it, so the first syllable is not lost) to the end of
    the turn. Silence while the bot speaks costs no CPU, and noise decoded between turns cannot
    leak into the next transcript.

    `transcripts` is a TEST SEAM: when given, the text of each finalised utterance is replaced by
    the next string of the iterator (the real audio still goes through the real recogniser). Used
    with a Korean test model to "say" French words; see devtools/scripted_recognizer.py.

    Each final `TranscriptionFrame` carries `asr_ms` (wall time spent in the recogniser for the
    utterance, ms) as an attribute and in `result`, with `asr_cpu_ms` (its CPU time), `final_ms`
    (the forced FinalResult), `heard` (the recogniser's own text) and whether a grammar was used.
    """

    def __init__(
        self,
        model: vosk.Model,
        *,
        transcripts: Iterator[str] | None = None,
        finalize_on: Literal["turn", "vad"] = "turn",
        hint: WordsHint | None = None,
        busy_model: vosk.Model | None = None,
        busy_turns: int = 2,
        **kwargs: Any,  # noqa: ANN401
    ) -> None:
        kwargs.setdefault("ttfs_p99_latency", 0.3)
        # Caller audio stops here: nothing after the recogniser uses it, and each processor it
        # crosses costs the event loop a turn per 20 ms frame and per call (bench/bench_load.py).
        kwargs.setdefault("audio_passthrough", False)
        kwargs.setdefault("settings", STTSettings(model="vosk", language=None))
        super().__init__(**kwargs)
        self._model = model
        self._transcripts = transcripts
        self._script_ahead: list[str] = []  # a scripted line peeked at for the hint, not yet used
        self._hint = hint
        self._finalize_frame = (UserStoppedSpeakingFrame if finalize_on == "turn"
                                else VADUserStoppedSpeakingFrame)
        self._executor: ThreadPoolExecutor | None = None
        self._pool: RecognizerPool | None = None  # warm recognisers shared by the process's calls
        # CALLBOT_ASR_PROFILE=adaptive: a turn that starts while `busy_turns` others are being
        # decoded takes a recogniser of the same model with a narrower search (decoding_profile.py).
        self._busy_model = busy_model
        self._busy_turns = busy_turns
        self._busy_pool: RecognizerPool | None = None
        self._rec_pool: RecognizerPool | None = None  # where the leased recogniser comes from
        # Leased from the pool for one caller turn (see `_begin_turn`), None between turns.
        self._rec: vosk.KaldiRecognizer | None = None
        self._blocks_since_partial = 0
        self._grammar: list[str] | None = None
        self._pending_grammar: list[str] | None | bool = False  # False: no change requested
        self._expectation = "speech"
        self._buffer = bytearray()
        self._block_bytes = 0
        self._preroll: deque[bytes] = deque()
        self._preroll_bytes = 0
        self._in_turn = False  # decoding an utterance (VAD start seen, turn not yet finalised)
        self._vad_speaking = False
        self._segments: list[str] = []  # text Vosk finalised on its own inside this utterance
        # Finals started at a VAD stop, not yet delivered: the turn may still go on.
        self._held: list[Future] = []
        # Blocks of the current utterance handed to the Vosk thread, not yet known to be decoded.
        self._blocks: deque[Future] = deque()
        self._last_partial = ""
        self._asr_secs = 0.0  # wall time in the recogniser for the current utterance
        self._asr_cpu = 0.0  # CPU time of the same (wall minus waiting for a core)

    # -- public -----------------------------------------------------------------------------
    @property
    def expectation(self) -> str:
        return self._expectation

    def set_expectation(self, kind: str, phrases: list[str] | None = None) -> None:
        """Constrain the NEXT caller turn to a vocabulary ("yes_no", "digits", or your own
        `phrases`), or open it again ("speech"). Takes effect when the caller next starts
        speaking. Models without a dynamic graph (HCLr.fst + Gr.fst) stay open-vocabulary."""
        self._expectation = kind
        if kind == "speech":
            wanted = None
        else:
            wanted = list(phrases) if phrases else EXPECTATION_PHRASES.get(kind)
            if wanted is not None and "[unk]" not in wanted:
                wanted.append("[unk]")
        path = getattr(self._model, "callbot_path", None)
        if wanted is not None and (path is None or not supports_grammar(path)):
            logger.debug("Vosk model has no dynamic graph: expectation {} stays open vocabulary", kind)
            wanted = None
        if wanted == self._grammar and self._pending_grammar is False:
            return  # the next turn already listens this way
        self._pending_grammar = wanted
        if self._executor is not None and self._pool is not None and wanted is not None:
            # A recogniser for this grammar is built now, while the bot speaks, if the pool has
            # none: not when the caller starts (about 0.1 s their turn would start behind).
            self._executor.submit(self._pool.prepare, wanted)

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        # One thread per call: Vosk releases the GIL, and a single worker keeps calls in order.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vosk")
        self._block_bytes = int(self.sample_rate * BLOCK_SECS) * 2
        self._preroll_bytes = int(self.sample_rate * PREROLL_SECS) * 2
        # No recogniser is held for the whole call: one is leased from the pool when the caller
        # starts a turn and given back once the turn's transcript is final. A caller talks a
        # small part of a call, so a few warm recognisers serve many calls, and none of them
        # starts a turn cold (issue 13: with one per call, most calls at 20 got a cold one and
        # decoded their first question slower than real time).
        self._pool = recognizer_pool(self._model, self.sample_rate)
        if self._busy_model is not None:
            self._busy_pool = recognizer_pool(self._busy_model, self.sample_rate)

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        self._shutdown()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        self._shutdown()

    async def cleanup(self) -> None:
        await super().cleanup()
        self._shutdown()

    def _shutdown(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            # Queued after whatever the thread still has to do (a block, a final): the recogniser
            # goes back to the pool only once nothing of this call uses it.
            executor.submit(self._release_recognizer)
            executor.shutdown(wait=False)

    def _release_recognizer(self) -> None:
        if self._in_turn:
            return  # the caller started a new turn meanwhile: it goes on with this recogniser
        rec, self._rec = self._rec, None
        if rec is not None and self._rec_pool is not None:
            self._rec_pool.give(self._grammar, rec)

    # -- frames -----------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction == FrameDirection.DOWNSTREAM:
            if isinstance(frame, VADUserStartedSpeakingFrame):
                self._vad_speaking = True
                if not self._in_turn:
                    await self._begin_turn()
            elif isinstance(frame, VADUserStoppedSpeakingFrame):
                self._vad_speaking = False
                if self._finalize_frame is UserStoppedSpeakingFrame:
                    self._start_early_final()
            if isinstance(frame, self._finalize_frame):
                # Pushed before the stop frame; but the transcript is a DataFrame and the stop
                # a SystemFrame, so the next processor's queue may still let the stop overtake it.
                await self._finalize()
        await super().process_frame(frame, direction)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        if not self._in_turn:
            self._keep_preroll(audio)
            yield None
            return
        self._buffer.extend(audio)
        if len(self._buffer) < self._block_bytes:
            yield None
            return
        block = bytes(self._buffer)
        self._buffer.clear()
        # Not awaited: the call's single Vosk thread decodes blocks in order while this processor
        # goes on with the next frames. Awaiting each block cost a turn of the event loop per
        # 100 ms of speech; at 20 calls a turn took 50 ms or more, decoding fell behind real time
        # and the caller's end of speech queued behind their audio here for seconds.
        self._blocks.append(self._executor.submit(self._accept, block))
        partial = await self._reap_blocks()
        if partial and partial != self._last_partial:
            self._last_partial = partial
            yield InterimTranscriptionFrame(partial, self._user_id, time_now_iso8601(),
                                            result={"partial": partial})
        else:
            yield None

    async def _reap_blocks(self) -> str:
        """The latest partial text of the blocks decoded so far ("" if none); a failed block
        loses the turn (see `_recover`), never the call."""
        partial = ""
        while self._blocks and self._blocks[0].done():
            future = self._blocks.popleft()
            if future.exception() is not None:
                self._blocks.clear()
                await self._recover(future.exception())
                return ""
            partial = future.result() or partial
        return partial

    def _keep_preroll(self, audio: bytes) -> None:
        self._preroll.append(audio)
        size = sum(len(a) for a in self._preroll)
        while self._preroll and size - len(self._preroll[0]) >= self._preroll_bytes:
            size -= len(self._preroll.popleft())

    async def _begin_turn(self) -> None:
        if self._executor is None:
            return
        preroll = b"".join(self._preroll)
        self._preroll.clear()
        self._in_turn = True
        # Not awaited either (a cold recogniser takes about 75 ms to build): the blocks that follow
        # queue behind it in the call's Vosk thread.
        self._blocks.append(self._executor.submit(self._start_utterance, preroll))

    def _start_early_final(self) -> None:
        """Finish the utterance in the Vosk thread now, without waiting for it (see module doc)."""
        if not self._in_turn or self._executor is None:
            return
        tail = bytes(self._buffer)
        self._buffer.clear()
        self._in_turn = False  # audio from here on is pre-roll for a possible continuation
        future = self._executor.submit(self._final, tail)
        self._held.append(future)
        if self._hint is not None:
            loop = asyncio.get_running_loop()
            future.add_done_callback(lambda f: loop.call_soon_threadsafe(self._offer_words, f))

    def _offer_words(self, future: Future) -> None:
        """Tell the turn strategy what the caller said up to this pause (see speech/turns.py)."""
        if self._hint is None or future.cancelled() or future.exception() is not None:
            return
        held = " ".join(f.result()[0] for f in self._held
                        if f.done() and not f.cancelled() and f.exception() is None)
        if self._transcripts is not None:
            held = self._peek_script(held)  # TEST SEAM, as in _finalize
        self._hint.offer(held)

    def _peek_script(self, default: str) -> str:
        if not self._script_ahead:
            line = next(self._transcripts, None)
            if line is None:
                return default
            self._script_ahead.append(line)
        return self._script_ahead[0]

    def _next_script(self, default: str) -> str:
        if self._script_ahead:
            return self._script_ahead.pop(0)
        return next(self._transcripts, default)

    async def _finalize(self) -> None:
        if self._blocks:  # decoded before the finals below (same thread)
            await asyncio.wait([asyncio.wrap_future(f) for f in self._blocks])
            partial = await self._reap_blocks()
            if partial and partial != self._last_partial:  # known only now: still before the final
                await self.push_frame(InterimTranscriptionFrame(partial, self._user_id, time_now_iso8601(),
                                                                result={"partial": partial}))
        parts, self._held = self._held, []
        if self._in_turn and self._executor is not None:
            tail = bytes(self._buffer)
            self._buffer.clear()
            parts.append(self._executor.submit(self._final, tail))
            # A turn cut by the stop timeout while the caller still talks goes on as a new utterance.
            self._in_turn = self._vad_speaking
        if not self._in_turn and self._executor is not None:
            # Queued behind the finals: the recogniser goes back once they are done.
            self._executor.submit(self._release_recognizer)
        if not parts:
            return
        try:
            results = [await asyncio.wrap_future(f) for f in parts]
        except Exception as e:
            await self._recover(e)
            return
        self._last_partial = ""
        heard = " ".join(r[0] for r in results if r[0])
        asr_secs = sum(r[1] for r in results)
        final_secs = results[-1][2]
        cpu_secs = sum(r[3] for r in results)
        grammar = any(r[4] for r in results)
        narrow = any(r[5] for r in results)
        text = heard
        scripted = False
        if self._transcripts is not None:
            # TEST SEAM: the real recogniser ran on the real audio; the scripted line replaces
            # its text (even when it found no words: the VAD did hear speech).
            text = self._next_script(heard)
            scripted = True
        if not text:
            logger.debug("Vosk: turn ended with no words")
            return
        asr_ms = round(asr_secs * 1000, 1)
        frame = TranscriptionFrame(
            text, self._user_id, time_now_iso8601(), finalized=True,
            result={"asr_ms": asr_ms, "asr_cpu_ms": round(cpu_secs * 1000, 1),
                    "final_ms": round(final_secs * 1000, 1), "heard": heard,
                    "scripted": scripted, "expectation": self._expectation, "grammar": grammar,
                    "utterances": len(results), "search": "fast" if narrow else "model"},
        )
        frame.asr_ms = asr_ms  # type: ignore[attr-defined]  # stored with the caller's turn
        await self.push_frame(frame)

    async def _recover(self, error: Exception) -> None:
        """Log, drop the current utterance and start again with a fresh open recogniser."""
        logger.opt(exception=error).error("Vosk failed; the caller's current turn is lost")
        self._in_turn = False
        self._buffer.clear()
        self._segments.clear()
        self._held.clear()
        if self._rec is not None and self._rec_pool is not None:
            self._rec_pool.discard(self._grammar)  # it just failed: the next turn leases another
        self._rec = None

    # -- recogniser (runs in the call's worker thread) --------------------------------------
    def _start_utterance(self, preroll: bytes) -> None:
        t0, c0 = time.perf_counter(), time.thread_time()
        if self._pending_grammar is not False:
            wanted = self._pending_grammar or None
            self._pending_grammar = False
            if self._rec is not None and wanted != self._grammar:
                self._rec_pool.give(self._grammar, self._rec)
                self._rec = None
            self._grammar = wanted
        if self._rec is None:
            self._rec_pool = self._pool
            if (self._busy_pool is not None and self._grammar is None
                    and self._pool.in_use >= self._busy_turns):
                self._rec_pool = self._busy_pool
            self._rec = self._rec_pool.take(self._grammar)
        self._segments.clear()
        self._asr_secs = self._asr_cpu = 0.0
        if preroll:
            self._rec.AcceptWaveform(preroll)
        self._asr_secs = time.perf_counter() - t0
        self._asr_cpu = time.thread_time() - c0

    def _accept(self, block: bytes) -> str:
        t0, c0 = time.perf_counter(), time.thread_time()
        rec = self._rec
        if rec.AcceptWaveform(block):
            # Vosk endpointed on its own (a pause inside the caller's turn): keep the text.
            text = json.loads(rec.Result()).get("text", "")
            if text:
                self._segments.append(text)
            partial = " ".join(self._segments)
        else:
            self._blocks_since_partial += 1
            if self._blocks_since_partial < PARTIAL_EVERY_BLOCKS:
                partial = ""
            else:
                self._blocks_since_partial = 0
                heard = json.loads(rec.PartialResult()).get("partial", "")
                partial = " ".join([*self._segments, heard]).strip()
        self._asr_secs += time.perf_counter() - t0
        self._asr_cpu += time.thread_time() - c0
        return partial

    def _final(self, tail: bytes) -> tuple[str, float, float, float, bool, bool]:
        """Force the end of the utterance: (text, recogniser secs, final secs, CPU secs, grammar,
        whether the narrower search of CALLBOT_ASR_PROFILE=adaptive decoded it)."""
        t0, c0 = time.perf_counter(), time.thread_time()
        rec = self._rec
        if tail:
            rec.AcceptWaveform(tail)
        text = json.loads(rec.FinalResult()).get("text", "")
        words = " ".join([*self._segments, text]).strip()
        rec.Reset()
        final_secs = time.perf_counter() - t0
        asr_secs = self._asr_secs + final_secs
        cpu_secs = self._asr_cpu + time.thread_time() - c0
        self._segments.clear()
        self._asr_secs = self._asr_cpu = 0.0
        narrow = self._busy_pool is not None and self._rec_pool is self._busy_pool
        return words, asr_secs, final_secs, cpu_secs, self._grammar is not None, narrow
