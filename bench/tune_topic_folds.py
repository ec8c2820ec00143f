"""Choose the topic layer's thresholds on all development folds of the sheets (1 to 4, pooled),
never on the held-out fold 0 that `callbot eval nlu` reports: for each fold a topic model trained
without that fold's sheets (nor fold 0's) reads the fold's titles through the full NLU, once per
candidate setting. Prints pooled topic accuracy, hors_mairie accuracy, confident-wrong rate, and
where the confident-wrong readings come from (which action).

    .venv/bin/python bench/tune_topic_folds.py [--route 0.6 0.7] [--orient 0.55 0.65] [--dissent 0.4]
"""

from __future__ import annotations

import argparse
import copy
import itertools
from collections import Counter
from dataclasses import replace
from pathlib import Path

from callbot.dialog.evaluation import ANSWERING
from callbot.dialog.evaluation_report import fiches_heldout
from callbot.dialog.flows import load_flows
from callbot.dialog.nlu import Nlu
from callbot.dialog.nlu_data import fiches_rows
from callbot.dialog.nlu_routing import emergency_override, route_by_topic

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--route", type=float, nargs="+", default=[0.60])
    ap.add_argument("--orient", type=float, nargs="+", default=[0.55])
    ap.add_argument("--dissent", type=float, nargs="+", default=[0.40])
    ap.add_argument("--override", type=float, default=0.60)
    args = ap.parse_args()
    flows = load_flows(ROOT / "flows")
    rows = fiches_rows()
    grid = list(itertools.product(args.route, args.orient, args.dissent))
    tally: dict[tuple, Counter] = {g: Counter() for g in grid}
    for k in args.folds:
        dev, model = fiches_heldout(flows, k, never_seen=(HELD_OUT,), rows=rows)
        nlu = Nlu(flows.intents, flows.slot_types, flows.nlu_thresholds, topics=model, mode="topics")
        base = nlu.topic_thresholds
        # What does not depend on the thresholds is read once: the intent layer, the emergency net,
        # and the topic layer's guess (memoised), then each setting routes copies of those readings.
        read = [emergency_override(nlu._understand(ex.text)) for ex in dev]
        model.guess = _memoised(model.guess)
        ids = set(nlu.ids)
        for g in grid:
            route, orient, dissent = g
            t = replace(base, route=route, override=args.override, orient=orient, dissent=dissent)
            c = tally[g]
            for ex, first in zip(dev, read, strict=True):
                u = route_by_topic(copy.deepcopy(first), model, ids, t)
                c["n"] += 1
                c["ok"] += u.topic == ex.topic
                if ex.topic == "hors_mairie":
                    c["hm"] += 1
                    c["hm_ok"] += u.topic == ex.topic
                if u.topic != ex.topic and u.topic and u.action in ANSWERING:
                    c["cw"] += 1
                    c[f"cw {u.action}"] += 1
        print(f"fold {k} done ({len(dev)} titles)", flush=True)
        table(tally)


def _memoised(guess):  # noqa: ANN001, ANN202
    memo: dict = {}
    return lambda text: memo[text] if text in memo else memo.setdefault(text, guess(text))


def table(tally: dict[tuple, Counter]) -> None:
    print(f"{'route':>5} {'orient':>6} {'dissent':>7} {'topic':>6} {'hors_m.':>7} {'c-wrong':>7}  by action")
    for g, c in tally.items():
        by = ", ".join(f"{key[3:]} {v}" for key, v in sorted(c.items()) if key.startswith("cw "))
        print(f"{g[0]:5.2f} {g[1]:6.2f} {g[2]:7.2f} {100 * c['ok'] / c['n']:5.1f}% "
              f"{100 * c['hm_ok'] / c['hm']:6.1f}% {100 * c['cw'] / c['n']:6.2f}%  {by}")


if __name__ == "__main__":
    main()
