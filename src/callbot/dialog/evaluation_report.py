"""`callbot eval nlu` without --data: understanding measured on text the project did not write.

(a) held-out public-service questions: the sheets are split by id (no sheet in both), a topic
    model is trained on the other four fifths plus the flows, and the held-out sheets' titles
    (residents' questions and sheet titles) are read by the full NLU;
(b) the project's own spoken-style set (tests/data/nlu_eval.jsonl);
(c) set (b) under simulated recogniser noise (25 % by default);
(d) emergencies described by people on public pages (tests/data/emergency_blind4.jsonl, collected
    on 5 December by someone who never saw the detector, and never used to change it; provenance in
    emergency_blind4.md): recall, and false alarms on look-alike questions. The earlier files are
    development data (the net and the classifier learnt from them); `bench/emergency_folds.py
    --lofo` gives a held-out-by-file estimate on those.
For each: topic accuracy, per-topic accuracy, out-of-scope recall, confident-wrong rate, time per
utterance; plus the served model's size, build time and extra memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from callbot.dialog.evaluation import Example, evaluate, load_examples
from callbot.dialog.nlu_data import FichesError, fiches_rows, in_test_split
from callbot.dialog.topic_model import TopicModel, flows_rows, split_label

DATA = Path(__file__).resolve().parents[3] / "tests" / "data"
SPOKEN_SET = DATA / "nlu_eval.jsonl"
EMERGENCY_BLIND_SET = DATA / "emergency_blind4.jsonl"  # (blind and blind2: development data now)
TARGETS = {"a": {"topic_accuracy": 0.92, "hors_mairie": 0.90, "confident_wrong_rate": 0.02},
           "b": {"topic_accuracy": 0.95}, "c": {"topic_accuracy": 0.85}}
KEYS = ("topic_accuracy", "out_of_scope_recall", "confident_wrong_rate", "ms_per_utterance")


def rss_mb() -> float:
    """Resident memory of this process (Linux /proc; 0 elsewhere)."""
    try:
        import resource

        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 1e6
    except (OSError, ValueError, IndexError):
        return 0.0


def emergency_scores(nlu: Any, path: Path = EMERGENCY_BLIND_SET) -> dict[str, Any]:  # noqa: ANN401
    """Recall on the emergency lines (kind ≠ "none"), per kind, and the false-alarm rate on the
    look-alike lines (kind "none": fire permits, flood zones, smoke detectors…)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    readings = {id(r): nlu.understand(r["text"]) for r in rows}
    hit = {k: u.gives_emergency_numbers for k, u in readings.items()}
    real = [r for r in rows if r["kind"] != "none"]
    looks = [r for r in rows if r["kind"] == "none"]
    kinds = sorted({r["kind"] for r in real})
    per_kind = {k: round(sum(hit[id(r)] for r in real if r["kind"] == k)
                         / sum(r["kind"] == k for r in real), 3) for k in kinds}
    share = lambda part: round(sum(hit[id(r)] for r in part) / len(part), 4) if part else None  # noqa: E731
    return {"emergencies": len(real), "recall": share(real), "look_alikes": len(looks),
            "false_alarm_rate": share(looks),
            # false alarms after which the request was still handled (numbers, then the answer)
            "false_alarms_then_answered": sum(readings[id(r)].emergency_notice is not None for r in looks),
            "per_kind": per_kind, "missed": [r["text"] for r in real if not hit[id(r)]],
            "false_alarms": [r["text"] for r in looks if hit[id(r)]]}


def fiches_heldout(flows: Any, fold: int = 0, *, never_seen: tuple[int, ...] = (),  # noqa: ANN401
                   rows: list[Any] | None = None) -> tuple[list[Example], TopicModel]:
    """The titles of fold `fold`'s sheets, and a topic model that never saw those sheets, nor those
    of the folds in `never_seen` (the held-out fold, when the development folds are measured)."""
    rows = fiches_rows() if rows is None else rows
    rows = [r for r in rows if not any(in_test_split(r.sheet, f) for f in never_seen)]
    train = [r for r in rows if not in_test_split(r.sheet, fold)] + flows_rows(flows.intents)
    test = [Example(r.text, None, split_label(r.label)[0]) for r in rows
            if in_test_split(r.sheet, fold) and r.kind == "title"]
    return test, TopicModel.train(train)


def emergency_heldout(flows: Any, fold: int = 0, *, never_seen: tuple[int, ...] = (),  # noqa: ANN401
                      rows: list[Any] | None = None) -> Any:  # noqa: ANN401 - EmergencyModel
    """The emergency classifier trained without the held-out sheets (their titles are (a)'s test:
    an alarm on one counts as confident-wrong, and must not be a training score), nor those of the
    folds in `never_seen`."""
    from callbot.dialog.emergency_model import EmergencyModel, emergency_examples, everyday_examples

    rows = fiches_rows() if rows is None else rows
    sheets = [r for r in rows if not any(in_test_split(r.sheet, f) for f in (fold, *never_seen))]
    return EmergencyModel.train(emergency_examples() + everyday_examples(flows.intents, sheets))


def three_part_report(flows_dir: Path | None, noise: float, seed: int, as_json: bool) -> int:
    from callbot.config import get_settings
    from callbot.dialog.flows import FlowError, load_flows
    from callbot.dialog.nlu import Nlu

    try:
        flows = load_flows(flows_dir or get_settings().flows)
    except FlowError as e:
        typer.echo(str(e), err=True)
        return 2
    from callbot.dialog.topic_model import load_or_build

    report: dict[str, Any] = {}
    served = Nlu.from_flows(flows, topics=False)
    before = rss_mb()  # the topic layer's own cost: scikit-learn and the model
    served.topic_model, served.mode = load_or_build(flows.intents)
    report["model"] = {"mode": served.mode, "extra_memory_mb": round(rss_mb() - before, 1)}
    if served.topic_model is not None:
        report["model"]["size_mb"] = round(served.topic_model.size_bytes() / 1e6, 2)
    from callbot.dialog import emergency_model

    before = rss_mb()
    served.emergency_model, why = emergency_model.load_or_build(flows.intents)
    report["emergency_model"] = {"status": why, "extra_memory_mb": round(rss_mb() - before, 1)}
    if served.emergency_model is not None:
        report["emergency_model"]["size_mb"] = round(served.emergency_model.size_bytes() / 1e6, 2)
        report["emergency_model"]["threshold"] = served.emergency_model.threshold
    try:
        test, model = fiches_heldout(flows)
        held_emergency = emergency_heldout(flows) if served.emergency_model is not None else None
        nlu = Nlu(flows.intents, flows.slot_types, flows.nlu_thresholds, topics=model, mode="topics",
                  emergency_model=held_emergency)
        report["model"]["build_secs"] = round(model.build_secs, 1)
        if held_emergency is not None:
            report["emergency_model"]["build_secs"] = round(held_emergency.build_secs, 1)
        a = evaluate(nlu, test)
        a["hors_mairie_recall"] = a["per_topic"].get("hors_mairie", {}).get("accuracy")
        report["a_fiches_heldout"] = a
    except FichesError as e:
        report["a_fiches_heldout"] = {"error": str(e)}
    spoken = load_examples(SPOKEN_SET) if SPOKEN_SET.is_file() else []
    if spoken:
        report["b_spoken"] = evaluate(served, spoken)
        report["c_spoken_noisy"] = evaluate(served, spoken, noise, seed)
    if EMERGENCY_BLIND_SET.is_file():
        report["d_emergency_blind"] = emergency_scores(served)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        typer.echo(format_three_parts(report))
    return 0


def format_three_parts(report: dict[str, Any]) -> str:
    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f} %"  # noqa: E731
    m = report["model"]
    lines = [f"compréhension : {m['mode']}",
             f"modèle de thèmes : {m.get('size_mb', 'n/a')} Mo, construit en {m.get('build_secs', 'n/a')} s, "
             f"mémoire en plus {m['extra_memory_mb']} Mo"]
    e = report.get("emergency_model")
    if e is not None:
        lines.append(f"classifieur d'urgences : {e['status']}, {e.get('size_mb', 'n/a')} Mo, construit en "
                     f"{e.get('build_secs', 'n/a')} s, seuil {e.get('threshold', 'n/a')}, "
                     f"mémoire en plus {e['extra_memory_mb']} Mo")
    lines.append("")
    names = {"a_fiches_heldout": "(a) questions réelles des fiches, par fiche tenue à l'écart",
             "b_spoken": "(b) jeu oral du projet", "c_spoken_noisy": "(c) jeu oral, bruit de reconnaissance"}
    for key, title in names.items():
        r = report.get(key)
        if r is None:
            continue
        lines.append(f"{title}")
        if "error" in r:
            lines += [f"  indisponible : {r['error']}", ""]
            continue
        lines.append(f"  énoncés {r['utterances']} ; thème {pct(r['topic_accuracy'])} ; "
                     f"hors périmètre {pct(r['out_of_scope_recall'])} ; faux avec assurance "
                     f"{pct(r['confident_wrong_rate'])} ; {r['ms_per_utterance']:.2f} ms/énoncé")
        lines.append("  par thème : " + ", ".join(f"{t} {pct(s['accuracy'])} ({s['support']})"
                                              for t, s in r["per_topic"].items()))
        lines.append("")
    d = report.get("d_emergency_blind")
    if d is not None:
        lines.append("(d) urgences décrites par des gens (emergency_blind4, jamais utilisé pour régler "
                     "la détection)")
        lines.append(f"  {d['emergencies']} urgences : rappel {pct(d['recall'])} ; {d['look_alikes']} "
                     f"questions qui leur ressemblent : fausses alertes {pct(d['false_alarm_rate'])}"
                     f" (dont {d['false_alarms_then_answered']} suivies de la réponse)")
        lines.append("  par type : " + ", ".join(f"{k} {pct(v)}" for k, v in d["per_kind"].items()))
        lines.append("")
    return "\n".join(lines)
