"""The figures as files: JSON for `callbot stats --json`, YAML examples for flows/, CSV cells.

(The dashboard's CSV exports are written by web/dashboard_tables.py: one table definition serves
the HTML table, its sort links and its CSV file; each text cell goes through `csv_cell`.)
"""

from __future__ import annotations

import yaml

from callbot.analytics.figures import WEEKDAYS, Figures
from callbot.analytics.histograms import Distribution
from callbot.analytics.utterances import UtteranceGroup

# A spreadsheet runs a cell starting with these as a formula ("=HYPERLINK(…)", "@SUM(…)", "+cmd|…"):
# callers' words are untrusted text (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: object) -> object:
    """A text cell that a spreadsheet would read as a formula gets a leading apostrophe; numbers
    (negative trends included) stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def yaml_snippet(groups: list[UtteranceGroup], intent: str | None = None) -> str:
    """Examples to paste under an intent in flows/ (the manager picks or fixes the intent name)."""
    by_intent: dict[str, list[str]] = {}
    for g in groups:
        name = intent or g.intent or "a_choisir"
        by_intent.setdefault(name, []).extend(v for v, _ in g.variants)
    doc = {"intents": {name: {"examples": list(dict.fromkeys(ex))} for name, ex in by_intent.items()}}
    header = (
        "# Phrases non reconnues relevées par le tableau de bord (callbot).\n"
        "# Vérifiez l'intention de chaque exemple avant de les ajouter dans flows/.\n"
    )
    return header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100)


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def _distribution(d: Distribution) -> dict:
    return {"count": d.count, "mean": _r(d.mean), "p50": _r(d.p50), "p95": _r(d.p95)}


def as_json(f: Figures) -> dict:
    """The figures as plain JSON (`callbot stats --json`); keys are part of the contract."""
    t = f.totals
    peak_n, peak_at = f.peak
    return {
        "from": f.period.start.isoformat(),
        "to": f.period.end.isoformat(),
        "services": list(f.period.services),
        "topics": list(f.period.topics),
        "calls": t.calls,
        "resolved_by_bot": t.resolved_by_bot,
        "containment": _r(t.containment, 4),
        "transferred": t.transferred,
        "transfers_by_reason": dict(f.transfers),
        "callbacks": t.callbacks,
        "callback_outcomes": t.callbacks_outcome,
        "ended_no_agent": t.ended_no_agent,
        "abandoned": t.abandoned,
        "abandoned_before_answer": t.abandoned_before_answer,
        "abandoned_in_queue": t.abandoned_in_queue,
        "outcomes": dict(f.outcomes),
        "oriented": t.oriented,
        "oriented_by_kind": dict(f.oriented_kinds),
        "peak_simultaneous": peak_n,
        "peak_at": peak_at.isoformat() if peak_at else None,
        "calls_per_day": {r.day.isoformat(): r.calls for r in f.series.days},
        "heatmap": {WEEKDAYS[d]: row for d, row in enumerate(f.series.heatmap)},
        "top_topics": [
            {"topic": r.key, "calls": r.count, "previous": r.previous, "trend": _r(r.trend, 4)}
            for r in f.topics
        ],
        "top_intents": [
            {
                "intent": r.key,
                "topic": r.topic,
                "calls": r.count,
                "previous": r.previous,
                "trend": _r(r.trend, 4),
            }
            for r in f.intents
        ],
        "unrecognised": [
            {
                "text": g.text,
                "count": g.count,
                "variants": dict(g.variants),
                "reasons": g.reasons,
                "actions": g.actions,
            }
            for g in f.unrecognised
        ],
        "call_duration_s": _distribution(f.durations),
        "queue_wait_s": _distribution(f.queue_waits),
        "response_ms": _distribution(f.latency),
        "satisfaction": {
            "count": f.satisfaction_count,
            "mean": _r(f.satisfaction_mean, 2),
            "by_score": {str(k): v for k, v in f.satisfaction.items()},
        },
    }
