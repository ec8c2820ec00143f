"""NLU benchmark: the evaluation set's metrics, clean and under simulated recogniser noise, and
the time per utterance (wall clock and CPU, so a busy machine does not hide the real cost).

    .venv/bin/python bench/bench_nlu.py [--data FILE ...] [--flows flows] [--noise 0.25] [--seeds 1 2 3]

By default every labelled set of tests/data/ (main, hold-out, fresh): a set written after the
thresholds were tuned says more about phrasings nobody has written yet than the main one.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from callbot.dialog.evaluation import evaluate, load_examples
from callbot.dialog.flows import load_flows
from callbot.dialog.nlu import Nlu
from callbot.dialog.noise import asr_noise

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("topic_accuracy", "intent_accuracy", "confident_wrong_rate", "out_of_scope_recall")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, nargs="+",
                    default=sorted((ROOT / "tests/data").glob("nlu_*.jsonl")))
    ap.add_argument("--flows", type=Path, default=ROOT / "flows")
    ap.add_argument("--noise", type=float, default=0.25)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = ap.parse_args()

    t0 = time.perf_counter()
    flows = load_flows(args.flows)
    nlu = Nlu.from_flows(flows)
    print(f"training: {len(nlu.intents)} intents, {sum(len(i.examples) for i in nlu.intents)} examples, "
          f"{1000 * (time.perf_counter() - t0):.0f} ms (flows loading included)")
    all_examples = []
    for path in args.data:
        examples = load_examples(path)
        all_examples += examples
        print(f"\nevaluation set: {len(examples)} utterances ({path.name})")
        print(f"{'condition':24} " + " ".join(f"{k:>22}" for k in KEYS))
        rows = [("clean", evaluate(nlu, examples))]
        rows += [(f"noise {args.noise} seed {s}", evaluate(nlu, examples, args.noise, s)) for s in args.seeds]
        for name, m in rows:
            print(f"{name:24} " + " ".join(f"{100 * (m[k] or 0):21.1f}%" for k in KEYS))
        noisy = rows[1:]
        print(f"{'noise mean':24} " + " ".join(
            f"{100 * statistics.mean(m[k] or 0 for _, m in noisy):21.1f}%" for k in KEYS))
    examples = all_examples

    # Time per utterance on texts never seen before (no cache hit), wall and CPU.
    texts = [asr_noise(e.text, args.noise, 1000 + i) for i, e in enumerate(examples)]
    wall, cpu = [], []
    for text in texts:
        w, c = time.perf_counter(), time.process_time()
        nlu.understand(text)
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    ms = lambda xs: 1000 * statistics.mean(xs)  # noqa: E731
    p95 = lambda xs: 1000 * sorted(xs)[int(0.95 * len(xs))]  # noqa: E731
    print(f"\ntime per utterance (uncached): wall mean {ms(wall):.2f} ms, p95 {p95(wall):.2f} ms; "
          f"CPU mean {ms(cpu):.2f} ms, p95 {p95(cpu):.2f} ms")


if __name__ == "__main__":
    main()
