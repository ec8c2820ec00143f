"""The dashboard's figures for a period: what the managers' page, its exports and `callbot stats` show.

`compute` adds up the per-day summaries (analytics/rollups.py: past local days are stored, per
service and topic filter, and kept right by triggers; today is summarised live), so a page costs
the same whatever the number of calls. tests/dashboard/oracle.py computes every figure again
straight from the calls; the tests compare the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, literal, select, text, union_all
from sqlalchemy.orm import Session

from callbot.analytics import rollups
from callbot.analytics.day_summary import DaySummary, Key, is_stored
from callbot.analytics.histograms import Distribution, distribution, merge_histograms
from callbot.analytics.periods import LOCAL_TZ, Period, as_date, aware, day_bounds, local_today
from callbot.analytics.sql_expressions import call_filters
from callbot.analytics.summarise import live_day_peak
from callbot.analytics.utterances import UtteranceGroup, unrecognised
from callbot.store.models import Call, DailyRollup
from callbot.vocabulary import Outcome

OUTCOME_LABELS = {
    Outcome.RESOLVED: "Résolu par le bot",
    Outcome.TRANSFERRED: "Transféré",
    Outcome.CALLBACK: "Rappel demandé",
    Outcome.ENDED_NO_AGENT: "Fin sans agent disponible",
    Outcome.ABANDONED: "Abandonné avant réponse",
    Outcome.IN_PROGRESS: "En cours",
    Outcome.INTERRUPTED: "Interrompu (arrêt du serveur)",
}
REASON_LABELS = {
    "asked_agent": "Demande d'un agent",
    "misunderstanding": "Incompréhensions répétées",
    "no_input": "Pas de réponse de l'appelant",
    "out_of_scope": "Hors du champ de la mairie",
    "emergency": "Urgence",
    "topic": "Sujet configuré pour un transfert",
    "bot_fault": "Incident du robot",
    "time_limit": "Durée maximale atteinte",
    "overload": "Robot saturé ou en arrêt",
}
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


@dataclass
class Totals:
    calls: int = 0
    resolved_by_bot: int = 0
    transferred: int = 0
    callbacks_outcome: int = 0
    ended_no_agent: int = 0
    abandoned_before_answer: int = 0
    abandoned_in_queue: int = 0
    in_progress: int = 0
    callbacks: int = 0  # callback requests recorded (callbacks table)
    oriented: int = 0  # resolved calls told which outside body handles the question (analytics/oriented.py)

    @property
    def abandoned(self) -> int:
        return self.abandoned_before_answer + self.abandoned_in_queue

    @property
    def containment(self) -> float | None:
        return self.resolved_by_bot / self.calls if self.calls else None


@dataclass
class Breakdown:
    """Call counts per (outcome, transfer reason, hung up in queue, satisfaction): a few dozen rows."""

    rows: list[tuple[str, str | None, bool, int | None, int]]

    def _sum(self, pred) -> int:  # noqa: ANN001
        return sum(n for r in self.rows if pred(r) for n in (r[4],))

    def totals(self, callbacks: int) -> Totals:
        by = self.outcomes_dict()
        return Totals(
            calls=self._sum(lambda r: True),
            resolved_by_bot=by.get(Outcome.RESOLVED, 0),
            transferred=by.get(Outcome.TRANSFERRED, 0),
            callbacks_outcome=by.get(Outcome.CALLBACK, 0),
            ended_no_agent=by.get(Outcome.ENDED_NO_AGENT, 0),
            abandoned_before_answer=by.get(Outcome.ABANDONED, 0),
            abandoned_in_queue=self._sum(lambda r: r[2]),
            in_progress=by.get(Outcome.IN_PROGRESS, 0),
            callbacks=callbacks,
        )

    def outcomes_dict(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o, _, _, _, n in self.rows:
            out[o] = out.get(o, 0) + n
        return out

    def outcomes(self) -> list[tuple[str, int]]:
        return sorted(self.outcomes_dict().items(), key=lambda kv: (-kv[1], kv[0]))

    def transfers(self) -> list[tuple[str, int]]:
        out: dict[str, int] = {}
        for _, reason, _, _, n in self.rows:
            if reason is not None:
                out[reason] = out.get(reason, 0) + n
        return sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))

    def satisfaction(self) -> dict[int, int]:
        counts = {k: 0 for k in range(1, 6)}
        for _, _, _, score, n in self.rows:
            if score is not None and 1 <= score <= 5:
                counts[score] += n
        return counts


@dataclass
class DayRow:
    day: date
    calls: int = 0
    resolved: int = 0
    transferred: int = 0
    abandoned: int = 0


@dataclass
class TimeSeries:
    days: list[DayRow]
    heatmap: list[list[int]]  # [weekday 0=Monday][hour 0..23], local time


@dataclass
class Ranked:
    key: str
    topic: str | None
    count: int
    previous: int

    @property
    def trend(self) -> float | None:
        """Relative change against the previous period (None when it had none)."""
        return (self.count - self.previous) / self.previous if self.previous else None


@dataclass
class Figures:
    period: Period
    totals: Totals
    outcomes: list[tuple[str, int]]
    transfers: list[tuple[str, int]]
    series: TimeSeries
    peak: tuple[int, datetime | None]
    topics: list[Ranked]
    intents: list[Ranked]
    unrecognised: list[UtteranceGroup]
    durations: Distribution
    queue_waits: Distribution
    latency: Distribution
    satisfaction: dict[int, int]
    # Oriented calls per hors_mairie sub-kind (intent), most asked first: which outside bodies
    # residents ask the town hall about.
    oriented_kinds: list[tuple[str, int]] = field(default_factory=list)

    @property
    def satisfaction_count(self) -> int:
        return sum(self.satisfaction.values())

    @property
    def satisfaction_mean(self) -> float | None:
        n = self.satisfaction_count
        return sum(k * v for k, v in self.satisfaction.items()) / n if n else None


def compute(s: Session, period: Period, today: date | None = None) -> Figures:
    """Every figure of the period, filtered or not: from the daily summaries of past days plus a
    live summary of today (analytics/rollups.py)."""
    today = today or local_today()
    key = (period.services, period.topics)
    prev = period.previous()
    if prev.start < today:  # one look at which days are stored, for the period and the previous one
        rollups.fresh_days(s, prev.start, min(period.end, today - timedelta(days=1)))
    days = rollups.summaries(s, period.start, period.end, today, key)
    rows: dict[tuple, int] = {}
    heat = [[0] * 24 for _ in range(7)]
    series: list[DayRow] = []
    hists: dict[str, list] = {"durations": [], "queue_waits": [], "latency": []}
    current: dict[tuple, int] = {}
    callbacks = oriented = 0
    kinds: dict[str, int] = {}
    for d in days:
        row = DayRow(d.day)
        for (o, r, h, sat), n in d.breakdown.items():
            k = (o, r, bool(h), sat)
            rows[k] = rows.get(k, 0) + n
            row.calls += n
            if o == Outcome.RESOLVED:
                row.resolved += n
            elif o == Outcome.TRANSFERRED:
                row.transferred += n
            elif o == Outcome.ABANDONED:
                row.abandoned += n
        series.append(row)
        weekday = heat[d.day.weekday()]
        for hour, n in d.hours.items():
            weekday[int(hour)] += n
        for name, parts in hists.items():
            parts.append(getattr(d, name))
        for topic_intent, n in d.topics.items():
            current[topic_intent] = current.get(topic_intent, 0) + n
        callbacks += d.callbacks
        oriented += d.oriented
        for kind, n in d.oriented_kinds.items():
            kinds[kind] = kinds.get(kind, 0) + n
    if is_stored(key):
        peak_n, peak_at = _peak_over_days(s, days, key)
    else:  # several services or topics: their calls overlap, day peaks do not add up
        peak_n, peak_at = peak_simultaneous(s, period)
    previous: dict[tuple, int] = {}
    for topic, intent, n in rollups.topic_counts(s, prev.start, prev.end, today, key):
        previous[(topic, intent)] = previous.get((topic, intent), 0) + n
    topics, intents = rank_topics_and_intents(current, previous)
    b = Breakdown([(o, r, h, sat, n) for (o, r, h, sat), n in rows.items()])
    dist = {k: distribution(merge_histograms(v)) for k, v in hists.items()}
    totals = b.totals(callbacks)
    totals.oriented = oriented
    return Figures(
        period=period,
        totals=totals,
        outcomes=b.outcomes(),
        transfers=b.transfers(),
        series=TimeSeries(days=series, heatmap=heat),
        peak=(peak_n, peak_at) if peak_n else (0, None),
        topics=topics,
        intents=intents,
        unrecognised=unrecognised(s, period, today=today),
        durations=dist["durations"],
        queue_waits=dist["queue_waits"],
        latency=dist["latency"],
        satisfaction=b.satisfaction(),
        oriented_kinds=ranked_counts(kinds),
    )


def ranked_counts(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Counts by name, most first (then by name)."""
    return sorted(((k, n) for k, n in counts.items() if n), key=lambda kv: (-kv[1], kv[0]))


def _peak_over_days(s: Session, days: list[DaySummary], key: Key) -> tuple[int, datetime | None]:
    """The most calls in progress at once over consecutive days, from each day's stored peaks.

    Calls of earlier days still running at midnight add to the day's own peak; those of the
    previous day that end during it are in its stored peak_prev; older ones ending during it
    (calls over 24 h) make the day swept live."""
    peak_n, peak_at = 0, None
    older: list = []  # end times of calls from before the previous day still running
    prev_open: list = []  # the previous day's calls running past midnight
    for d in days:
        ws, we = day_bounds(d.day)
        older = [e for e in older if e is None or e > ws]
        if any(e is not None and e < we for e in older):
            n, at = live_day_peak(s, d.day, older + prev_open, key)
        elif any(e is not None and e < we for e in prev_open):
            n, at = d.peak_prev or (0, None)
            n += len(older)
        elif d.peak:
            n, at = d.peak[0] + len(older) + len(prev_open), d.peak[1]
        else:
            n, at = 0, None
        if n > peak_n:
            peak_n, peak_at = n, at
        older += prev_open
        prev_open = list(d.open_ends)
    return peak_n, peak_at


def rank_topics_and_intents(
    current: dict[tuple, int], previous: dict[tuple, int], topic_limit: int = 20, intent_limit: int = 30
) -> tuple[list[Ranked], list[Ranked]]:
    """Topics and intents by calls in the period (then by name), with their count in the previous
    one, from (topic, intent) counts."""
    topics: dict[str, list[int]] = {}
    intents: dict[str, list] = {}
    for idx, counts in ((0, current), (1, previous)):
        for (topic, intent), n in sorted(counts.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or "")):
            if topic is not None:
                topics.setdefault(topic, [0, 0])[idx] += n
            if intent is not None:
                i = intents.setdefault(intent, [topic, 0, 0])
                i[1 + idx] += n
    ranked_t = sorted((Ranked(k, k, c, p) for k, (c, p) in topics.items()), key=lambda r: (-r.count, r.key))
    ranked_i = sorted(
        (Ranked(k, t, c, p) for k, (t, c, p) in intents.items()), key=lambda r: (-r.count, r.key)
    )
    return ranked_t[:topic_limit], ranked_i[:intent_limit]


def peak_simultaneous(s: Session, period: Period) -> tuple[int, datetime | None]:
    """Most calls in progress at once: a sweep over start (+1) and end (-1) events; at equal
    instants the end comes first, so back-to-back calls do not overlap."""
    where = call_filters(period)
    starts = select(Call.started_at.label("t"), literal(1).label("d")).where(*where)
    ends = select(Call.ended_at.label("t"), literal(-1).label("d")).where(*where, Call.ended_at.is_not(None))
    events = union_all(starts, ends).subquery()
    running = select(
        events.c.t,
        func.sum(events.c.d).over(order_by=(events.c.t, events.c.d), rows=(None, 0)).label("n"),
    ).subquery()
    row = s.execute(
        select(running.c.n, running.c.t).order_by(running.c.n.desc(), running.c.t).limit(1)
    ).first()
    if not row or not row[0]:
        return 0, None
    at = aware(row[1])
    return int(row[0]), at.astimezone(UTC) if at is not None else None


def services(s: Session) -> list[str]:
    """Distinct services, one index probe each (ix_calls_service_started) instead of a full scan."""
    rows = s.execute(
        text(
            "WITH RECURSIVE svc(v) AS ("
            " SELECT min(service) FROM calls"
            " UNION ALL"
            " SELECT (SELECT min(service) FROM calls WHERE service > svc.v) FROM svc WHERE svc.v IS NOT NULL"
            ") SELECT v FROM svc WHERE v IS NOT NULL"
        )
    )
    return [v for (v,) in rows]


def first_call_day(s: Session) -> date | None:
    """The first day of the history: that of the first call, or the first day whose calls were
    purged but whose figures were kept."""
    first = s.scalar(select(func.min(Call.started_at)))
    purged = s.scalar(select(func.min(DailyRollup.day)).where(DailyRollup.purged.is_(True)))
    days = [aware(first).astimezone(LOCAL_TZ).date()] if first is not None else []
    return min([*days, as_date(purged)] if purged is not None else days, default=None)
