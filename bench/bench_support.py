"""What the database benchmarks share: a throw-away database per backend and a timed page."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def fresh_database(backend: str, tmp: Path, prefix: str) -> tuple[str, Callable[[], None]]:
    """A new empty SQLite file or PostgreSQL database: its SQLAlchemy URL and how to drop it."""
    if backend == "sqlite":
        path = tmp / f"{prefix}-{uuid.uuid4().hex[:6]}.db"
        return f"sqlite:///{path}", lambda: [p.unlink(missing_ok=True) for p in tmp.glob(path.name + "*")]
    name = f"callbot_{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop


def timed_get(client: Any, path: str) -> float:  # noqa: ANN401 - httpx.Client or TestClient
    """Milliseconds for one GET; anything but 200 stops the benchmark."""
    t0 = time.perf_counter()
    response = client.get(path)
    ms = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {response.status_code}")
    return ms
