"""The emergency net measured file by file: recall on each emergency set's real descriptions, false
alarms on its look-alikes, and false alarms on the town hall's everyday questions (the spoken sets
and the public-service sheets' titles), through the full NLU (`action == "emergency"`).

Every file named here is development data; the number that counts is a blind set the project never
sees. To keep a reported figure from being a training score, judge a change by the file it was not
written from (`--hold-out FILE`: its misses are not printed, only counted).

    .venv/bin/python bench/emergency_folds.py [--misses] [--hold-out emergency_blind2.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from callbot.dialog.flows import load_flows
from callbot.dialog.nlu import Nlu

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SETS = ["emergency_dev.jsonl", "emergency_dev2.jsonl", "emergency_blind.jsonl", "emergency_blind2.jsonl"]
EVERYDAY = ["nlu_eval.jsonl", "nlu_holdout.jsonl", "nlu_fresh.jsonl"]


def rows_of(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text("utf-8").splitlines() if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--misses", action="store_true", help="print the misses and false alarms")
    ap.add_argument("--hold-out", nargs="*", default=[], help="files whose misses stay unprinted")
    ap.add_argument("--sheets", action="store_true", help="also count false alarms on sheet titles")
    args = ap.parse_args()
    flows = load_flows(ROOT / "flows")
    nlu = Nlu.from_flows(flows)
    is_alarm = lambda text: nlu.understand(text).action == "emergency"  # noqa: E731
    why = lambda text: nlu.understand(text).alternatives[0].get("why", "intent layer")  # noqa: E731
    tot = {"hit": 0, "real": 0, "fa": 0, "looks": 0}
    for name in SETS:
        rows = rows_of(name)
        real = [r for r in rows if r["kind"] != "none"]
        looks = [r for r in rows if r["kind"] == "none"]
        missed = [r for r in real if not is_alarm(r["text"])]
        false = [r for r in looks if is_alarm(r["text"])]
        tot["hit"] += len(real) - len(missed)
        tot["real"] += len(real)
        tot["fa"] += len(false)
        tot["looks"] += len(looks)
        fa = f"{len(false)}/{len(looks)} false alarms" if looks else "no look-alikes"
        print(f"{name:26} recall {len(real) - len(missed)}/{len(real)} "
              f"({100 * (1 - len(missed) / len(real)):.1f} %), {fa}")
        if args.misses and name not in args.hold_out:
            for r in missed:
                print(f"    MISS {r['kind']:11} {r['text']}")
            for r in false:
                print(f"    FALSE ALARM     {r['text']}  ({why(r['text'])})")
    print(f"{'all four':26} recall {tot['hit']}/{tot['real']} ({100 * tot['hit'] / tot['real']:.1f} %), "
          f"{tot['fa']}/{tot['looks']} false alarms ({100 * tot['fa'] / tot['looks']:.1f} %)")
    everyday = [r["text"] for name in EVERYDAY for r in rows_of(name)]
    if args.sheets:
        from callbot.dialog.nlu_data import fiches_rows

        everyday += [r.text for r in fiches_rows() if r.kind == "title"]
    false = [t for t in everyday if is_alarm(t)]
    print(f"everyday questions: {len(false)}/{len(everyday)} false alarms")
    if args.misses:
        for t in false:
            print(f"    FALSE ALARM     {t}  ({why(t)})")


if __name__ == "__main__":
    main()
