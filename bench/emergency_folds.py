"""The emergency net measured file by file: recall on each emergency set's real descriptions, false
alarms on its look-alikes, and false alarms on the town hall's everyday questions (the spoken sets
and the public-service sheets' titles), through the full NLU (`action == "emergency"`).

Every file named here is development data; the number that counts is a blind set the project never
sees. To keep a reported figure from being a training score, judge a change by the file it was not
written from (`--hold-out FILE`: its misses are not printed, only counted).

    .venv/bin/python bench/emergency_folds.py [--misses] [--hold-out emergency_blind2.jsonl]
    .venv/bin/python bench/emergency_folds.py --lofo [patterns.yaml]   # leave one file out
    .venv/bin/python bench/emergency_folds.py --classifier [--c=16] [--w=10] [--pw=5]  # learnt net
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from callbot.dialog.emergency_model import DATA_DIR as DATA  # the served training data
from callbot.dialog.flows import load_flows
from callbot.dialog.nlu import Nlu

ROOT = Path(__file__).resolve().parents[1]
SETS = ["emergency_dev.jsonl", "emergency_dev2.jsonl", "emergency_blind.jsonl", "emergency_blind2.jsonl"]
EVERYDAY = ["nlu_eval.jsonl", "nlu_holdout.jsonl", "nlu_fresh.jsonl"]
# Residents' own questions collected outside the project (tests/data/resident_sets.md): their
# development halves only; the blind halves are for `callbot eval nlu` once.
RESIDENT_DEV = ["resident_dev.jsonl", "resident_code_dev.jsonl", "resident_pages_dev.jsonl"]
# People telling everyday matters at length (data/emergency/everyday_narratives.md), never trained
# on: the false alarms of a net that learnt emergencies from first-person stories.
STORIES = "everyday_narratives.jsonl"


def rows_of(name: str) -> list[dict]:
    """An emergency file's lines (the served training data), or a spoken set's (tests/data)."""
    path = DATA / name if name in (*SETS, STORIES) else ROOT / "tests" / "data" / name
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--misses", action="store_true", help="print the misses and false alarms")
    ap.add_argument("--hold-out", nargs="*", default=[], help="files whose misses stay unprinted")
    ap.add_argument("--sheets", action="store_true", help="also count false alarms on sheet titles")
    args = ap.parse_args()
    flows = load_flows(ROOT / "flows")
    nlu = Nlu.from_flows(flows)
    is_alarm = lambda text: nlu.understand(text).gives_emergency_numbers  # noqa: E731
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
    everyday = [r["text"] for name in EVERYDAY for r in rows_of(name) if r["topic"] != "urgence"]
    if args.sheets:
        from callbot.dialog.nlu_data import fiches_rows

        everyday += [r.text for r in fiches_rows() if r.kind == "title"]
    false = [t for t in everyday if is_alarm(t)]
    print(f"everyday questions: {len(false)}/{len(everyday)} false alarms")
    if args.misses:
        for t in false:
            print(f"    FALSE ALARM     {t}  ({why(t)})")


def leave_one_file_out(patterns_path: Path, silent: bool = False) -> dict[str, list[bool]]:
    """A held-out estimate for hand-written patterns, which cannot be retrained per fold: for each
    file F, the patterns that catch emergencies of F only (no other file's) count as fitted to F and
    are dropped; F's recall is then what the patterns that other files support catch (plus the
    sound matching). False alarms on F's look-alikes use the whole net (no pattern is dropped)."""
    import re

    import yaml

    from callbot.dialog import emergency

    data = yaml.safe_load(patterns_path.read_text("utf-8"))
    lines = lambda key: [ln.strip() for ln in data.get(key, "").strip().splitlines()  # noqa: E731
                         if ln.strip() and not ln.strip().startswith("#")]
    alarms = [(kind.strip(), re.compile(p.strip()))
              for kind, _, p in (ln.partition(":") for ln in lines("alarms"))]
    excluded = re.compile("|".join(lines("not_alarms")))
    nuisance = re.compile("|".join(lines("nuisance"))) if lines("nuisance") else None
    paperwork = re.compile("|".join(lines("paperwork"))) if lines("paperwork") else None
    fold = getattr(emergency, "_folded", None) or (lambda t: emergency.simplify(t[:2000]))

    def fired(text: str) -> tuple[set[int], bool]:
        said = fold(text)
        cleared = excluded.sub(" ", said)
        quiet = ({"fire", "smoke_gas"} if nuisance is not None and nuisance.search(said) else set()) | (
            {"fire", "smoke_gas", "flood", "violence", "threat"}
            if paperwork is not None and paperwork.search(said) else set())
        hits = {i for i, (kind, p) in enumerate(alarms) if kind not in quiet and p.search(cleared)}
        return hits, emergency._sounds_alarming(cleared) is not None

    per_file = {name: [(r, *fired(r["text"])) for r in rows_of(name)] for name in SETS}
    support = {name: set().union(*(h for r, h, _ in rs if r["kind"] != "none"))
               for name, rs in per_file.items()}
    tot = [0, 0, 0, 0]
    verdicts: dict[str, list[bool]] = {}
    for name, rs in per_file.items():
        others = set().union(*(support[o] for o in SETS if o != name))
        verdicts[name] = [bool(h & others) or s if r["kind"] != "none" else bool(h) or s for r, h, s in rs]
        real = [(h, s) for r, h, s in rs if r["kind"] != "none"]
        looks = [(h, s) for r, h, s in rs if r["kind"] == "none"]
        hit = sum(bool(h & others) or s for h, s in real)
        fa = sum(bool(h) or s for h, s in looks)
        if silent:
            continue
        tot = [tot[0] + hit, tot[1] + len(real), tot[2] + fa, tot[3] + len(looks)]
        print(f"held out {name:26} recall {hit}/{len(real)} ({100 * hit / len(real):.1f} %)"
              + (f", false alarms {fa}/{len(looks)}" if looks else ""))
    if not silent:
        print(f"held out, all four          recall {tot[0]}/{tot[1]} ({100 * tot[0] / tot[1]:.1f} %), "
              f"false alarms {tot[2]}/{tot[3]} ({100 * tot[2] / tot[3]:.1f} %)")
    return verdicts


def _fold_of(key: str, folds: int) -> int:
    import hashlib

    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % folds


def classifier_folds(patterns_path: Path, c: float, w: float, pw: float | str) -> None:
    """The learnt net (emergency_model.py) held out by file, OR-ed with the patterns held out by
    file (leave_one_file_out). Fold k holds out emergency file k and a quarter of the negatives
    (sheets by id, the rest by text); the everyday questions (the spoken sets, which no model trains
    on, and the sheet titles) are each read by the one fold model that never saw them. Prints the
    curve over thresholds, with and without the patterns' paperwork/nuisance silencers."""
    import time

    import numpy as np

    from callbot.dialog import emergency
    from callbot.dialog.emergency_model import EmergencyModel, emergency_examples, everyday_examples
    from callbot.dialog.nlu_data import fiches_rows

    flows = load_flows(ROOT / "flows")
    pattern_lofo = leave_one_file_out(patterns_path, silent=True)
    sheets = fiches_rows()
    negatives = everyday_examples(flows.intents, sheets)
    spoken = [r["text"] for name in EVERYDAY for r in rows_of(name) if r["topic"] != "urgence"]
    titles = [r.text for r in sheets if r.kind == "title"]
    title_sheet = [r.sheet for r in sheets if r.kind == "title"]
    k = len(SETS)
    neg_fold = [_fold_of(e.source if e.source.startswith("sheet:") else e.text, k) for e in negatives]
    files = {name: emergency_examples([name]) for name in SETS}
    p_file: dict[str, np.ndarray] = {}
    p_spoken = np.zeros(len(spoken))
    p_titles = np.zeros(len(titles))
    titles_fold = [_fold_of(f"sheet:{s}", k) for s in title_sheet]
    secs = []
    for f, name in enumerate(SETS):
        train = [e for o in SETS if o != name for e in files[o]]
        train += [e for e, nf in zip(negatives, neg_fold, strict=True) if nf != f]
        t0 = time.perf_counter()
        model = EmergencyModel.train(train, c=c, look_alike_weight=w, positive_weight=pw)
        secs.append(time.perf_counter() - t0)
        p_file[name] = model.probabilities([e.text for e in files[name]])
        idx = [i for i, tf in enumerate(titles_fold) if tf == f]
        p_titles[idx] = model.probabilities([titles[i] for i in idx])
    # The spoken sets are never trained on: the model trained on everything (the served one) reads
    # them (fold models were milder on them than the served model: 11 against about 30 alarms).
    served = EmergencyModel.train([e for name in SETS for e in files[name]] + negatives, c=c,
                                  look_alike_weight=w, positive_weight=pw)
    p_spoken[:] = served.probabilities(spoken)
    residents = [r["text"] for name in RESIDENT_DEV for r in rows_of(name)]
    stories = [r["text"] for r in rows_of(STORIES)]
    p_sto = served.probabilities(stories)
    p_res = served.probabilities(residents)
    print(f"C={c}, look-alike weight {w}, positive weight {pw}: {len(negatives)} negatives; "
          f"fold model trained in {np.mean(secs):.1f} s on average")

    # The classifier is not asked when the intent layer answers surely (nlu.Nlu.understand).
    intents = Nlu.from_flows(flows, topics=False)
    answered = lambda text: intents._understand(text).action == "answer"  # noqa: E731

    def silenced(text: str) -> bool:
        return emergency.silenced(text) or answered(text)

    pat_spoken = [emergency.emergency_reason(t) is not None for t in spoken]
    pat_titles = [emergency.emergency_reason(t) is not None for t in titles]
    quiet = {name: [silenced(e.text) for e in files[name]] for name in SETS}
    quiet_spoken = [silenced(t) for t in spoken]
    quiet_titles = [silenced(t) for t in titles]
    pat_res = [emergency.emergency_reason(t) is not None for t in residents]
    quiet_res = [silenced(t) for t in residents]
    pat_sto = [emergency.emergency_reason(t) is not None for t in stories]
    quiet_sto = [silenced(t) for t in stories]
    n_every = len(spoken) + len(titles)
    real_n = sum(e.emergency for name in SETS for e in files[name])
    looks_n = sum(not e.emergency for name in SETS for e in files[name])
    pat_hit = sum(v for name in SETS for v, e in zip(pattern_lofo[name], files[name], strict=True)
                  if e.emergency)
    pat_fa = sum(v for name in SETS for v, e in zip(pattern_lofo[name], files[name], strict=True)
                 if not e.emergency)
    pat_ev = sum(pat_spoken) + sum(pat_titles)
    print(f"patterns alone (held out by file): recall {pat_hit}/{real_n} ({100 * pat_hit / real_n:.1f} %), "
          f"look-alikes {pat_fa}/{looks_n}, everyday {pat_ev}/{n_every} (titles {sum(pat_titles)})")
    print("threshold  silencers  | clf alone: recall  look-alikes  everyday(titles) "
          "| OR patterns: recall  look-alikes  everyday(titles)  residents  stories  per file recall")
    for th in (0.03, 0.04, 0.05, 0.06, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        for use_quiet in (False, True):
            cl = {name: [p >= th and not (use_quiet and q)
                         for p, q in zip(p_file[name], quiet[name], strict=True)] for name in SETS}
            cs = [p >= th and not (use_quiet and q) for p, q in zip(p_spoken, quiet_spoken, strict=True)]
            ct = [p >= th and not (use_quiet and q) for p, q in zip(p_titles, quiet_titles, strict=True)]
            c_hit = sum(v for n in SETS for v, e in zip(cl[n], files[n], strict=True) if e.emergency)
            c_fa = sum(v for n in SETS for v, e in zip(cl[n], files[n], strict=True) if not e.emergency)
            per = []
            o_hit = o_fa = 0
            for n in SETS:
                h = sum((a or b) for a, b, e in zip(cl[n], pattern_lofo[n], files[n], strict=True)
                        if e.emergency)
                o_hit += h
                o_fa += sum((a or b) for a, b, e in zip(cl[n], pattern_lofo[n], files[n], strict=True)
                            if not e.emergency)
                per.append(f"{100 * h / sum(e.emergency for e in files[n]):.0f}")
            o_sp = sum(a or b for a, b in zip(cs, pat_spoken, strict=True))
            o_ti = sum(a or b for a, b in zip(ct, pat_titles, strict=True))
            o_res = sum((p >= th and not (use_quiet and q)) or b
                        for p, q, b in zip(p_res, quiet_res, pat_res, strict=True))
            o_sto = sum((p >= th and not (use_quiet and q)) or b
                        for p, q, b in zip(p_sto, quiet_sto, pat_sto, strict=True))
            print(f"  {th:.2f}     {'yes' if use_quiet else 'no ':3}       | {100 * c_hit / real_n:5.1f} %"
                  f"   {c_fa:3}/{looks_n}   {sum(cs) + sum(ct):3}({sum(ct)})"
                  f"            | {100 * o_hit / real_n:5.1f} %  {o_fa:3}/{looks_n}   "
                  f"{o_sp + o_ti:3}/{n_every} ({o_ti})  {o_res:3}/{len(residents)}  "
                  f"{o_sto:3}/{len(stories)}  {'/'.join(per)}")


if __name__ == "__main__":
    import sys

    if "--classifier" in sys.argv:
        c_arg = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--c=")), None)
        w_arg = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--w=")), None)
        pw_arg = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--pw=")), None)
        from callbot.dialog.emergency_model import LOOK_ALIKE_WEIGHT, POSITIVE_WEIGHT, C

        classifier_folds(ROOT / "src" / "callbot" / "dialog" / "data" / "emergency_patterns.yaml",
                         float(c_arg) if c_arg else C, float(w_arg) if w_arg else LOOK_ALIKE_WEIGHT,
                         (pw_arg if pw_arg == "balanced" else float(pw_arg)) if pw_arg else POSITIVE_WEIGHT)
    elif "--lofo" in sys.argv:
        leave_one_file_out(Path(sys.argv[-1]) if sys.argv[-1].endswith(".yaml")
                           else ROOT / "src" / "callbot" / "dialog" / "data" / "emergency_patterns.yaml")
    else:
        main()
