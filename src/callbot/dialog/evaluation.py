"""`callbot eval nlu`: score the NLU on a labelled JSONL set (never used for training).

Each line: {"text": …, "intent": id or null (off-topic or unknown), "topic": id or null}. A
prediction is the intent the NLU settled on (null when it fell back) and the topic it reported
(`callbot nlu`'s: the best routing topic, with or without an intent). Metrics:
- topic accuracy (overall and per topic) and intent accuracy (on lines that name an intent);
- per-intent precision and recall, and the most frequent confusion pairs;
- confident-wrong rate: acted on without asking back (answer, orient, transfer…) with a wrong topic,
  or a wrong intent where the line names one;
- out-of-scope recall: hors_mairie lines read as hors_mairie, off-topic lines not read as a
  town-hall topic;
- time per utterance.
Without --data, the three-part report of issue 10 (evaluation_report.py).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from callbot.dialog.control import OUT_OF_SCOPE_TOPIC
from callbot.dialog.noise import asr_noise
from callbot.dialog.types import Action

# Actions where the bot acts on the intent without asking back.
ANSWERING = frozenset({Action.ANSWER, Action.TRANSFER, Action.OUT_OF_SCOPE, Action.EMERGENCY, Action.CONTROL,
                       Action.REPEAT, Action.GOODBYE, Action.ORIENT})


@dataclass
class Example:
    text: str
    intent: str | None
    topic: str | None


def load_examples(path: Path) -> list[Example]:
    examples = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            examples.append(Example(str(rec["text"]), rec.get("intent"), rec.get("topic")))
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}:{n}: ligne invalide ({e})") from e
    return examples


def evaluate(nlu: Any, examples: list[Example], noise: float = 0.0, seed: int = 0) -> dict[str, Any]:  # noqa: ANN401
    rows = []
    start = time.perf_counter()
    for ex in examples:
        text = asr_noise(ex.text, noise, seed) if noise > 0 else ex.text
        rows.append((ex, text, nlu.understand(text)))
    elapsed = time.perf_counter() - start
    n = len(rows)
    intent_ok = intent_n = topic_ok = confident_wrong = 0
    oos_total = oos_ok = 0
    topic_total: Counter = Counter()
    topic_right: Counter = Counter()
    tp: Counter = Counter()
    predicted: Counter = Counter()
    expected: Counter = Counter()
    confusions: Counter = Counter()
    errors = []
    for ex, text, u in rows:
        got = u.intent
        ok = got == ex.intent
        scored = ex.intent is not None or ex.topic is None  # a topic-only line names no intent
        intent_n += scored
        intent_ok += ok and scored
        topic_hit = u.topic == ex.topic
        topic_ok += topic_hit
        topic_total[ex.topic or "(hors sujet)"] += 1
        topic_right[ex.topic or "(hors sujet)"] += topic_hit
        if got:
            predicted[got] += 1
        if ex.intent:
            expected[ex.intent] += 1
        if ok and got:
            tp[got] += 1
        wrong = not topic_hit or (ex.intent is not None and got is not None and not ok)
        if (scored and not ok) or not topic_hit:
            confusions[(ex.intent or ex.topic or "(hors sujet)", got or u.topic or "(fallback)")] += 1
            errors.append({"text": text, "expected": ex.intent, "expected_topic": ex.topic, "got": got,
                           "topic": u.topic, "action": u.action, "confidence": round(u.confidence, 3),
                           "reason": u.fallback_reason})
        if wrong and (got or u.topic) and u.action in ANSWERING:
            confident_wrong += 1
        if ex.topic == OUT_OF_SCOPE_TOPIC:
            oos_total += 1
            oos_ok += u.topic == OUT_OF_SCOPE_TOPIC
        elif ex.intent is None and ex.topic is None:
            oos_total += 1
            oos_ok += u.topic in (None, OUT_OF_SCOPE_TOPIC)
    per_intent = {
        i: {"precision": round(tp[i] / predicted[i], 3) if predicted[i] else None,
            "recall": round(tp[i] / expected[i], 3), "support": expected[i]}
        for i in sorted(expected)
    }
    per_topic = {t: {"accuracy": round(topic_right[t] / topic_total[t], 3), "support": topic_total[t]}
                 for t in sorted(topic_total)}
    return {
        "utterances": n,
        "asr_noise": noise,
        "seed": seed,
        "topic_accuracy": round(topic_ok / n, 4) if n else 0.0,
        "intent_accuracy": round(intent_ok / intent_n, 4) if intent_n else None,
        "confident_wrong_rate": round(confident_wrong / n, 4) if n else 0.0,
        "out_of_scope_recall": round(oos_ok / oos_total, 4) if oos_total else None,
        "out_of_scope_utterances": oos_total,
        "ms_per_utterance": round(1000 * elapsed / n, 3) if n else 0.0,
        "per_intent": per_intent,
        "per_topic": per_topic,
        "confusions": [{"expected": a, "got": b, "count": c} for (a, b), c in confusions.most_common(15)],
        "errors": errors,
    }


def format_report(m: dict[str, Any]) -> str:
    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f} %"  # noqa: E731
    lines = [
        f"énoncés               : {m['utterances']}  (bruit ASR {m['asr_noise']:.2f}, graine {m['seed']})",
        f"exactitude thème      : {pct(m['topic_accuracy'])}",
        f"exactitude intention  : {pct(m['intent_accuracy'])}",
        f"faux avec assurance   : {pct(m['confident_wrong_rate'])}",
        f"rappel hors périmètre : {pct(m['out_of_scope_recall'])} sur {m['out_of_scope_utterances']}",
        f"temps par énoncé      : {m['ms_per_utterance']:.2f} ms",
        "",
        "intention                      précision  rappel  n",
    ]
    for intent, s in m["per_intent"].items():
        lines.append(f"{intent:30} {pct(s['precision']):>9}  {pct(s['recall']):>7}  {s['support']}")
    lines += ["", "thème                          exactitude  n"]
    for topic, s in m["per_topic"].items():
        lines.append(f"{topic:30} {pct(s['accuracy']):>10}  {s['support']}")
    if m["confusions"]:
        lines += ["", "confusions les plus fréquentes (attendu → obtenu) :"]
        lines += [f"  {c['count']:3d}  {c['expected']} → {c['got']}" for c in m["confusions"]]
    return "\n".join(lines)


eval_app = typer.Typer(help="Évaluations hors ligne.", no_args_is_help=True)


@eval_app.command("nlu")
def eval_nlu(
    data: Path | None = typer.Option(None, "--data", help="fichier JSONL étiqueté (text, intent, topic) ; "
                                     "sans lui : le rapport en trois parties (fiches, oral, oral bruité)"),
    asr_noise_rate: float = typer.Option(0.0, "--asr-noise", min=0.0, max=1.0,
                                         help="part des mots perturbés comme par un recogniseur"),
    seed: int = typer.Option(0, "--seed", help="graine du bruit (résultat reproductible)"),
    as_json: bool = typer.Option(False, "--json", help="métriques en JSON"),
    flows: Path | None = typer.Option(None, "--flows", help="répertoire des flows (CALLBOT_FLOWS)"),
) -> None:
    """Exactitude, précision/rappel par intention, confusions, faux avec assurance, hors périmètre."""
    from callbot.dialog.nlu_cli import _load_nlu

    if data is None:
        from callbot.dialog.evaluation_report import three_part_report

        raise typer.Exit(three_part_report(flows, asr_noise_rate or 0.25, seed, as_json))
    try:
        examples = load_examples(data)
    except (OSError, ValueError) as e:
        typer.echo(f"erreur : {e}", err=True)
        raise typer.Exit(2) from e
    if not examples:
        typer.echo(f"erreur : {data} ne contient aucun énoncé", err=True)
        raise typer.Exit(2)
    nlu, _ = _load_nlu(flows)
    metrics = evaluate(nlu, examples, asr_noise_rate, seed)
    if as_json:
        typer.echo(json.dumps(metrics, ensure_ascii=False, indent=2))
    else:
        typer.echo(format_report(metrics))
