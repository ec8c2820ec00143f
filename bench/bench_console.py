"""Agents' console benchmark: every console page at 1 000 000 calls and 50 000 callback requests.

For each backend (a SQLite file, a fresh PostgreSQL database; both created here and dropped at the
end): migrate, seed `--calls` synthetic calls with `callbot.devtools.seed` (turns, callbacks and
the dashboard summaries included), top the callback requests up to `--callbacks` with a bulk
insert (mixed statuses, assignees and numbers), then start the real app under uvicorn and time,
over HTTP with a logged-in agent, every console page: the agents' home, the history (default,
filtered, a deep page), the callbacks (default, each filter, a sort, a deep page) and one call's
detail. Prints the first (cold) request and the median of the next `--runs` warm ones; the
target is < 300 ms each.

    .venv/bin/python bench/bench_console.py [--calls 1000000] [--callbacks 50000]
                                            [--backends sqlite postgresql] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from bench_support import fresh_database, timed_get

NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
AGENT, PASSWORD = "bench", "bench-password-123"
COLLEAGUES = ("alice", "bruno", "chloe", "david")
TARGET_MS = 300.0



def top_up_callbacks(db, target: int) -> int:  # noqa: ANN001
    """Bulk-insert callback requests until there are `target`; returns how many were added.

    A third still to call back, some unreachable, the rest done or closed; most assigned to one of
    five agents; created over the last year (never after NOW)."""
    from sqlalchemy import func, insert, select, text

    from callbot.store.models import Callback

    rng = random.Random(7)
    with db.session() as s:
        have = s.scalar(select(func.count()).select_from(Callback)) or 0
    missing = max(0, target - have)
    statuses = ["a_rappeler"] * 30 + ["injoignable"] * 10 + ["rappele"] * 45 + ["clos"] * 15
    assignees = [None, AGENT, *COLLEAGUES]
    rows = []
    for _ in range(missing):
        created = NOW - timedelta(seconds=rng.random() * 365 * 86400)
        status = rng.choice(statuses)
        rows.append({
            "created_at": created, "number": f"+336{rng.randrange(10**8):08d}",
            "reason": "Demande de rappel (banc d'essai)", "topic": "etat_civil", "status": status,
            "assigned_to": rng.choice(assignees),
            "updated_at": None if status == "a_rappeler" else created + timedelta(hours=rng.random() * 48),
            "synthetic": True,
        })
    with db.engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(Callback), rows[start:start + 10_000])
        conn.execute(text("ANALYZE"))
    return missing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app, port: int):  # noqa: ANN001, ANN201
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    return server, thread


def log_in(client: httpx.Client) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"username": AGENT, "password": PASSWORD, "csrf_token": token})
    if "Identifiant ou mot de passe incorrect" in response.text or response.status_code != 200:
        raise RuntimeError("login failed")



def pages(call_sid: str, oldest_day: str, newest_day: str) -> dict[str, str]:
    return {
        "agents home": "/agents",
        "history": "/agents/history",
        "history, topic + transferred": "/agents/history?theme=identite&transferes=1",
        "history, one month": f"/agents/history?du={oldest_day}&au={newest_day}",
        "history, page 150": "/agents/history?page=150",
        "callbacks (à rappeler)": "/agents/callbacks",
        "callbacks, injoignable": "/agents/callbacks?statut=injoignable",
        "callbacks, all statuses": "/agents/callbacks?statut=tous",
        "callbacks, mine": "/agents/callbacks?attribue=moi",
        "callbacks, colleague, all": "/agents/callbacks?statut=tous&attribue=alice",
        "callbacks, nobody": "/agents/callbacks?attribue=personne",
        "callbacks, number": "/agents/callbacks?statut=tous&numero=06+12+34",
        "callbacks, by number desc": "/agents/callbacks?statut=tous&tri=numero&ordre=desc",
        "callbacks, deep page": "/agents/callbacks?statut=tous&page=900",
        "call detail": f"/agents/calls/{call_sid}",
    }


def bench_one(backend: str, calls: int, callbacks: int, runs: int, tmp: Path) -> dict:
    from sqlalchemy import select

    from callbot.app import create_app
    from callbot.config import Settings
    from callbot.devtools.seed import seed
    from callbot.store.db import Database
    from callbot.store.models import Call
    from callbot.web.accounts import create_user

    url, drop = fresh_database(backend, tmp, "consolebench")
    try:
        db = Database(url)
        db.migrate()
        t0 = time.perf_counter()
        result = seed(db.engine, calls, days=365, seed=42, end=NOW)
        added = top_up_callbacks(db, callbacks)
        seed_s = time.perf_counter() - t0
        create_user(db, AGENT, PASSWORD, "agent")
        for name in COLLEAGUES:
            create_user(db, name, PASSWORD, "agent")
        with db.session() as s:
            call_sid = s.scalar(select(Call.call_sid).where(Call.outcome == "transferred")
                                .order_by(Call.started_at.desc()).limit(1))
        db.engine.dispose()
        port = free_port()
        app = create_app(Settings(database_url=url, secret_key="bench", log_level="WARNING", port=port,
                                  public_url=f"http://127.0.0.1:{port}"), speech=False)
        server, thread = serve(app, port)
        out: dict = {"backend": backend, "calls": result.calls, "callbacks": result.callbacks + added,
                     "seed_s": round(seed_s, 1), "pages": {}}
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, follow_redirects=True, timeout=60) as client:
                log_in(client)
                newest = NOW.date()
                for name, path in pages(call_sid, str(newest - timedelta(days=29)), str(newest)).items():
                    times = [timed_get(client, path) for _ in range(runs + 1)]
                    out["pages"][name] = {"path": path, "cold_ms": round(times[0], 1),
                                          "ms": round(statistics.median(times[1:]), 1)}
        finally:
            server.should_exit = True
            thread.join(timeout=20)
        return out
    finally:
        drop()


def print_result(r: dict) -> None:
    print(f"{r['backend']}: {r['calls']:,d} calls, {r['callbacks']:,d} callback requests "
          f"(seeded in {r['seed_s']:.0f} s)", flush=True)
    print(f"  {'page':32s} {'median warm':>12s} {'cold':>8s}")
    for name, p in r["pages"].items():
        flag = "" if p["ms"] < TARGET_MS else f"   over {TARGET_MS:.0f} ms"
        print(f"  {name:32s} {p['ms']:9.1f} ms {p['cold_ms']:6.0f} ms{flag}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--callbacks", type=int, default=50_000)
    backends = ["sqlite", "postgresql"]
    ap.add_argument("--backends", nargs="+", default=backends, choices=backends)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="callbot-consolebench-") as tmp:
        for backend in args.backends:
            r = bench_one(backend, args.calls, args.callbacks, args.runs, Path(tmp))
            results.append(r)
            if not args.json:
                print_result(r)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
