"""PostgreSQL stopped mid-call, then back: the call's records wait in the journal, then arrive.

The server reaches the local PostgreSQL through a TCP relay the test can cut (every connection
dropped, the port refusing new ones) and restore: from the server's side, exactly a database
that went away and came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import uuid

import psycopg
import pytest
from sqlalchemy import select

from callbot.store.calls import CallRecorder
from callbot.store.db import Database
from callbot.store.journal import Journal
from callbot.store.models import Call, Callback
from callbot.telephony.after_stream import after_stream_decision
from callbot.vocabulary import Outcome, TransferReason

pytestmark = pytest.mark.postgres
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


class Relay:
    """127.0.0.1:<port> → 127.0.0.1:5432, until cut."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._server: socket.socket | None = None

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen()
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            server.close()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()
        self._conns.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", 5432))
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@pytest.fixture()
def pg_name():
    name = f"callbot_outage_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_a_call_while_postgresql_is_down_is_recorded_once_it_is_back(pg_name, tmp_path) -> None:
    relay = Relay()
    relay.up()
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:{relay.port}/{pg_name}?connect_timeout=2")
    db.migrate()
    db.journal = Journal(db, tmp_path / "journal")
    db.journal.start()
    relay.down()  # PostgreSQL "stops" with the call about to start

    async def call() -> tuple[str, str | None]:
        rec = CallRecorder(db, "CApgdown")
        t0 = time.monotonic()
        await rec.open(stream_sid="MZ", caller="+33600000002", called="+331", secret=b"k")
        await rec.turn("caller", "je voudrais parler à quelqu'un", intent="agent", action="transfer")
        await rec.turn("bot", "Je vous passe un agent.", action="transfer")
        await rec.finish(Outcome.TRANSFERRED, transfer_kind="queue", transfer_target="accueil",
                         transfer_reason=TransferReason.ASKED_AGENT)
        assert time.monotonic() - t0 < 3  # the dialog never waited on the database
        return await after_stream_decision(db, "CApgdown", "accueil")

    assert asyncio.run(call()) == ("queue", "accueil")  # from memory: the database cannot say
    assert db.journal.backlog > 0 and not db.journal.healthy
    relay.up()  # PostgreSQL is back
    deadline = time.monotonic() + 20
    while db.journal.backlog and time.monotonic() < deadline:
        time.sleep(0.1)
    assert db.journal.backlog == 0
    db.journal.close()
    with db.session() as s:
        row = s.scalar(select(Call).where(Call.call_sid == "CApgdown"))
        assert row.outcome == Outcome.TRANSFERRED and row.queued_at is not None
        assert [t.speaker for t in row.turns] == ["caller", "bot"]
        assert not s.scalars(select(Callback)).all()
    relay.down()
    db.engine.dispose()
