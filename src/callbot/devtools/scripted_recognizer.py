"""Test seam: scripted transcripts that replace what the recogniser heard.

The real recogniser still decodes the real audio (CPU, timing and endpointing stay real); only the
TEXT of each finalised utterance is replaced by the next scripted line. This is how tests make a
Korean model "hear" French. Never set it in production (CALLBOT_ASR_SCRIPT).
"""

from __future__ import annotations

import json
from pathlib import Path

from callbot.devtools.documents import read_document


def load_transcript_script(path: Path) -> dict[str, list[str]]:
    """Read a JSON file mapping caller number → list of utterances, in the order they are said."""
    data = read_document(path, json.loads, json.JSONDecodeError, ValueError,
                         unreadable="transcript script {path} cannot be read ({reason})",
                         invalid="transcript script {path} is not valid JSON: {reason}")
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(s, str) for s in v)
        for k, v in data.items()
    ):
        raise ValueError(f"transcript script {path} must map caller numbers to lists of strings")
    return {k: list(v) for k, v in data.items()}
