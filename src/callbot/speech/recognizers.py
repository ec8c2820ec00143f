"""Warm Vosk recognisers, leased to calls one caller turn at a time.

A dynamic-graph Vosk model (HCLr.fst + Gr.fst, as the small models are) expands its decoding graph
lazily, and keeps what it expanded inside each recogniser. A new recogniser decodes its first
request at 0.9 to 2.4 times real time, its fourth at 0.1 (Korean test model, 2 cores;
`python bench/bench_speech.py` prints both). So recognisers are kept and reused, and a spare is
warmed in the background (lowest CPU priority).

Leased per turn, not per call (speech/vosk_stt.py): a call takes a recogniser when its caller
starts talking and gives it back once the turn's transcript is final. Callers talk a small part of
a call, so at 20 calls a handful of recognisers serve them all, all warm; held for whole calls,
20 were needed, the warmer could not keep up on a busy server, and most calls decoded their first
question cold (bench/bench_load.py). It also bounds memory by the turns in progress, not the calls.

A recogniser goes back to the pool only after a forced final, which closes any utterance left
open by a caller who hung up mid-sentence: none of their words reach the next turn (tested).

Sized for a burst: `spares` open-vocabulary recognisers are kept warm in all (idle or in a turn,
CALLBOT_ASR_READY_RECOGNIZERS), so that many callers who start talking in the same second each
get a warm one; measured with 12 callers stopping together (bench/bench_load.py --mode burst):
responses p95 8.0 s with 2 warm at start-up, 3.2 s with 12. Beyond that, the background warmer
keeps as many idle spares as turns were in progress at once in the last `ARRIVAL_WINDOW_SECS`
(at most `keep`).

Memory: the expanded graph IS the warmth, and it is big. A warm Korean-model recogniser holds
about 60 MB, and it keeps growing with what it decodes (190 MB after 60 utterances, then flat).
So a recogniser retires after `RETIRE_AFTER_USES` turns (a new one is warmed), and at most `keep`
idle ones stay per grammar: the others are freed (runtime.MemoryTrimmer hands the memory back to
the system). Warming costs about as much CPU as a few turns' decoding: idle recognisers are not
dropped just because fewer calls arrive for a moment.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable

import vosk
from loguru import logger

GrammarKey = tuple[str, ...] | None
# The background warmer only takes CPU nobody else wants (niceness 19). Warming a recogniser
# decodes a few sentences cold: on an idle core it takes the cold start off a call's critical path,
# but on a saturated server it is extra work. Measured (bench_load.py, 6 calls, shared machine):
# warming at niceness 5 made responses 1.8 times later; py-spy had the warmer at 30 % of samples.
# (Lowering the calls' own decoding below the event loop was tried too: responses 2.7 times later
# in a burst of 6, and no fewer gaps in bot speech.)
WARM_NICENESS = 19


def warm_at_lower_priority() -> None:
    """Set the calling thread's CPU priority to WARM_NICENESS (Linux: per thread)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WARM_NICENESS)


# The most turns in progress at once within this window are the expected next wave: as many spares.
ARRIVAL_WINDOW_SECS = 60.0
# A recogniser serves this many turns, then is freed (a new one is warmed): bounds its graph cache.
# Measured on the Korean model with French speech: 60 MB when warm, about 125 MB after 10 turns,
# 185 MB after 20, 290 MB after 80 (malloc_trim gives none of it back; freeing the recogniser does).
# 500 calls, 8 at a time (bench_load.py --mode soak): retiring after 30 turns, RSS after 500 calls
# was 371 MB above the figure after 20 (peaks +530 MB); after 10 turns, +54 MB (peaks +270 MB),
# and 20 calls arriving one a second still met every latency target.
RETIRE_AFTER_USES = 10


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
                 spares: int = 1, retire_after: int = RETIRE_AFTER_USES,
                 arrival_window: float = ARRIVAL_WINDOW_SECS) -> None:
        self._model = model
        self._rate = sample_rate
        self._keep = keep  # recognisers kept per grammar; more are dropped when their call ends
        self._spares = spares  # warm open-vocabulary recognisers to keep ready for the next call
        self._idle: dict[GrammarKey, list[vosk.KaldiRecognizer]] = {}
        self._lock = threading.Lock()
        self._warm_audio: Callable[[], list[bytes]] | None = None
        self._warming = False
        # When open-vocabulary recognisers were taken, and how many were then in use.
        self._arrivals: deque[tuple[float, int]] = deque()
        self._open_in_use = 0
        self.in_use = 0  # recognisers taken and not given back (caller turns in progress)
        self._retire_after = retire_after
        self._arrival_window = arrival_window
        self._uses: dict[int, int] = {}  # id(recogniser) → turns it served
        self.retired = 0  # recognisers freed after RETIRE_AFTER_USES turns or beyond `keep`
        self.built = 0  # recognisers created (for logs, tests and the bench)
        self.warmed = 0
        self.cold_takes = 0  # times a turn got a new, cold recogniser: none was ready

    def set_warm_audio(self, clips: Callable[[], list[bytes]]) -> None:
        self._warm_audio = clips

    def set_spares(self, spares: int) -> None:
        """Keep this many warm open-vocabulary recognisers in all, idle or in a caller's turn
        (the rest are warmed in the background, one at a time)."""
        self._spares = spares
        self._keep = max(self._keep, spares)
        self._warm_in_background()

    def wanted_spares(self) -> int:
        """Idle spares to keep ready now: what `spares` asks beyond the turns in progress (at
        least one), or as many as turns were in progress at once lately (the next wave may be as
        big, at most `keep`). Counting every turn taken instead made a test suite of short calls
        warm recogniser after recogniser (6.7 GB, twice as slow)."""
        now = time.monotonic()
        with self._lock:
            while self._arrivals and self._arrivals[0][0] < now - self._arrival_window:
                self._arrivals.popleft()
            peak = max((n for _, n in self._arrivals), default=0)
            ready = max(self._spares - self._open_in_use, min(self._spares, 1))
            return max(ready, min(self._keep, peak))

    @property
    def warming(self) -> bool:
        """Whether the background warmer is building spares now."""
        return self._warming

    def idle(self, grammar: list[str] | None = None) -> int:
        with self._lock:
            return len(self._idle.get(_key(grammar), []))

    def take(self, grammar: list[str] | None = None) -> vosk.KaldiRecognizer:
        key = _key(grammar)
        with self._lock:
            ready = self._idle.get(key)
            rec = ready.pop() if ready else None
            cold = key is None and rec is None
            self.cold_takes += cold
            self.in_use += 1
            if key is None:
                self._arrivals.append((time.monotonic(), self._open_in_use + 1))
                self._open_in_use += 1
        if key is None and self.idle() < self.wanted_spares():
            self._warm_in_background()
        if cold:
            logger.info("no warm recogniser ready: this caller's turn decodes slower")
        return rec if rec is not None else self._build(grammar)

    def prepare(self, grammar: list[str] | None) -> None:
        """Build an idle recogniser for `grammar` now if none is ready (the bot is speaking: the
        caller's turn will not wait for it)."""
        if self.idle(grammar) > 0:
            return
        rec = self._build(grammar)
        with self._lock:
            self._idle.setdefault(_key(grammar), []).append(rec)

    def discard(self, grammar: list[str] | None = None) -> None:
        """A recogniser taken from the pool failed and will not come back."""
        with self._lock:
            self.in_use -= 1
            if grammar is None:
                self._open_in_use = max(0, self._open_in_use - 1)

    def give(self, grammar: list[str] | None, rec: vosk.KaldiRecognizer) -> None:
        """Take a recogniser back. Call it from the thread that used it last, once it is idle."""
        with self._lock:
            self.in_use -= 1
            if grammar is None:
                self._open_in_use = max(0, self._open_in_use - 1)
        try:
            rec.FinalResult()  # closes an utterance left open: none of it reaches the next call
        except Exception:  # a broken recogniser is dropped, not reused
            logger.exception("Vosk recogniser not reusable; dropped")
            return
        key = _key(grammar)
        with self._lock:
            uses = self._uses.get(id(rec), 0) + 1
            ready = self._idle.setdefault(key, [])
            if uses < self._retire_after and len(ready) < self._keep:
                self._uses[id(rec)] = uses
                ready.append(rec)
                return
            self._uses.pop(id(rec), None)
            self.retired += 1
        if key is None and self.idle() < self.wanted_spares():
            self._warm_in_background()

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
        warm_at_lower_priority()
        try:
            while self.idle() < self.wanted_spares():
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
