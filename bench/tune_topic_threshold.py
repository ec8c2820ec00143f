"""Choose the topic route threshold on the development fold of the sheets (fold 1), never on the
held-out fold 0 that `callbot eval nlu` reports: a topic model trained without fold-1 sheets reads
fold-1 titles, and for each candidate threshold this prints topic accuracy, hors_mairie recall and
the confident-wrong rate. The smallest threshold whose confident-wrong rate is at most --target is
the one to put in nlu_routing.TopicThresholds.

    .venv/bin/python bench/tune_topic_threshold.py [--flows flows] [--target 0.015]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from callbot.dialog.evaluation import evaluate
from callbot.dialog.evaluation_report import fiches_heldout
from callbot.dialog.flows import load_flows
from callbot.dialog.nlu import Nlu

ROOT = Path(__file__).resolve().parents[1]
DEV_FOLD = 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flows", type=Path, default=ROOT / "flows")
    ap.add_argument("--target", type=float, default=0.02, help="confident-wrong rate to stay under")
    ap.add_argument("--grid", type=float, nargs="+", default=[0.55, 0.65, 0.75, 0.85],
                    help="route thresholds to try")
    ap.add_argument("--dissent", type=float, nargs="+", default=[1.0, 0.6, 0.5, 0.4, 0.3],
                    help="dissent thresholds to try (1.0: answers never second-guessed)")
    args = ap.parse_args()
    flows = load_flows(args.flows)
    dev, model = fiches_heldout(flows, DEV_FOLD)
    nlu = Nlu(flows.intents, flows.slot_types, flows.nlu_thresholds, topics=model, mode="topics")
    base = nlu.topic_thresholds
    print(f"dev fold {DEV_FOLD}: {len(dev)} titles; model built in {model.build_secs:.1f} s")
    print(f"{'route':>6} {'dissent':>8} {'topic':>7} {'hors_mairie':>11} {'conf-wrong':>10} {'ms/utt':>7}")
    best = None
    for route in args.grid:
        for dissent in args.dissent:
            nlu.topic_thresholds = replace(base, route=route, override=max(0.60, route),
                                           dissent=dissent)
            m = evaluate(nlu, dev)
            hm = m["per_topic"].get("hors_mairie", {}).get("accuracy") or 0.0
            print(f"{route:6.2f} {dissent:8.2f} {100 * m['topic_accuracy']:6.1f}% {100 * hm:10.1f}% "
                  f"{100 * m['confident_wrong_rate']:9.1f}% {m['ms_per_utterance']:7.2f}")
            # The most accurate setting under the target; on a tie, the one asking back least.
            key = (m["topic_accuracy"], dissent, -route)
            if m["confident_wrong_rate"] <= args.target and (best is None or key > best[0]):
                best = (key, route, dissent)
    print(f"chosen (most accurate with confident-wrong <= {100 * args.target:.1f} %): "
          + (f"route {best[1]:.2f}, dissent {best[2]:.2f}" if best else "none"))


if __name__ == "__main__":
    main()
