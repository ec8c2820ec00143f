"""Dashboard benchmark: seed time and page time at 100 000 and 1 000 000 synthetic calls.

For each backend (SQLite file, PostgreSQL fresh database, both created here and dropped at the
end) and each size: migrate, `seed` (COPY / executemany), then render GET /dashboard through the
real app (TestClient, logged-in manager) for the last month and the last twelve months, each
unfiltered, filtered by service, by topic and by both, plus one CSV export. Prints the first
(cold) render and the median of the next runs.

    .venv/bin/python bench/bench_dashboard.py [--sizes 100000 1000000] [--backends sqlite postgresql]
                                              [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_support import fresh_database, timed_get

# The filters: the seed's busiest service and one of its topics (a manager's usual questions).
FILTERS = {"": "", "service": "&service=%C3%89tat+civil", "topic": "&sujet=identite"}
FILTERS["both"] = FILTERS["service"] + FILTERS["topic"]
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
PASSWORD = "bench-password-123"




def bench_one(backend: str, size: int, runs: int, tmp: Path) -> dict:
    from fastapi.testclient import TestClient

    from callbot.app import create_app
    from callbot.config import Settings
    from callbot.devtools.seed import seed
    from callbot.store.db import Database
    from callbot.web.accounts import create_user

    url, drop = fresh_database(backend, tmp, "dashbench")
    try:
        db = Database(url)
        db.migrate()
        result = seed(db.engine, size, days=365, seed=42, end=NOW)
        create_user(db, "bench", PASSWORD, "manager")
        db.engine.dispose()
        app = create_app(
            Settings(database_url=url, secret_key="bench", now=NOW, log_level="WARNING"), speech=False
        )
        out = {"backend": backend, "calls": size, "turns": result.turns, "seed_s": round(result.seconds, 1),
               "rollup_s": round(result.rollup_seconds, 1)}
        with TestClient(app) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token})
            today = NOW.date()
            periods = {
                "month": f"du={today - timedelta(days=29)}&au={today}",
                "year": f"du={today - timedelta(days=364)}&au={today}",
            }
            pages = {
                f"{period}_{f}".rstrip("_"): f"/dashboard?{qs}{fqs}"
                for period, qs in periods.items()
                for f, fqs in FILTERS.items()
            }
            pages["csv_year"] = f"/dashboard/export/sujets.csv?{periods['year']}"
            for name, path in pages.items():
                times = [timed_get(client, path) for _ in range(runs + 1)]
                out[f"{name}_cold_ms"] = round(times[0], 1)
                out[f"{name}_ms"] = round(statistics.median(times[1:]), 1)
        app.state.db.engine.dispose() if hasattr(app.state, "db") else None
        return out
    finally:
        drop()


def print_result(r: dict) -> None:
    print(
        f"{r['backend']} {r['calls']:,d} calls ({r['turns']:,d} turns): seeded in {r['seed_s']:.1f} s "
        f"+ summaries {r['rollup_s']:.1f} s; CSV year {r['csv_year_ms']:.0f} ms",
        flush=True,
    )
    print("  /dashboard, ms: median warm (cold)   all          service      topic        both")
    for period in ("month", "year"):
        cells = [f"{r[f'{p}_ms']:6.0f} ({r[f'{p}_cold_ms']:4.0f})" for p in _names(period)]
        print(f"  {period:35s}" + " ".join(cells), flush=True)


def _names(period: str) -> list[str]:
    return [f"{period}_{f}".rstrip("_") for f in FILTERS]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument(
        "--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="callbot-dashbench-") as tmp:
        for size in args.sizes:
            for backend in args.backends:
                r = bench_one(backend, size, args.runs, Path(tmp))
                results.append(r)
                if not args.json:
                    print_result(r)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
