"""Privacy costs: redaction of a stored turn, and `erase` / `purge` on a seeded history.

    python bench/bench_privacy.py --calls 100000

Prints the time redact() takes per caller utterance (the evaluation set, plus dictated numbers
and dates of birth), then, on a throw-away SQLite database seeded with `--calls` synthetic calls
and one resident's three calls with callback requests: the time of `erase_caller` and of
`purge_older_than` (90 days). Numbers, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPOKEN = ["mon numéro c'est zéro six douze trente-quatre cinquante-six soixante-dix-huit",
          "ma fille est née le trois mars deux mille douze", "rappelez-moi au 06 12 34 56 78",
          "mon mail c'est jean point dupont arobase gmail point com"]


def bench_redaction() -> None:
    from callbot.store.redaction import redact

    lines = (REPO / "tests/data/nlu_eval.jsonl").read_text().splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    texts += SPOKEN * 20
    micros = []
    for t in texts:
        t0 = time.perf_counter()
        redact(t)
        micros.append((time.perf_counter() - t0) * 1e6)
    micros.sort()
    print(f"redact(): {len(texts)} utterances, median {statistics.median(micros):.0f} µs, "
          f"p95 {micros[int(len(micros) * 0.95)]:.0f} µs, max {micros[-1]:.0f} µs", flush=True)


def bench_erasure(calls: int, number: str) -> None:
    from callbot.devtools.seed import seed
    from callbot.store.calls import CallRecorder
    from callbot.store.db import Database
    from callbot.store.retention import erase_caller, purge_older_than
    from callbot.vocabulary import Outcome

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/privacy.db")
        db.migrate()
        t0 = time.perf_counter()
        seed(db.engine, calls, days=365, seed=42, end=datetime.now(UTC) - timedelta(days=1))
        print(f"seeded {calls} calls in {time.perf_counter() - t0:.0f} s", flush=True)

        async def resident(i: int) -> None:
            rec = CallRecorder(db, f"CAresident{i}")
            await rec.open(stream_sid=f"MZ{i}", caller="+33611112222", called="+33100000000", secret=b"k")
            await rec.turn("caller", "c'est pour ma fille née le trois mars deux mille douze")
            await rec.add_callback("0687654321", "jean dupont au 12 rue des lilas", None)
            await rec.finish(Outcome.CALLBACK)

        for i in range(3):
            asyncio.run(resident(i))
        t0 = time.perf_counter()
        erased = erase_caller(db, b"k", number)
        print(f"erase_caller: {erased.calls} calls, {erased.callbacks} callbacks in "
              f"{(time.perf_counter() - t0) * 1000:.0f} ms", flush=True)
        t0 = time.perf_counter()
        purged = purge_older_than(db, 90)
        print(f"purge_older_than(90): {purged.calls} calls, {purged.callbacks} callbacks in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--number", default="06 11 11 22 22", help="how the erased number is written")
    args = ap.parse_args()
    bench_redaction()
    bench_erasure(args.calls, args.number)


if __name__ == "__main__":
    main()
