"""Disk cache of synthesised fixed prompts, stored as 8 kHz mu-law (what Twilio plays).

The key covers everything that changes the audio: the text, the voice file, the phonemizer
language and the synthesis settings. Writes are atomic (temporary file + rename), so several
server processes can warm the same directory.
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


class PromptCache:
    def __init__(self, directory: Path, engine: PiperVoiceEngine) -> None:
        self.directory = Path(directory)
        self.engine = engine
        self.directory.mkdir(parents=True, exist_ok=True)

    def key(self, text: str) -> str:
        e = self.engine
        material = json.dumps({
            "text": text, "voice": e.identity, "language": e.language,
            "settings": dataclasses.asdict(e.settings), "rate": 8000, "format": "ulaw",
        }, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(material.encode()).hexdigest()

    def path(self, text: str) -> Path:
        return self.directory / f"{self.key(text)}{SUFFIX}"

    def get(self, text: str) -> bytes | None:
        """The cached audio, or None (a missing or unreadable file is a miss, never an error)."""
        try:
            data = self.path(text).read_bytes()
        except OSError:
            return None
        return data or None

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
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=SUFFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
