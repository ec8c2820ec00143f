"""Console login benchmark: a burst of simultaneous logins, and the cost of a logged-in page.

Starts the real app under uvicorn (SQLite file, no speech models), creates `--users` accounts,
then:
- fires `--burst` logins at once (each a different account, right password) and prints the wall
  time, the median and p95 latency, and the server process's peak resident memory growth
  (argon2 takes 64 MiB per check: unbounded, a burst costs burst × 64 MiB);
- times `--runs` GETs of the agents' waiting list with a logged-in session (median, p95): what
  the per-request session check costs.
Works on any branch (it only speaks HTTP), so old and new can be compared back to back:

    PYTHONPATH=src .venv/bin/python bench/bench_login.py [--users 16] [--burst 16] [--runs 200]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
from bench_console import free_port, serve

PASSWORD = "bench-password-123"


def log_in(base: str, username: str) -> tuple[float, httpx.Client]:
    client = httpx.Client(base_url=base, timeout=120)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    t0 = time.perf_counter()
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    ms = (time.perf_counter() - t0) * 1000
    if response.status_code != 303 or response.headers.get("location", "").startswith("/login"):
        raise RuntimeError(f"login of {username} failed: HTTP {response.status_code}")
    return ms, client


def peak_rss_sampler(stop: threading.Event, peak: list[int]) -> None:
    proc = psutil.Process()
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--burst", type=int, default=16)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from callbot.app import create_app
    from callbot.config import Settings
    from callbot.web.accounts import create_user

    tmp = Path(tempfile.mkdtemp(prefix="bench-login-"))
    port = free_port()
    settings = Settings(database_url=f"sqlite:///{tmp / 'login.db'}", secret_key="bench-login",
                        log_level="WARNING", port=port, prompt_cache_dir=tmp / "prompts")
    app = create_app(settings, speech=False)
    server, thread = serve(app, port)
    base = f"http://127.0.0.1:{port}"
    names = [f"agent{i:02d}" for i in range(args.users)]
    for name in names:
        create_user(app.state.db, name, PASSWORD, "agent")

    log_in(base, names[0])  # warm the route and the hasher
    stop, peak = threading.Event(), [psutil.Process().memory_info().rss]
    before = peak[0]
    sampler = threading.Thread(target=peak_rss_sampler, args=(stop, peak), daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.burst) as pool:
        results = list(pool.map(lambda i: log_in(base, names[i % len(names)]), range(args.burst)))
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    latencies = sorted(ms for ms, _ in results)

    client = results[0][1]
    client.get("/agents/waiting")
    page_ms = []
    for _ in range(args.runs):
        t = time.perf_counter()
        response = client.get("/agents/waiting")
        page_ms.append((time.perf_counter() - t) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"/agents/waiting: HTTP {response.status_code}")
    page_ms.sort()
    server.should_exit = True
    thread.join(timeout=10)

    report = {
        "burst": args.burst,
        "burst_wall_s": round(wall, 2),
        "login_ms_p50": round(statistics.median(latencies), 1),
        "login_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "peak_rss_growth_mib": round((peak[0] - before) / 2**20, 1),
        "waiting_page_ms_p50": round(statistics.median(page_ms), 2),
        "waiting_page_ms_p95": round(page_ms[int(0.95 * (len(page_ms) - 1))], 2),
    }
    if args.json:
        print(json.dumps(report))
        return
    for key, value in report.items():
        print(f"{key:24} {value}")


if __name__ == "__main__":
    main()
