"""The learnt models' cache in var/nlu/ (topic model, emergency classifier): read, or write atomically.

A broken or foreign cache file is rebuilt, never fatal; a cache that cannot be written only means
the model is built again at the next start.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from loguru import logger

T = TypeVar("T")


def read_cached(path: Path, kind: type[T], what: str) -> T | None:
    """The model cached at `path` if it is there and of `kind`."""
    import joblib

    if not path.is_file():
        return None
    try:
        model = joblib.load(path)
    except Exception as e:  # noqa: BLE001 - a broken cache file is rebuilt, not fatal
        logger.warning("{} cache {} unreadable ({}): rebuilding", what, path, e)
        return None
    return model if isinstance(model, kind) else None


def write_cached(path: Path, model: object, what: str) -> None:
    """Keep `model` at `path` (written beside it, then renamed: readers never see half a file)."""
    import joblib

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        joblib.dump(model, tmp)
        tmp.replace(path)
    except OSError as e:
        logger.warning("{} not cached ({}): it will be rebuilt next start", what, e)


def cached_or_built(path: Path, kind: type[T], what: str, build: Callable[[], T] | None) -> T | None:
    """The model cached at `path`; else, when `build` is given, the one it builds (logged, then
    cached before anything reads it: no remembered utterance goes in); else None."""
    cached = read_cached(path, kind, what)
    if cached is not None or build is None:
        return cached
    model = build()
    logger.info("{} built from {} rows in {:.1f} s", what, getattr(model, "rows", "?"),
                getattr(model, "build_secs", 0.0))
    write_cached(path, model, what)
    return model
