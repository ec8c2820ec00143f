"""Call records outlive the database: a locked SQLite file, then a server killed mid-call.

The server process is real (a child Python running the recorder with the journal, killed with
SIGKILL); the fault is real (another connection holds SQLite's write lock). Nothing is lost: once
the database is free, the next process replays the journal and marks the dead call `interrupted`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from callbot.store.calls import CallRecorder, interrupt_orphaned_calls
from callbot.store.db import Database
from callbot.store.handoffs import get_handoff
from callbot.store.journal import Journal
from callbot.store.journal_ops import apply
from callbot.store.models import Call, Callback
from callbot.vocabulary import Outcome

REPO = Path(__file__).resolve().parents[2]

# A process that records a call (a turn, a callback request) while the database is locked, says
# so, and waits to be killed: its writes can only be in the journal.
CHILD = textwrap.dedent("""
    import asyncio, sys, time
    from callbot.store.calls import CallRecorder
    from callbot.store.db import Database
    from callbot.store.journal import Journal

    db = Database(sys.argv[1])
    db.journal = Journal(db, __import__("pathlib").Path(sys.argv[2]))
    db.journal.start()

    async def call():
        rec = CallRecorder(db, "CAkilled")
        await rec.open(stream_sid="MZk", caller="+33611112222", called="+331", secret=b"k")
        await rec.turn("caller", "je voudrais être rappelé", intent="agent", action="transfer")
        await rec.add_callback("0611112222", "état civil", "etat_civil")
        await rec.turn("bot", "C'est noté.", action="callback")

    asyncio.run(call())
    print("recorded", db.journal.backlog, flush=True)
    time.sleep(60)
""")


def locked(path: Path) -> sqlite3.Connection:
    """Another connection holding SQLite's write lock (as a long maintenance job would)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_a_killed_process_loses_nothing_and_its_call_is_marked_interrupted(tmp_path) -> None:
    path = tmp_path / "calls.db"
    url = f"sqlite:///{path}"
    Database(url).migrate()
    journal_dir = tmp_path / "journal"
    lock = locked(path)
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, str(journal_dir)], stdout=subprocess.PIPE,
                             text=True, env=env)
    try:
        line = child.stdout.readline()
        assert line.startswith("recorded"), line
        assert int(line.split()[1]) >= 4  # nothing reached the database
    finally:
        child.kill()
        child.wait()
    lock.rollback()
    lock.close()
    assert list(journal_dir.glob("*.jsonl"))  # the dead process's journal is on disk

    started = datetime.now(UTC)
    db = Database(url)
    journal = Journal(db, journal_dir)
    journal.start()
    deadline = time.monotonic() + 10
    while journal.backlog and time.monotonic() < deadline:
        time.sleep(0.05)
    assert journal.backlog == 0
    assert interrupt_orphaned_calls(db, journal.live_workers(), started) == ["CAkilled"]
    journal.close()
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == "CAkilled"))
        assert call.outcome == Outcome.INTERRUPTED
        assert [(t.speaker, t.text) for t in call.turns] == [("caller", "je voudrais être rappelé"),
                                                             ("bot", "C'est noté.")]
        assert call.caller_masked and "611112222" not in call.caller_masked
        callbacks = s.scalars(select(Callback).where(Callback.call_id == call.id)).all()
        assert [(c.number, c.reason) for c in callbacks] == [("+33611112222", "état civil")]  # E.164
    assert not list(journal_dir.glob("*.jsonl"))  # all applied: nothing left to replay
    assert get_handoff(db, "CAkilled").outcome_label.startswith("interrompu")  # as the console shows it


def test_replaying_the_same_journal_twice_writes_each_record_once(tmp_path) -> None:
    path = tmp_path / "calls.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.journal = Journal(db, tmp_path / "journal")
    lock = locked(path)
    db.journal.start()

    async def call() -> None:
        rec = CallRecorder(db, "CAtwice")
        await rec.open(stream_sid="MZ", caller="+33600000001", called="+331", secret=b"k")
        n = await rec.turn("caller", "bonjour")
        await rec.set_turn_latency(n, 640.0)
        await rec.event("no_input", {"after_secs": 8})
        await rec.add_callback("0600000001", None, None)
        await rec.finish(Outcome.CALLBACK)
        await rec.finish(Outcome.ABANDONED)  # the socket closing afterwards changes nothing

    asyncio.run(call())
    written = [json.loads(line) for line in db.journal.path.read_text().splitlines()]
    assert len(written) == 7
    lock.rollback()
    lock.close()
    db.journal.close()  # applies what is waiting, then empties the file
    assert not db.journal.path.exists()

    def record() -> tuple:
        with db.session() as s:
            call = s.scalar(select(Call).where(Call.call_sid == "CAtwice"))
            return (call.outcome, [(t.seq, t.text, t.response_ms) for t in call.turns],
                    sorted(e.kind for e in call.events), len(s.scalars(select(Callback)).all()))

    before = record()
    assert before == (Outcome.CALLBACK, [(1, "bonjour", 640.0)], ["call.end", "no_input", "stream.start"], 1)
    # The same ops once more (a crash between the commit and the file's truncation): no duplicate.
    with db.session() as s:
        for op in written:
            apply(s, op)
    assert record() == before
