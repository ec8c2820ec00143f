"""Development measure of the topic layer on the sheets' development folds (1 to 4), never on the
held-out fold 0 that `callbot eval nlu` reports: for each development fold k, a topic model trained
on the other development folds' sheets (fold 0 left out too) plus the flows reads fold k's titles
through the full NLU, with an emergency classifier that never saw fold k's sheets either. Feature,
mapping and threshold changes are judged on these figures.

    .venv/bin/python bench/dev_topic_folds.py [--folds 1 2 3 4] [--errors N]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from callbot.dialog.evaluation import evaluate
from callbot.dialog.evaluation_report import emergency_heldout, fiches_heldout
from callbot.dialog.flows import load_flows
from callbot.dialog.nlu import Nlu
from callbot.dialog.nlu_data import fiches_rows

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flows", type=Path, default=ROOT / "flows")
    ap.add_argument("--folds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--errors", type=int, default=0, help="print this many errors per fold")
    ap.add_argument("--json", type=Path, help="write the per-fold metrics here")
    args = ap.parse_args()
    flows = load_flows(args.flows)
    rows = fiches_rows()
    totals: Counter = Counter()
    per_topic: Counter = Counter()
    per_topic_ok: Counter = Counter()
    out = {}
    for k in args.folds:
        dev, model = fiches_heldout(flows, k, never_seen=(HELD_OUT,), rows=rows)
        # As `callbot eval nlu` (a) reads its fold: with an emergency classifier that never saw it.
        alarm = emergency_heldout(flows, k, never_seen=(HELD_OUT,), rows=rows)
        nlu = Nlu(flows.intents, flows.slot_types, flows.nlu_thresholds, topics=model, mode="topics",
                  emergency_model=alarm)
        m = evaluate(nlu, dev)
        n = m["utterances"]
        totals["n"] += n
        totals["ok"] += round(m["topic_accuracy"] * n)
        totals["cw"] += round(m["confident_wrong_rate"] * n)
        totals["build"] += model.build_secs
        for t, s in m["per_topic"].items():
            per_topic[t] += s["support"]
            per_topic_ok[t] += round(s["accuracy"] * s["support"])
        print(f"fold {k}: {n} titles; topic {100 * m['topic_accuracy']:.1f} %, confident-wrong "
              f"{100 * m['confident_wrong_rate']:.1f} %, {m['ms_per_utterance']:.2f} ms/utt, "
              f"built in {model.build_secs:.1f} s", flush=True)
        for e in m["errors"][: args.errors]:
            print(f"    {e['expected_topic']:>22} → {e['topic']!s:22} {e['action']:9} {e['confidence']:.2f}  "
                  f"{e['text']}")
        out[k] = {key: m[key] for key in ("topic_accuracy", "confident_wrong_rate", "ms_per_utterance")}
    n = totals["n"]
    print(f"all dev folds: {n} titles; topic {100 * totals['ok'] / n:.1f} %, confident-wrong "
          f"{100 * totals['cw'] / n:.1f} %, mean build {totals['build'] / len(args.folds):.1f} s")
    print("  per topic: " + ", ".join(f"{t} {100 * per_topic_ok[t] / per_topic[t]:.0f} % ({per_topic[t]})"
                                      for t in sorted(per_topic)))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
