"""compose.yaml's two callbot services, run as two local processes with the same command and
settings, against the local PostgreSQL and Redis (no container daemon here): a call placed on one
shows live in the agents' console of the other (its live events), and each process's /metrics
counts its own calls. A call joining the queue across processes: tests/agents/test_events_across_processes.py.

Only what cannot be the same on one machine is changed: the containers' host names (postgres,
redis) become 127.0.0.1, each process gets its own port, the database is this test's own, and the
models are the package-shipped test models (with the CALLBOT_ASR_SCRIPT test seam)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from callbot.devtools.simulator.call import place_call
from callbot.devtools.simulator.steps import Hangup, Wait, WaitForBotAudio
from callbot.store.db import Database
from tests.agents.conftest import AGENT, add_accounts, csrf_from
from tests.agents.test_events_across_processes import pg_database, read_sse, wait_for, wait_healthy
from tests.conftest import OPEN_TUESDAY, free_port
from tests.scaleout.compose_file import compose, service_environment
from tests.scaleout.test_metrics import samples

__all__ = ["pg_database"]  # the fixture, shared with the agents' two-process test

pytestmark = pytest.mark.postgres
DOMAIN = "mairie.example.org"
DOT_ENV = {"POSTGRES_PASSWORD": "unused-locally", "CALLBOT_SECRET_KEY": "compose-test-secret",
           "CALLBOT_DOMAIN": DOMAIN, "CALLBOT_TWILIO_AUTH_TOKEN": "twilio-test-token",
           "CALLBOT_METRICS_TOKEN": "scrape-token"}
CALLER = "+33644444444"  # says nothing (tests/conftest.py: CALLER_SCRIPTS)


def local_settings(service: dict, database_url: str, port: int, asr_script: Path,
                   prompt_cache: Path) -> dict[str, str]:
    env = service_environment(service, DOT_ENV)
    theirs = urlsplit(env["CALLBOT_DATABASE_URL"])
    ours = urlsplit(database_url)
    assert theirs.scheme == ours.scheme  # compose names the same driver as the tests use
    env["CALLBOT_DATABASE_URL"] = urlunsplit(ours)
    env["CALLBOT_EVENTS_URL"] = env["CALLBOT_EVENTS_URL"].replace("//redis:", "//127.0.0.1:")
    env.update({
        "CALLBOT_HOST": "127.0.0.1", "CALLBOT_PORT": str(port),
        # What the image provides: flows in the image, models in a volume → the test models here.
        "CALLBOT_DEMO_MODELS": "1", "CALLBOT_ASR_SCRIPT": str(asr_script),
        "CALLBOT_PROMPT_CACHE_DIR": str(prompt_cache), "CALLBOT_NOW": OPEN_TUESDAY.isoformat(),
        # Start-up speed for a test: no background synthesis, no recogniser warmed before /healthz.
        "CALLBOT_WARM_ANSWERS": "0", "CALLBOT_ASR_WARM_RECOGNIZERS": "0",
        "CALLBOT_ASR_READY_RECOGNIZERS": "0", "CALLBOT_LOG_LEVEL": "WARNING",
    })
    return env


def spawn(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    assert command[0] == "callbot"
    executable = str(Path(sys.executable).parent / "callbot")
    return subprocess.Popen([executable, *command[1:]], cwd=cwd, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def behind_tls_proxy(client: httpx.Client) -> httpx.Client:
    """The proxy ends TLS: cookies the server marks Secure (its public URL is https) come back to it
    over plain http, as Caddy sends them on."""

    def cookies(request: httpx.Request) -> None:
        request.headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)

    client.event_hooks["request"] = [cookies]
    return client


def scrape(url: str) -> dict:
    token = DOT_ENV["CALLBOT_METRICS_TOKEN"]
    response = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return samples(response.text)


def test_a_call_on_one_process_shows_live_in_the_console_of_the_other(
        tmp_path: Path, pg_database: str, asr_script_file: Path, prompt_cache_dir: Path) -> None:
    services = compose()["services"]
    # With an empty shared prompt cache (a fresh clone) the first process synthesises the fixed
    # prompts, once for the whole suite; the second starts after it rather than doing it twice.
    cold_cache = not any(prompt_cache_dir.glob("*.ulaw"))
    procs: list[subprocess.Popen] = []
    urls: list[str] = []
    stop = threading.Event()
    try:
        for name in ("callbot-1", "callbot-2"):
            port = free_port()
            env = local_settings(services[name], pg_database, port, asr_script_file, prompt_cache_dir)
            procs.append(spawn(services[name]["command"], env, tmp_path))
            urls.append(f"http://127.0.0.1:{port}")
            if cold_cache:
                wait_healthy(procs[-1], urls[-1], timeout=180)
        for proc, url in zip(procs, urls, strict=True):
            wait_healthy(proc, url)
        console_url, phone_url = urls
        db = Database(pg_database)  # both processes migrated it (in turn: an advisory lock)
        add_accounts(db)
        db.engine.dispose()

        console = behind_tls_proxy(httpx.Client(base_url=console_url))
        csrf = csrf_from(console.get("/login").text)
        console.post("/login", data={"username": AGENT[0], "password": AGENT[1], "csrf_token": csrf})
        events: queue.Queue = queue.Queue()
        threading.Thread(target=read_sse, args=(console, console_url + "/agents/events", events, stop),
                         daemon=True).start()
        assert wait_for(events, lambda e: e[0] == "status", 10) == ("status", "200")
        wait_for(events, lambda e: e[0] == "waiting", 10)

        async def call_and_look_while_it_lasts() -> tuple[dict, dict]:
            # Twilio reaches the second process (as the proxy may send it), signed for the public URL.
            call = asyncio.create_task(place_call(
                phone_url, [WaitForBotAudio(20), Wait(30), Hangup()], caller=CALLER,
                auth_token=DOT_ENV["CALLBOT_TWILIO_AUTH_TOKEN"], public_url=f"https://{DOMAIN}",
                rewrite_stream_host=True))
            try:
                # The console on the first process hears of it while the greeting plays on the second.
                started = lambda e: e[0] == "changed" and "call.started" in e[1]  # noqa: E731
                await asyncio.to_thread(wait_for, events, started, 20)
                assert not call.done()
                during = await asyncio.to_thread(scrape, phone_url)
                elsewhere = await asyncio.to_thread(scrape, console_url)
            finally:
                call.cancel()  # the caller hangs up: the socket closes
                with contextlib.suppress(asyncio.CancelledError):
                    await call
            return during, elsewhere

        during, elsewhere = asyncio.run(call_and_look_while_it_lasts())
        wait_for(events, lambda e: e[0] == "changed" and "call.ended" in e[1], 15)

        assert during[("callbot_calls_in_progress", ())] == 1
        assert elsewhere[("callbot_calls_in_progress", ())] == 0  # each process counts its own
        after = scrape(phone_url)
        assert after[("callbot_calls_in_progress", ())] == 0 and after[("callbot_calls_total", ())] == 1
        # The caller never spoke: no recogniser was leased for the call (speech/recognizers.py).
        assert after[("callbot_recognizers_built_total", (("search", "model"),))] == 0
    finally:
        stop.set()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
