"""A durable local journal in front of the database: calls outlive a database outage.

Every write of a call (journal_ops.py) is appended to a local file and fsynced before the call
goes on; a background thread applies the ops to the database in order and empties the file once
everything is applied. While the database is locked or unreachable the ops wait in the file (and
in memory), and the thread retries until it is back: no call, turn, transfer or callback request
is lost, and the dialog never waits on the database.

Each server process has its own file (`<db key>.<worker>.jsonl`), held under an exclusive lock
for the life of the process. At start-up a process adopts the files no live process holds (a
crash, a SIGKILL) and replays them; a replay is harmless because every op is idempotent.
The file holds callers' words and callback numbers: it is created mode 600 under var/.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger
from sqlalchemy.exc import DBAPIError, OperationalError

from callbot.store.journal_ops import Op, apply

if TYPE_CHECKING:
    from callbot.store.db import Database

BATCH = 200  # ops applied per transaction when catching up
RETRY_SECS = 1.0  # between attempts while the database is away


def db_key(url: str) -> str:
    """Files of one database only: several databases (tests, tenants) may share a directory."""
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def _is_outage(e: Exception) -> bool:
    """Locked, unreachable, restarting: wait and retry. Anything else is a bad op."""
    return isinstance(e, OperationalError) or (isinstance(e, DBAPIError) and e.connection_invalidated)


class Journal:
    """The process's journal for one database.

    Args:
        db: the database the ops end up in.
        directory: where the journal files live (created, mode 700).
    """

    def __init__(self, db: Database, directory: Path) -> None:
        self.db = db
        self.directory = directory
        self.worker = f"{os.getpid()}-{secrets.token_hex(3)}"
        self._key = db_key(db.url)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / f"{self._key}.{self.worker}.jsonl"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "ab")
        fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._lock = threading.Lock()  # appends and the file's truncation
        self._wake = threading.Condition(self._lock)
        self._pending: list[tuple[int, Op]] = []
        self._seq = 0
        self._applied = 0
        self._stop = False
        self.healthy = True  # the last attempt reached the database
        self.rejected = 0
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def wait_closed(self, timeout: float) -> bool:
        return self._closed.wait(timeout)

    # -- writing ----------------------------------------------------------------------------
    def append(self, op: Op) -> int:
        """Make the op durable (fsync) and queue it for the database; returns its sequence number."""
        line = json.dumps(op, ensure_ascii=False, separators=(",", ":"), default=str).encode() + b"\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._seq += 1
            self._pending.append((self._seq, op))
            self._wake.notify()
            return self._seq

    async def submit(self, op: Op) -> int:
        return await asyncio.to_thread(self.append, op)

    def applied(self, seq: int) -> bool:
        return self._applied >= seq

    async def wait_applied(self, seq: int, timeout: float) -> bool:
        """Wait (a little) until the op reached the database; False if it is still in the journal."""
        deadline = time.monotonic() + timeout
        while not self.applied(seq):
            if time.monotonic() >= deadline or not self.healthy:  # known down: do not make the call wait
                return False
            await asyncio.sleep(0.02)
        return True

    @property
    def backlog(self) -> int:
        return len(self._pending)

    # -- start-up and shutdown --------------------------------------------------------------
    def start(self) -> None:
        """Adopt what dead processes left, then apply in the background."""
        self.adopt_orphans()
        self._thread = threading.Thread(target=self._run, name="callbot-journal", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop after applying what can be applied within `timeout`; the rest stays on disk."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.02)
        self._closed.set()
        with self._lock:
            self._stop = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=max(0.1, deadline - time.monotonic()) + 6)
        with self._lock:
            empty = not self._pending
            self._file.close()
        if empty:
            self.path.unlink(missing_ok=True)
        else:
            logger.warning("journal: {} writes kept in {} for the next start", len(self._pending), self.path)

    def live_workers(self) -> set[str]:
        """Workers whose journal file is locked by a running process (this one included)."""
        live = {self.worker}
        for path in self.directory.glob(f"{self._key}.*.jsonl"):
            worker = path.name.split(".")[1]
            if worker == self.worker:
                continue
            try:
                with open(path, "rb") as f:
                    fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                live.add(worker)
            except OSError:
                continue
        return live

    def adopt_orphans(self) -> int:
        """Move the ops of files no live process holds into this journal; returns how many."""
        adopted = 0
        for path in sorted(self.directory.glob(f"{self._key}.*.jsonl")):
            if path == self.path:
                continue
            try:
                f = open(path, "rb")  # noqa: SIM115 (held locked while moved)
            except OSError:
                continue
            with f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live process's journal
                for op in _read_ops(f.read(), path):
                    self.append(op)
                    adopted += 1
                path.unlink(missing_ok=True)
        if adopted:
            logger.warning("journal: replaying {} writes left by a stopped process", adopted)
        return adopted

    # -- applying ---------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._stop:
                    self._wake.wait()
                if self._stop and (not self._pending or not self.healthy):
                    return
                batch = self._pending[:BATCH]
            if self._apply(batch):
                with self._lock:
                    del self._pending[:len(batch)]
                    self._applied = batch[-1][0]
                    if not self._pending:
                        # Everything is in the database: the file starts afresh.
                        self._file.truncate(0)
                        os.fsync(self._file.fileno())
            elif not self._stop:
                time.sleep(RETRY_SECS)

    def _apply(self, batch: list[tuple[int, Op]]) -> bool:
        """Apply a batch in one transaction; a bad op alone is set aside. False: database away."""
        try:
            with self.db.session() as s:
                for _, op in batch:
                    apply(s, op)
        except Exception as e:  # noqa: BLE001 (any failure must keep the ops)
            if _is_outage(e):
                if self.healthy:
                    logger.error("database unavailable ({}): call records kept in the journal {}",
                                 type(e.orig if isinstance(e, DBAPIError) else e).__name__, self.path)
                self.healthy = False
                return False
            if len(batch) > 1:
                return all(self._apply([item]) for item in batch)
            self._reject(batch[0][1], e)
            return True
        if not self.healthy:
            logger.warning("database back: journal replay resumed ({} writes waiting)", len(self._pending))
        self.healthy = True
        return True

    def _reject(self, op: Op, error: Exception) -> None:
        """An op the database refuses for good (not an outage): kept aside for a person, never dropped."""
        self.rejected += 1
        logger.error("journal: op {} refused by the database ({}): kept in {}.rejected", op.get("op"),
                     type(error).__name__, self.path)
        fd = os.open(self.path.with_suffix(".rejected"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as f:
            f.write(json.dumps(op, ensure_ascii=False, default=str).encode() + b"\n")


def _read_ops(data: bytes, path: Path) -> list[Op]:
    ops: list[Op] = []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            op = json.loads(line)
        except ValueError:
            # Only the last line can be torn (a crash mid-write, before its fsync returned).
            logger.warning("journal {}: line {} unreadable, skipped", path.name, n)
            continue
        if isinstance(op, dict):
            ops.append(op)
    return ops
