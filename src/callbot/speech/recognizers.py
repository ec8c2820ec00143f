"""Warm Vosk recognisers, reused from call to call.

A dynamic-graph Vosk model (HCLr.fst + Gr.fst, as the small models are) expands its decoding graph
lazily, and keeps what it expanded inside each recogniser. A new recogniser decodes its first
request at 0.9 to 2.4 times real time, its fourth at 0.1 (Korean test model, 2 cores;
`python bench/bench_speech.py` prints both). With one new recogniser per call, every caller's first question
was answered up to two seconds late. The pool keeps recognisers when their call ends, and warms a
spare in the background (lowest CPU priority), so a call starts with an expanded graph.

A recogniser goes back to the pool only after a forced final, which closes any utterance left
open by a caller who hung up mid-sentence: none of their words reach the next call (tested).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable

import vosk
from loguru import logger

GrammarKey = tuple[str, ...] | None


def _key(grammar: list[str] | None) -> GrammarKey:
    return tuple(grammar) if grammar else None


class RecognizerPool:
    """Recognisers of one model and sample rate, keyed by grammar (None: open vocabulary).

    `take()` and `give()` are thread-safe and quick; building and warming happen outside the lock.
    `warm_audio` returns a few utterances of speech (8 kHz PCM16) to decode through a new
    open-vocabulary recogniser before it is offered: typical requests expand the useful part of
    the graph.
    """

    def __init__(self, model: vosk.Model, sample_rate: int = 8000, *, keep: int = 8,
                 spares: int = 1) -> None:
        self._model = model
        self._rate = sample_rate
        self._keep = keep  # recognisers kept per grammar; more are dropped when their call ends
        self._spares = spares  # warm open-vocabulary recognisers to keep ready for the next call
        self._idle: dict[GrammarKey, list[vosk.KaldiRecognizer]] = {}
        self._lock = threading.Lock()
        self._warm_audio: Callable[[], list[bytes]] | None = None
        self._warming = False
        self.built = 0  # recognisers created (for logs, tests and the bench)
        self.warmed = 0
        self.cold_takes = 0  # times a call got a new, cold recogniser: none was ready

    def set_warm_audio(self, clips: Callable[[], list[bytes]]) -> None:
        self._warm_audio = clips

    def idle(self, grammar: list[str] | None = None) -> int:
        with self._lock:
            return len(self._idle.get(_key(grammar), []))

    def take(self, grammar: list[str] | None = None) -> vosk.KaldiRecognizer:
        key = _key(grammar)
        with self._lock:
            ready = self._idle.get(key)
            rec = ready.pop() if ready else None
            short = key is None and len(self._idle.get(None, [])) < self._spares
            cold = key is None and rec is None
            self.cold_takes += cold
        if short:
            self._warm_in_background()
        if cold:
            logger.info("no warm recogniser ready: this call's first turns decode slower")
        return rec if rec is not None else self._build(grammar)

    def give(self, grammar: list[str] | None, rec: vosk.KaldiRecognizer) -> None:
        """Take a recogniser back. Call it from the thread that used it last, once it is idle."""
        try:
            rec.FinalResult()  # closes an utterance left open: none of it reaches the next call
        except Exception:  # a broken recogniser is dropped, not reused
            logger.exception("Vosk recogniser not reusable; dropped")
            return
        key = _key(grammar)
        with self._lock:
            ready = self._idle.setdefault(key, [])
            if len(ready) < self._keep:
                ready.append(rec)

    def warm(self, count: int = 1) -> None:
        """Build `count` open-vocabulary recognisers, decode the warm-up speech through each, and
        keep them (start-up)."""
        for _ in range(count):
            rec = self._build(None)
            self._decode_warm_audio(rec)
            with self._lock:
                self._idle.setdefault(None, []).append(rec)

    # -- inside ---------------------------------------------------------------------------------
    def _build(self, grammar: list[str] | None) -> vosk.KaldiRecognizer:
        if grammar:
            rec = vosk.KaldiRecognizer(self._model, self._rate, json.dumps(grammar, ensure_ascii=False))
        else:
            rec = vosk.KaldiRecognizer(self._model, self._rate)
        with self._lock:
            self.built += 1
        return rec

    def _decode_warm_audio(self, rec: vosk.KaldiRecognizer) -> None:
        if self._warm_audio is None:
            return
        t0 = time.perf_counter()
        block = self._rate // 10 * 2
        for pcm in self._warm_audio():
            for i in range(0, len(pcm), block):
                rec.AcceptWaveform(pcm[i:i + block])
            rec.FinalResult()
        self.warmed += 1
        logger.debug("Vosk recogniser warmed in {:.2f} s", time.perf_counter() - t0)

    def _warm_in_background(self) -> None:
        with self._lock:
            if self._warming or self._warm_audio is None:
                return
            self._warming = True
        threading.Thread(target=self._warm_spare, name="vosk-warm", daemon=True).start()

    def _warm_spare(self) -> None:
        # Calls in progress come first: Vosk releases the GIL, so this only takes an idle core.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        try:
            while self.idle() < self._spares:
                self.warm(1)
        except Exception:  # a failed warm-up only costs latency later
            logger.exception("could not warm a spare Vosk recogniser")
        finally:
            with self._lock:
                self._warming = False


_pools_lock = threading.Lock()


def recognizer_pool(model: vosk.Model, sample_rate: int = 8000) -> RecognizerPool:
    """The process's pool for this model (one model per process, so one pool)."""
    with _pools_lock:
        pools: dict[int, RecognizerPool] = model.__dict__.setdefault("callbot_pools", {})
        if sample_rate not in pools:
            pools[sample_rate] = RecognizerPool(model, sample_rate)
        return pools[sample_rate]
