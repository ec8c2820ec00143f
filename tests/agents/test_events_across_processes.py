"""Live events: a change made through one server process reaches the console open on another.

Two real server processes share a database; the event channel is PostgreSQL LISTEN/NOTIFY or
Redis pub/sub. The telephony side is driven as Twilio would (POST /twilio/after-stream)."""

from __future__ import annotations

import asyncio
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from callbot.config import Settings
from callbot.store.bus import create_bus
from callbot.store.db import Database
from tests.agents.conftest import (
    AGENT,
    add_accounts,
    csrf_from,
    make_settings,
    serve_in_thread,
    transferred_call,
)
from tests.conftest import REPO, free_port

PG_ADMIN = "postgresql://postgres@127.0.0.1/test"
SERVER = ("import sys, uvicorn; from callbot.app import create_app; from callbot.config import Settings; "
          "uvicorn.run(create_app(Settings(), speech=False), host='127.0.0.1', port=int(sys.argv[1]), "
          "log_level='warning', timeout_graceful_shutdown=1)")


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test only."""
    import psycopg

    name = f"callbot_agents_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield f"postgresql+psycopg://postgres@127.0.0.1/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def spawn_server(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=cwd, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, f"http://127.0.0.1:{port}"


def wait_healthy(proc: subprocess.Popen, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not become healthy")


def read_sse(client: httpx.Client, url: str, events: queue.Queue, stop: threading.Event) -> None:
    """Collect (event, data) pairs from a Server-Sent Events stream into `events`."""
    try:
        with client.stream("GET", url, headers={"Accept": "text/event-stream"}, timeout=None) as response:
            events.put(("status", str(response.status_code)))
            name, data = "message", []
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif line == "":
                    if data:
                        events.put((name, "\n".join(data)))
                    name, data = "message", []
    except httpx.TransportError:
        if not stop.is_set():
            events.put(("closed", ""))


def wait_for(events: queue.Queue, predicate, timeout: float) -> tuple[str, str]:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            item = events.get(timeout=max(0.05, deadline - time.monotonic()))
        except queue.Empty:
            break
        if predicate(item):
            return item
    raise AssertionError("the expected live event did not arrive")


def console_sees_what_the_other_server_does(db: Database, url_a: str, url_b: str) -> None:
    """An agent's live console on server A; Twilio talks to server B."""
    stop = threading.Event()
    try:
        add_accounts(db)
        sid = f"CA{uuid.uuid4().hex[:12]}"
        transferred_call(db, sid, summary="Demande de livret de famille", topic="etat_civil",
                         queued_secs_ago=None)
        console = httpx.Client(base_url=url_a)
        page = console.get("/login")
        form = {"username": AGENT[0], "password": AGENT[1], "csrf_token": csrf_from(page.text)}
        console.post("/login", data=form)
        events: queue.Queue = queue.Queue()
        reader = threading.Thread(target=read_sse, args=(console, url_a + "/agents/events", events, stop),
                                  daemon=True)
        reader.start()
        assert wait_for(events, lambda e: e[0] == "status", 10) == ("status", "200")
        initial = wait_for(events, lambda e: e[0] == "waiting", 10)
        assert "Demande de livret de famille" not in initial[1]  # not queued yet

        # Twilio asks the *other* process what to do once the bot is done: the call joins the queue.
        after = httpx.post(url_b + "/twilio/after-stream", data={"CallSid": sid})
        assert "<Enqueue" in after.text
        live = wait_for(events, lambda e: e[0] == "waiting" and sid in e[1], 10)
        assert "Demande de livret de famille" in live[1]

        # And the whisper on process B (the agent picked up) empties the list on process A.
        httpx.post(url_b + "/twilio/whisper", data={"CallSid": sid, "QueueTime": "30"})
        wait_for(events, lambda e: e[0] == "waiting" and sid not in e[1], 10)
    finally:
        stop.set()


@pytest.mark.postgres
def test_postgres_listen_notify_between_two_server_processes(tmp_path: Path, pg_database: str) -> None:
    env = {
        "CALLBOT_DATABASE_URL": pg_database, "CALLBOT_EVENTS_URL": "postgres",
        "CALLBOT_SECRET_KEY": "shared-secret", "CALLBOT_FLOWS": str(REPO / "flows"),
        "CALLBOT_LOG_LEVEL": "WARNING", "CALLBOT_PROMPT_CACHE_DIR": str(tmp_path / "prompts"),
    }
    db = Database(pg_database)
    db.migrate()  # once, before both processes start together
    (first, url_a), (second, url_b) = spawn_server(env, tmp_path), spawn_server(env, tmp_path)
    try:
        wait_healthy(first, url_a)
        wait_healthy(second, url_b)
        console_sees_what_the_other_server_does(db, url_a, url_b)
    finally:
        db.engine.dispose()
        for proc in (first, second):
            proc.terminate()
        for proc in (first, second):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_redis_pubsub_between_two_app_instances(tmp_path: Path) -> None:
    """Same scenario through Redis; two apps with their own Redis connections (threads, to stay fast;
    the two-process case is the PostgreSQL test). The state is shared through one SQLite file."""
    servers = []
    try:
        for _ in range(2):
            port = free_port()
            settings = make_settings(tmp_path, port=port, public_url=f"http://127.0.0.1:{port}",
                                     database_url=f"sqlite:///{tmp_path / 'shared.db'}",
                                     events_url="redis://127.0.0.1:6379/0")
            servers.append(serve_in_thread(settings))
        (a, _), (b, _) = servers
        assert type(a.app.state.bus).__name__ == "RedisBus"
        console_sees_what_the_other_server_does(a.db, a.url, b.url)
    finally:
        for running, _ in servers:
            running.server.should_exit = True
        for _, thread in servers:
            thread.join(timeout=10)


def test_memory_bus_delivers_events_published_from_another_thread() -> None:
    bus = create_bus(Settings(events_url="memory"))

    async def scenario() -> dict:
        subscription = bus.subscribe()
        threading.Thread(target=lambda: asyncio.run(bus.publish("call.queued", {"call_sid": "CAx"}))).start()
        event = await asyncio.wait_for(anext(subscription), timeout=5)
        await bus.close()
        return event

    assert asyncio.run(scenario()) == {"kind": "call.queued", "data": {"call_sid": "CAx"}}


@pytest.mark.postgres
def test_postgres_bus_survives_a_dropped_connection(pg_database: str) -> None:
    """The listener is killed by the database: it reconnects, says so, and events flow again."""
    import psycopg

    settings = Settings(database_url=pg_database, events_url="postgres")

    async def scenario() -> list[str]:
        listener, publisher = create_bus(settings), create_bus(settings)
        await listener.start()
        await asyncio.wait_for(listener.connected.wait(), 10)
        subscription = listener.subscribe()
        await publisher.publish("call.queued", {"call_sid": "CA1"})
        kinds = [(await asyncio.wait_for(anext(subscription), 5))["kind"]]
        dbname = pg_database.rsplit("/", 1)[1]
        async with await psycopg.AsyncConnection.connect(PG_ADMIN, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = %s AND query ILIKE 'LISTEN%%'", (dbname,))
        kinds.append((await asyncio.wait_for(anext(subscription), 15))["kind"])
        await publisher.publish("call.taken", {"call_sid": "CA1"})
        kinds.append((await asyncio.wait_for(anext(subscription), 5))["kind"])
        await listener.close()
        await publisher.close()
        return kinds

    assert asyncio.run(scenario()) == ["call.queued", "bus.reconnected", "call.taken"]
