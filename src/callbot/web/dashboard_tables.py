"""The dashboard's tables: one definition serves the HTML table, its sort links and its CSV export.

No table carries a phone number: figures are aggregates, utterances are what callers said.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from callbot.analytics.figures import OUTCOME_LABELS, REASON_LABELS, WEEKDAYS, Figures
from callbot.analytics.histograms import Distribution


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    name: str  # URL name: /dashboard/export/<name>.csv
    title: str
    columns: tuple[Column, ...]
    rows: Callable[[Figures], list[tuple]]
    default_sort: str | None = None
    default_desc: bool = True

    def sorted_rows(self, f: Figures, key: str | None, desc: bool | None) -> list[tuple]:
        rows = self.rows(f)
        keys = [c.key for c in self.columns]
        key = key if key in keys else self.default_sort
        if key is None:
            return rows
        i = keys.index(key)
        desc = self.default_desc if desc is None else desc
        # None last whatever the direction; text compared case-insensitively.
        present = [r for r in rows if r[i] is not None]
        missing = [r for r in rows if r[i] is None]
        present.sort(key=lambda r: r[i].lower() if isinstance(r[i], str) else r[i], reverse=desc)
        return present + missing

    def csv(self, f: Figures) -> str:
        out = io.StringIO()
        w = csv.writer(out, delimiter=";")
        w.writerow([c.label for c in self.columns])
        for row in self.rows(f):
            w.writerow(
                [
                    "" if v is None else (f"{v:.4f}".rstrip("0").rstrip(".") if isinstance(v, float) else v)
                    for v in row
                ]
            )
        return out.getvalue()


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _trend(x: float | None) -> float | None:
    return None if x is None else round(100 * x, 1)


def _days(f: Figures) -> list[tuple]:
    return [
        (r.day.isoformat(), r.calls, r.resolved, r.transferred, r.abandoned, _pct(r.resolved, r.calls))
        for r in f.series.days
    ]


def _hours(f: Figures) -> list[tuple]:
    return [(WEEKDAYS[d], h, n) for d, row in enumerate(f.series.heatmap) for h, n in enumerate(row)]


def _outcomes(f: Figures) -> list[tuple]:
    t = f.totals.calls
    return [(o, OUTCOME_LABELS.get(o, o), n, _pct(n, t)) for o, n in f.outcomes]


def _transfers(f: Figures) -> list[tuple]:
    total = sum(n for _, n in f.transfers)
    return [(r, REASON_LABELS.get(r, r), n, _pct(n, total)) for r, n in f.transfers]


def _topics(f: Figures) -> list[tuple]:
    return [(r.key, r.count, r.previous, _trend(r.trend)) for r in f.topics]


def _intents(f: Figures) -> list[tuple]:
    return [(r.key, r.topic, r.count, r.previous, _trend(r.trend)) for r in f.intents]


def _unrecognised(f: Figures) -> list[tuple]:
    return [
        (
            g.text,
            g.count,
            len(g.variants),
            " | ".join(v for v, _ in g.variants[:8]),
            " ; ".join(g.reasons[:3]),
            ", ".join(g.actions),
            None if g.confidence is None else round(g.confidence, 2),
            g.intent,
        )
        for g in f.unrecognised
    ]


def _dist_row(label: str, unit: str, d: Distribution) -> tuple:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 1)

    return (label, unit, d.count, r(d.mean), r(d.p50), r(d.p95))


def _durations(f: Figures) -> list[tuple]:
    return [
        _dist_row("Durée d'appel", "s", f.durations),
        _dist_row("Attente en file avant prise en charge", "s", f.queue_waits),
        _dist_row("Temps de réponse du bot", "ms", f.latency),
    ]


def _satisfaction(f: Figures) -> list[tuple]:
    total = f.satisfaction_count
    return [(k, n, _pct(n, total)) for k, n in sorted(f.satisfaction.items())]


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "jours",
            "Appels par jour",
            (
                Column("jour", "Jour"),
                Column("appels", "Appels", True),
                Column("resolus", "Résolus par le bot", True),
                Column("transferes", "Transférés", True),
                Column("abandonnes", "Abandonnés", True),
                Column("taux", "Résolution (%)", True),
            ),
            _days,
            "jour",
            False,
        ),
        Table(
            "heures",
            "Appels par heure de la semaine",
            (Column("jour", "Jour"), Column("heure", "Heure", True), Column("appels", "Appels", True)),
            _hours,
        ),
        Table(
            "issues",
            "Issue des appels",
            (
                Column("code", "Code"),
                Column("issue", "Issue"),
                Column("appels", "Appels", True),
                Column("part", "Part (%)", True),
            ),
            _outcomes,
            "appels",
        ),
        Table(
            "transferts",
            "Transferts par motif",
            (
                Column("code", "Code"),
                Column("motif", "Motif"),
                Column("appels", "Transferts", True),
                Column("part", "Part (%)", True),
            ),
            _transfers,
            "appels",
        ),
        Table(
            "sujets",
            "Sujets les plus demandés",
            (
                Column("sujet", "Sujet"),
                Column("appels", "Appels", True),
                Column("precedent", "Période précédente", True),
                Column("tendance", "Tendance (%)", True),
            ),
            _topics,
            "appels",
        ),
        Table(
            "intentions",
            "Intentions les plus reconnues",
            (
                Column("intention", "Intention"),
                Column("sujet", "Sujet"),
                Column("appels", "Appels", True),
                Column("precedent", "Période précédente", True),
                Column("tendance", "Tendance (%)", True),
            ),
            _intents,
            "appels",
        ),
        Table(
            "incompris",
            "Phrases non reconnues ou peu sûres",
            (
                Column("phrase", "Phrase"),
                Column("occurrences", "Occurrences", True),
                Column("variantes", "Variantes", True),
                Column("exemples", "Formulations"),
                Column("motif", "Motif du repli"),
                Column("action", "Réaction du bot"),
                Column("confiance", "Confiance moyenne", True),
                Column("intention", "Intention pressentie"),
            ),
            _unrecognised,
            "occurrences",
        ),
        Table(
            "durees",
            "Durées et temps de réponse",
            (
                Column("mesure", "Mesure"),
                Column("unite", "Unité"),
                Column("nombre", "Nombre", True),
                Column("moyenne", "Moyenne", True),
                Column("p50", "Médiane (p50)", True),
                Column("p95", "p95", True),
            ),
            _durations,
        ),
        Table(
            "satisfaction",
            "Satisfaction en fin d'appel",
            (
                Column("note", "Note (1 à 5)", True),
                Column("reponses", "Réponses", True),
                Column("part", "Part (%)", True),
            ),
            _satisfaction,
            "note",
            False,
        ),
    )
}
