"""Errors the speech layer raises with a message an operator can act on."""

from __future__ import annotations

from pathlib import Path

DOWNLOAD_HINT = "run `callbot models download` (or set CALLBOT_ASR_MODEL / CALLBOT_TTS_VOICE)"


class SpeechError(RuntimeError):
    """Base class for speech-layer failures."""


class ModelMissingError(SpeechError):
    """A speech model directory or file is missing or incomplete."""

    def __init__(self, what: str, path: Path, detail: str = "") -> None:
        self.path = Path(path)
        message = f"{what} not found or incomplete at {self.path}"
        if detail:
            message += f" ({detail})"
        super().__init__(f"{message}: {DOWNLOAD_HINT}")


class DownloadError(SpeechError):
    """A model download failed (host unreachable, HTTP error, checksum mismatch)."""
