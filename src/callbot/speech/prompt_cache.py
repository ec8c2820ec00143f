"""Disk cache of synthesised fixed prompts, stored as 8 kHz mu-law (what Twilio plays).

The key covers everything that changes the audio: the text, the voice file, the phonemizer
language and the synthesis settings. Writes are atomic (temporary file + rename), so several
server processes can warm the same directory.

Two kinds of entries:
- fixed prompts and static answers, synthesised at start (`warm`), kept for good;
- texts learned while speaking (`learn`): built from flow content at the moment of the call (a
  clarification between two intents, today's opening hours), so not known in advance. They live
  in `learned/`, are touched when used and pruned after `LEARNED_MAX_AGE_DAYS` without use.
  Texts carrying a caller's data are never learned (see dialog.types.Prompt.private).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from loguru import logger

from callbot.speech.piper_tts import PiperVoiceEngine

SUFFIX = ".ulaw"
LEARNED = "learned"
LEARNED_MAX_AGE_DAYS = 14
PRUNE_EVERY_LEARNED = 200


class PromptCache:
    def __init__(self, directory: Path, engine: PiperVoiceEngine) -> None:
        self.directory = Path(directory)
        self.engine = engine
        self.directory.mkdir(parents=True, exist_ok=True)
        self._learned = 0

    def key(self, text: str) -> str:
        e = self.engine
        material = json.dumps({
            "text": text, "voice": e.identity, "language": e.language,
            "settings": dataclasses.asdict(e.settings), "rate": 8000, "format": "ulaw",
        }, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(material.encode()).hexdigest()

    def path(self, text: str) -> Path:
        return self.directory / f"{self.key(text)}{SUFFIX}"

    def learned_path(self, text: str) -> Path:
        return self.directory / LEARNED / f"{self.key(text)}{SUFFIX}"

    def get(self, text: str) -> bytes | None:
        """The cached audio, or None (a missing or unreadable file is a miss, never an error)."""
        key = self.key(text)
        try:
            data = (self.directory / f"{key}{SUFFIX}").read_bytes()
        except OSError:
            learned = self.directory / LEARNED / f"{key}{SUFFIX}"
            try:
                data = learned.read_bytes()
                os.utime(learned)  # still in use: pruning goes by last use
            except OSError:
                return None
        return data or None

    def learn(self, text: str, audio: bytes) -> None:
        """Keep audio synthesised during a call for the next caller who hears the same text."""
        if not audio:
            return
        path = self.learned_path(text)
        try:
            path.parent.mkdir(exist_ok=True)
            self._write(path, audio)
        except OSError as e:  # a full disk costs latency later, never the call
            logger.warning("prompt cache: could not keep {}: {}", path.name, e)
        self._learned += 1
        if self._learned % PRUNE_EVERY_LEARNED == 0:  # a server may run for months without restart
            self.prune_learned()

    def prune_learned(self, max_age_days: float = LEARNED_MAX_AGE_DAYS) -> int:
        """Delete learned entries unused for `max_age_days`; returns how many went."""
        cutoff = time.time() - max_age_days * 86400
        removed = 0
        for path in (self.directory / LEARNED).glob(f"*{SUFFIX}"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        return removed

    def get_or_synthesize(self, text: str) -> bytes:
        cached = self.get(text)
        if cached is not None:
            return cached
        audio = self.engine.synthesize_ulaw8k(text)
        self._write(self.path(text), audio)
        return audio

    def warm(self, texts: Iterable[str]) -> dict[str, int]:
        """Synthesise every prompt not yet on disk. Returns counts {"cached", "synthesised"}."""
        counts = {"cached": 0, "synthesised": 0}
        t0 = time.perf_counter()
        for text in dict.fromkeys(t for t in texts if t and t.strip()):
            if self.path(text).is_file():
                counts["cached"] += 1
                continue
            self.get_or_synthesize(text)
            counts["synthesised"] += 1
        logger.info("prompt cache: {} already cached, {} synthesised in {:.1f} s", counts["cached"],
                    counts["synthesised"], time.perf_counter() - t0)
        return counts

    def _write(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=SUFFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
