"""The dashboard's tables: one definition serves the HTML table, its sort links and its CSV export.

Each table is declared on the function that builds its rows from the figures (`@table`), in the
order the page shows them. No table carries a phone number: figures are aggregates, utterances are
what callers said.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from callbot.analytics.exports import csv_cell
from callbot.analytics.figures import OUTCOME_LABELS, REASON_LABELS, WEEKDAYS, Figures


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
                    "" if v is None
                    else (f"{v:.4f}".rstrip("0").rstrip(".") if isinstance(v, float) else csv_cell(v))
                    for v in row
                ]
            )
        return out.getvalue()


def number(key: str, label: str) -> Column:
    """A numeric column (right-aligned, sorted as a number)."""
    return Column(key, label, numeric=True)


TABLES: dict[str, Table] = {}
Rows = Callable[[Figures], list[tuple]]


def table(
    name: str, title: str, *columns: Column, sort: str | None = None, desc: bool = True
) -> Callable[[Rows], Rows]:
    """Declare the table whose rows the decorated function builds (registered in TABLES)."""

    def register(rows: Rows) -> Rows:
        TABLES[name] = Table(name, title, columns, rows, sort, desc)
        return rows

    return register


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _trend(x: float | None) -> float | None:
    return None if x is None else round(100 * x, 1)


def _rounded(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


@table(
    "jours", "Appels par jour",
    Column("jour", "Jour"), number("appels", "Appels"), number("resolus", "Résolus par le bot"),
    number("transferes", "Transférés"), number("abandonnes", "Abandonnés"), number("taux", "Résolution (%)"),
    sort="jour", desc=False,
)  # fmt: skip
def _days(f: Figures) -> list[tuple]:
    return [
        (r.day.isoformat(), r.calls, r.resolved, r.transferred, r.abandoned, _pct(r.resolved, r.calls))
        for r in f.series.days
    ]


@table("heures", "Appels par heure de la semaine", Column("jour", "Jour"), number("heure", "Heure"),
       number("appels", "Appels"))  # fmt: skip
def _hours(f: Figures) -> list[tuple]:
    return [(WEEKDAYS[d], h, n) for d, row in enumerate(f.series.heatmap) for h, n in enumerate(row)]


@table("issues", "Issue des appels", Column("code", "Code"), Column("issue", "Issue"),
       number("appels", "Appels"), number("part", "Part (%)"), sort="appels")  # fmt: skip
def _outcomes(f: Figures) -> list[tuple]:
    t = f.totals.calls
    return [(o, OUTCOME_LABELS.get(o, o), n, _pct(n, t)) for o, n in f.outcomes]


@table("transferts", "Transferts par motif", Column("code", "Code"), Column("motif", "Motif"),
       number("appels", "Transferts"), number("part", "Part (%)"), sort="appels")  # fmt: skip
def _transfers(f: Figures) -> list[tuple]:
    total = sum(n for _, n in f.transfers)
    return [(r, REASON_LABELS.get(r, r), n, _pct(n, total)) for r, n in f.transfers]


@table(
    "sujets", "Sujets les plus demandés",
    Column("sujet", "Sujet"), number("appels", "Appels"), number("precedent", "Période précédente"),
    number("tendance", "Tendance (%)"),
    sort="appels",
)  # fmt: skip
def _topics(f: Figures) -> list[tuple]:
    return [(r.key, r.count, r.previous, _trend(r.trend)) for r in f.topics]


@table(
    "intentions", "Intentions les plus reconnues",
    Column("intention", "Intention"), Column("sujet", "Sujet"), number("appels", "Appels"),
    number("precedent", "Période précédente"), number("tendance", "Tendance (%)"),
    sort="appels",
)  # fmt: skip
def _intents(f: Figures) -> list[tuple]:
    return [(r.key, r.topic, r.count, r.previous, _trend(r.trend)) for r in f.intents]


@table(
    "orientations", "Orientations vers un autre organisme",
    Column("organisme", "Question (organisme compétent)"), number("appels", "Appels orientés"),
    number("part", "Part des appels orientés (%)"),
    sort="appels",
)  # fmt: skip
def _oriented(f: Figures) -> list[tuple]:
    total = f.totals.oriented
    return [(kind, n, _pct(n, total)) for kind, n in f.oriented_kinds]


@table(
    "incompris", "Phrases non reconnues ou peu sûres",
    Column("phrase", "Phrase"), number("occurrences", "Occurrences"), number("variantes", "Variantes"),
    Column("exemples", "Formulations"), Column("motif", "Motif du repli"),
    Column("action", "Réaction du bot"), number("confiance", "Confiance moyenne"),
    Column("intention", "Intention pressentie"),
    sort="occurrences",
)  # fmt: skip
def _unrecognised(f: Figures) -> list[tuple]:
    return [
        (
            g.text,
            g.count,
            len(g.variants),
            " | ".join(v for v, _ in g.variants[:8]),
            " ; ".join(g.reasons[:3]),
            ", ".join(g.actions),
            _rounded(g.confidence, 2),
            g.intent,
        )
        for g in f.unrecognised
    ]


@table(
    "durees", "Durées et temps de réponse",
    Column("mesure", "Mesure"), Column("unite", "Unité"), number("nombre", "Nombre"),
    number("moyenne", "Moyenne"), number("p50", "Médiane (p50)"), number("p95", "p95"),
)  # fmt: skip
def _durations(f: Figures) -> list[tuple]:
    measures = (
        ("Durée d'appel", "s", f.durations),
        ("Attente en file avant prise en charge", "s", f.queue_waits),
        ("Temps de réponse du bot", "ms", f.latency),
    )
    return [
        (label, unit, d.count, _rounded(d.mean), _rounded(d.p50), _rounded(d.p95))
        for label, unit, d in measures
    ]


@table("satisfaction", "Satisfaction en fin d'appel", number("note", "Note (1 à 5)"),
       number("reponses", "Réponses"), number("part", "Part (%)"), sort="note", desc=False)  # fmt: skip
def _satisfaction(f: Figures) -> list[tuple]:
    total = f.satisfaction_count
    return [(k, n, _pct(n, total)) for k, n in sorted(f.satisfaction.items())]
