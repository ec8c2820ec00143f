"""The small data files the dev tools read (a transcript script, a simulated call's steps)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def read_document(path: Path, parse: Callable[[str], Any], parse_errors: type[Exception],
                  error: type[ValueError], *, unreadable: str, invalid: str) -> Any:  # noqa: ANN401
    """`parse` the UTF-8 text of `path`. A file that cannot be read, or whose text `parse` rejects
    (`parse_errors`), raises `error` with the message `unreadable` or `invalid`, formatted with
    `{path}` and `{reason}`: a clear sentence for the person who wrote the file, no traceback."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise error(unreadable.format(path=path, reason=e)) from None
    try:
        return parse(text)
    except parse_errors as e:
        raise error(invalid.format(path=path, reason=e)) from None
