"""Dashboard figures, computed by aggregate SQL queries (no Python loops over call rows).

`compute` reads per-day summaries (analytics/rollups.py: past Paris days are stored, per service and
topic filter, and kept right by triggers; today is summarised live); the live queries below
(`compute_live`) are the reference they are tested against (tests/dashboard/test_rollups.py).

Every figure is for a `Period` (Paris calendar days, optional service and topic filters). Queries
return at most one row per hour bucket, topic, intent or histogram bucket, so they stay cheap to
post-process whatever the number of calls. Percentiles come from SQL histograms (fixed-width
buckets: SQLite has no percentile function, and a hash aggregate beats a sort at a million rows):
each is the mean of the bucket that holds its rank, so it is off by less than the bucket width.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Float, Integer, case, cast, func, literal, select, union_all
from sqlalchemy.orm import Session

from callbot.store.models import Call, Callback, Turn
from callbot.vocabulary import Outcome, local_tz

LOCAL_TZ = local_tz()  # the commune's (flows/), read once at import
# Caller turns the bot did not understand well enough to answer straight away.
UNSURE_ACTIONS = ("fallback", "confirm", "clarify")
LATENCY_BUCKET_MS = 10
DURATION_BUCKET_S = 1
UNRECOGNISED_LIMIT = 400  # distinct texts fetched, most frequent first, before fuzzy grouping

OUTCOME_LABELS = {
    Outcome.RESOLVED: "Résolu par le bot",
    Outcome.TRANSFERRED: "Transféré",
    Outcome.CALLBACK: "Rappel demandé",
    Outcome.ENDED_NO_AGENT: "Fin sans agent disponible",
    Outcome.ABANDONED: "Abandonné avant réponse",
    Outcome.IN_PROGRESS: "En cours",
}
REASON_LABELS = {
    "asked_agent": "Demande d'un agent",
    "misunderstanding": "Incompréhensions répétées",
    "no_input": "Pas de réponse de l'appelant",
    "out_of_scope": "Hors du champ de la mairie",
    "emergency": "Urgence",
    "topic": "Sujet configuré pour un transfert",
    "bot_fault": "Incident du robot",
}
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


@dataclass(frozen=True)
class Period:
    """Paris calendar days `start`..`end` (both included) and optional filters."""

    start: date
    end: date
    services: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("la date de fin précède la date de début")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """UTC [start, end) of the period."""
        lo = datetime.combine(self.start, time(), LOCAL_TZ).astimezone(UTC)
        hi = datetime.combine(self.end + timedelta(days=1), time(), LOCAL_TZ).astimezone(UTC)
        return lo, hi

    def previous(self) -> Period:
        """The period of equal length just before this one (for trends)."""
        return Period(
            self.start - timedelta(days=self.days), self.start - timedelta(days=1), self.services, self.topics
        )


def call_filters(period: Period, *, start: datetime | None = None) -> list:
    lo, hi = period.bounds()
    where = [Call.started_at >= (start or lo), Call.started_at < hi]
    if period.services:
        where.append(Call.service.in_(period.services))
    if period.topics:
        where.append(Call.topic.in_(period.topics))
    return where


def _is(outcome: str):  # noqa: ANN202
    return func.sum(case((Call.outcome == outcome, 1), else_=0))


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

    @property
    def abandoned(self) -> int:
        return self.abandoned_before_answer + self.abandoned_in_queue

    @property
    def containment(self) -> float | None:
        return self.resolved_by_bot / self.calls if self.calls else None


def totals(s: Session, period: Period) -> Totals:
    row = s.execute(
        select(
            func.count(),
            _is(Outcome.RESOLVED),
            _is(Outcome.TRANSFERRED),
            _is(Outcome.CALLBACK),
            _is(Outcome.ENDED_NO_AGENT),
            _is(Outcome.ABANDONED),
            func.sum(case((Call.queue_result == "hangup", 1), else_=0)),
            _is(Outcome.IN_PROGRESS),
        ).where(*call_filters(period))
    ).one()
    t = Totals(*(int(v or 0) for v in row))
    t.callbacks = callbacks_requested(s, period)
    return t


def callbacks_requested(s: Session, period: Period) -> int:
    lo, hi = period.bounds()
    q = select(func.count()).select_from(Callback).where(Callback.created_at >= lo, Callback.created_at < hi)
    if period.topics:
        q = q.where(Callback.topic.in_(period.topics))
    if period.services:
        q = q.join(Call, Call.id == Callback.call_id).where(Call.service.in_(period.services))
    return int(s.scalar(q) or 0)


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


def breakdown(s: Session, period: Period) -> Breakdown:
    hung_up = case((Call.queue_result == "hangup", 1), else_=0).label("hung_up")
    q = (
        select(Call.outcome, Call.transfer_reason, hung_up, Call.satisfaction, func.count())
        .where(*call_filters(period))
        .group_by(Call.outcome, Call.transfer_reason, hung_up, Call.satisfaction)
    )
    return Breakdown(
        [(o, r, bool(h), None if sat is None else int(sat), int(n)) for o, r, h, sat, n in s.execute(q)]
    )


def ranked_topics_and_intents(
    s: Session, period: Period, topic_limit: int = 20, intent_limit: int = 30
) -> tuple[list[Ranked], list[Ranked]]:
    """Topics and intents with their count in this period and the previous one, in one scan."""
    prev_lo, _ = period.previous().bounds()
    lo, _ = period.bounds()
    current = func.sum(case((Call.started_at >= lo, 1), else_=0))
    previous = func.sum(case((Call.started_at < lo, 1), else_=0))
    rows = s.execute(
        select(Call.topic, Call.intent, current, previous)
        .where(*call_filters(period, start=prev_lo), Call.topic.is_not(None) | Call.intent.is_not(None))
        .group_by(Call.topic, Call.intent)
    ).all()
    topics: dict[str, list[int]] = {}
    intents: dict[str, list] = {}
    for topic, intent, cur, prev in rows:
        cur, prev = int(cur or 0), int(prev or 0)
        if topic is not None:
            t = topics.setdefault(topic, [0, 0])
            t[0] += cur
            t[1] += prev
        if intent is not None:
            i = intents.setdefault(intent, [topic, 0, 0])
            i[1] += cur
            i[2] += prev
    ranked_t = sorted((Ranked(k, k, c, p) for k, (c, p) in topics.items()), key=lambda r: (-r.count, r.key))
    ranked_i = sorted(
        (Ranked(k, t, c, p) for k, (t, c, p) in intents.items()), key=lambda r: (-r.count, r.key)
    )
    return ranked_t[:topic_limit], ranked_i[:intent_limit]


def transfers_by_reason(s: Session, period: Period) -> list[tuple[str, int]]:
    rows = s.execute(
        select(Call.transfer_reason, func.count())
        .where(*call_filters(period), Call.transfer_reason.is_not(None))
        .group_by(Call.transfer_reason)
        .order_by(func.count().desc())
    ).all()
    return [(r, int(n)) for r, n in rows]


def outcomes(s: Session, period: Period) -> list[tuple[str, int]]:
    rows = s.execute(
        select(Call.outcome, func.count())
        .where(*call_filters(period))
        .group_by(Call.outcome)
        .order_by(func.count().desc())
    ).all()
    return [(o, int(n)) for o, n in rows]


# --- time series -----------------------------------------------------------------------------


def _hour_bucket(s: Session):  # noqa: ANN202
    if s.bind.dialect.name == "postgresql":
        return func.date_trunc("hour", Call.started_at)
    return func.substr(Call.started_at, 1, 13)  # "YYYY-MM-DD HH" of the stored UTC text


def _bucket_start(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.strptime(str(value), "%Y-%m-%d %H").replace(tzinfo=UTC)


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
    heatmap: list[list[int]]  # [weekday 0=Monday][hour 0..23], Paris time

    @property
    def busiest_hour(self) -> tuple[int, int, int] | None:
        best = max(
            ((n, d, h) for d, row in enumerate(self.heatmap) for h, n in enumerate(row)), default=(0, 0, 0)
        )
        return (best[1], best[2], best[0]) if best[0] else None


def time_series(s: Session, period: Period) -> TimeSeries:
    """Calls per Paris day and per hour of the week: SQL groups by UTC hour, Python re-labels the
    (at most 24 per day) buckets in Paris time, which is exact across daylight-saving changes."""
    bucket = _hour_bucket(s).label("bucket")
    rows = s.execute(
        select(bucket, func.count(), _is(Outcome.RESOLVED), _is(Outcome.TRANSFERRED), _is(Outcome.ABANDONED))
        .where(*call_filters(period))
        .group_by(bucket)
    ).all()
    days = {
        period.start + timedelta(days=i): DayRow(period.start + timedelta(days=i)) for i in range(period.days)
    }
    heat = [[0] * 24 for _ in range(7)]
    for b, n, res, tr, ab in rows:
        local = _bucket_start(b).astimezone(LOCAL_TZ)
        row = days.get(local.date())
        if row is None:
            continue
        row.calls += int(n)
        row.resolved += int(res or 0)
        row.transferred += int(tr or 0)
        row.abandoned += int(ab or 0)
        heat[local.weekday()][local.hour] += int(n)
    return TimeSeries(days=list(days.values()), heatmap=heat)


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
    at = row[1]
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at is not None:
        at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return int(row[0]), at


# --- topics and intents with trend ------------------------------------------------------------


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


def _ranked(s: Session, period: Period, column, limit: int, with_topic: bool) -> list[Ranked]:  # noqa: ANN001
    prev = period.previous()
    lo, _ = period.bounds()
    prev_lo, _ = prev.bounds()
    current = func.sum(case((Call.started_at >= lo, 1), else_=0))
    previous = func.sum(case((Call.started_at < lo, 1), else_=0))
    cols = [column, current.label("cur"), previous.label("prev")]
    group = [column]
    if with_topic:
        cols.insert(1, func.max(Call.topic))
    rows = s.execute(
        select(*cols)
        .where(*call_filters(period, start=prev_lo), column.is_not(None))
        .group_by(*group)
        .order_by(current.desc(), column)
        .limit(limit)
    ).all()
    out = []
    for r in rows:
        if with_topic:
            out.append(Ranked(r[0], r[1], int(r[2] or 0), int(r[3] or 0)))
        else:
            out.append(Ranked(r[0], r[0], int(r[1] or 0), int(r[2] or 0)))
    return [r for r in out if r.count or r.previous]


def top_topics(s: Session, period: Period, limit: int = 20) -> list[Ranked]:
    return _ranked(s, period, Call.topic, limit, with_topic=False)


def top_intents(s: Session, period: Period, limit: int = 30) -> list[Ranked]:
    return _ranked(s, period, Call.intent, limit, with_topic=True)


# --- durations, latency, satisfaction -----------------------------------------------------------


@dataclass
class Distribution:
    count: int = 0
    mean: float | None = None
    p50: float | None = None
    p95: float | None = None


def _seconds_between(s: Session, a, b):  # noqa: ANN001, ANN202
    if s.bind.dialect.name == "postgresql":
        # date_part gives a double; extract() gives numeric since PostgreSQL 14, several times slower.
        return func.date_part("epoch", b - a)
    # Rounded to the millisecond: julianday() arithmetic turns 60 s into 59.99999...
    return func.round((func.julianday(b) - func.julianday(a)) * 86400.0, 3)


def _floor_div(s: Session, expr, width: float):  # noqa: ANN001, ANN202
    # A float width: an integer one makes SQLAlchemy divide by a NUMERIC, several times slower.
    width = literal(float(width), Float)
    if s.bind.dialect.name == "postgresql":
        return cast(func.floor(expr / width), Integer)
    return cast(expr / width, Integer)  # SQLite truncates; values are never negative here


def _histogram_distribution(s: Session, value, width: float, where: list, join=None) -> Distribution:  # noqa: ANN001
    bucket = _floor_div(s, value, width).label("b")
    q = select(bucket, func.count(), func.sum(value)).where(*where, value.is_not(None), value >= 0)
    if join is not None:
        q = q.select_from(join)
    rows = sorted((int(b), int(n), float(total or 0)) for b, n, total in s.execute(q.group_by(bucket)))
    return distribution(rows)


def distribution(rows: list) -> Distribution:
    """Count, mean and p50/p95 from histogram rows (bucket, count, sum) sorted by bucket."""
    n = sum(r[1] for r in rows)
    if not n:
        return Distribution()

    def pct(p: float) -> float:
        # The mean of the bucket holding the rank: exact when its values are equal, else within it.
        rank, seen = p * n, 0
        for _, count, total in rows:
            seen += count
            if seen >= rank:
                return total / count
        return rows[-1][2] / rows[-1][1]

    return Distribution(count=n, mean=sum(r[2] for r in rows) / n, p50=pct(0.5), p95=pct(0.95))


def call_durations(s: Session, period: Period) -> Distribution:
    return _histogram_distribution(
        s, _seconds_between(s, Call.started_at, Call.ended_at), DURATION_BUCKET_S, call_filters(period)
    )


def queue_waits(s: Session, period: Period) -> Distribution:
    """Time in the human queue before an agent picked up (calls that were picked up)."""
    return _histogram_distribution(
        s, _seconds_between(s, Call.queued_at, Call.picked_up_at), DURATION_BUCKET_S, call_filters(period)
    )


def _turn_filters(period: Period) -> tuple[list, bool]:
    """Caller turns of the period; joins the call only when service/topic filters need it."""
    lo, hi = period.bounds()
    where = [Turn.at >= lo, Turn.at < hi, Turn.speaker == "caller"]
    needs_call = bool(period.services or period.topics)
    if period.services:
        where.append(Call.service.in_(period.services))
    if period.topics:
        where.append(Call.topic.in_(period.topics))
    return where, needs_call


def response_latency(s: Session, period: Period) -> Distribution:
    where, needs_call = _turn_filters(period)
    join = Turn.__table__.join(Call.__table__, Call.id == Turn.call_id) if needs_call else Turn.__table__
    return _histogram_distribution(s, Turn.response_ms, LATENCY_BUCKET_MS, where, join=join)


def satisfaction(s: Session, period: Period) -> dict[int, int]:
    rows = s.execute(
        select(Call.satisfaction, func.count())
        .where(*call_filters(period), Call.satisfaction.between(1, 5))
        .group_by(Call.satisfaction)
    ).all()
    counts = {k: 0 for k in range(1, 6)}
    counts.update({int(k): int(n) for k, n in rows})
    return counts


# --- unrecognised utterances -------------------------------------------------------------------


@dataclass
class UtteranceGroup:
    text: str  # the most frequent wording, shown as the group's name
    count: int
    variants: list[tuple[str, int]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    confidence: float | None = None
    intent: str | None = None  # the intent the recogniser leaned to, if any


def unrecognised(
    s: Session,
    period: Period,
    *,
    threshold: float = 75.0,
    limit: int = UNRECOGNISED_LIMIT,
    today: date | None = None,
) -> list[UtteranceGroup]:
    """Caller turns answered by fallback/confirm/clarify, grouped by text, then grouped by
    similarity so wordings of one need end up together. Read from the daily summaries
    (analytics/rollups.py) plus today's turns."""
    from callbot.analytics import rollups

    key = (period.services, period.topics)
    rows = rollups.utterance_query(s, period.start, period.end, today or paris_today(), limit, key)
    return group_utterances(rows, threshold)


def unrecognised_live(
    s: Session, period: Period, *, threshold: float = 75.0, limit: int = UNRECOGNISED_LIMIT
) -> list[UtteranceGroup]:
    """The live query over the turns of the period (filters join the calls)."""
    where, needs_call = _turn_filters(period)
    text = func.lower(func.trim(Turn.text)).label("t")
    q = (
        select(
            text,
            func.count(),
            func.max(Turn.fallback_reason),
            func.max(Turn.action),
            func.avg(Turn.confidence),
            func.max(Turn.intent),
        )
        .where(*where, Turn.action.in_(UNSURE_ACTIONS), func.length(func.trim(Turn.text)) > 0)
        .group_by(text)
        .order_by(func.count().desc(), text)
        .limit(limit)
    )
    if needs_call:
        q = q.select_from(Turn.__table__.join(Call.__table__, Call.id == Turn.call_id))
    return group_utterances(s.execute(q), threshold)


def group_utterances(rows, threshold: float = 75.0) -> list[UtteranceGroup]:  # noqa: ANN001
    """Rows (text, count, reason, action, mean confidence, intent), most frequent first, grouped
    by similarity (rapidfuzz token-sort ratio >= threshold)."""
    from rapidfuzz import fuzz

    groups: list[UtteranceGroup] = []
    weights: list[float] = []
    for t, n, reason, action, conf, intent in rows:
        n = int(n)
        for g in groups:
            if fuzz.token_sort_ratio(t, g.text) >= threshold:
                break
        else:
            g = UtteranceGroup(text=t, count=0)
            groups.append(g)
            weights.append(0.0)
        i = groups.index(g)
        g.count += n
        g.variants.append((t, n))
        if reason and reason not in g.reasons:
            g.reasons.append(reason)
        if action and action not in g.actions:
            g.actions.append(action)
        if intent and not g.intent:
            g.intent = intent
        if conf is not None:
            weights[i] += float(conf) * n
            g.confidence = weights[i] / g.count
    groups.sort(key=lambda g: (-g.count, g.text))
    return groups


def yaml_snippet(groups: list[UtteranceGroup], intent: str | None = None) -> str:
    """Examples to paste under an intent in flows/ (the manager picks or fixes the intent name)."""
    import yaml

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


# --- everything the page and the CLI show --------------------------------------------------------


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

    @property
    def satisfaction_count(self) -> int:
        return sum(self.satisfaction.values())

    @property
    def satisfaction_mean(self) -> float | None:
        n = self.satisfaction_count
        return sum(k * v for k, v in self.satisfaction.items()) / n if n else None


def paris_today() -> date:
    return datetime.now(LOCAL_TZ).date()


def compute(s: Session, period: Period, today: date | None = None) -> Figures:
    """Every figure of the period, filtered or not: from the daily summaries of past days plus a
    live summary of today (analytics/rollups.py)."""
    return compute_from_rollups(s, period, today or paris_today())


def compute_from_rollups(s: Session, period: Period, today: date) -> Figures:
    from callbot.analytics import rollups

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
    callbacks = 0
    peak_n, peak_at = 0, None
    older: list = []  # end times of calls from before the previous day still running
    prev_open: list = []  # the previous day's calls running past midnight
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
        # Peak: calls of earlier days still running at midnight add to the day's own peak; those
        # of the previous day that end during it are in its stored peak_prev; older ones ending
        # during it (calls over 24 h) make the day swept live.
        ws, we = rollups.day_bounds(d.day)
        older = [e for e in older if e is None or e > ws]
        if any(e is not None and e < we for e in older):
            n, at = rollups.live_day_peak(s, d.day, older + prev_open, key)
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
    if not rollups.is_stored(key):
        # Several services or topics: their calls overlap, day peaks do not add up.
        peak_n, peak_at = peak_simultaneous(s, period)
    previous: dict[tuple, int] = {}
    for topic, intent, n in rollups.topic_counts(s, prev.start, prev.end, today, key):
        previous[(topic, intent)] = previous.get((topic, intent), 0) + n
    topics, intents = _rank(current, previous)
    b = Breakdown([(o, r, h, sat, n) for (o, r, h, sat), n in rows.items()])
    dist = {k: distribution(rollups.merge_histograms(v)) for k, v in hists.items()}
    return Figures(
        period=period,
        totals=b.totals(callbacks),
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
    )


def _rank(
    current: dict[tuple, int], previous: dict[tuple, int], topic_limit: int = 20, intent_limit: int = 30
) -> tuple[list[Ranked], list[Ranked]]:
    """Topics and intents ranked as ranked_topics_and_intents does, from (topic, intent) counts."""
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


def compute_live(s: Session, period: Period) -> Figures:
    """Every figure straight from the calls, in as few scans as possible: one grouped query yields
    the totals, outcomes, transfer reasons and satisfaction; one yields topics and intents with
    their trend. The reference the daily summaries are tested against."""
    b = breakdown(s, period)
    topics, intents = ranked_topics_and_intents(s, period)
    return Figures(
        period=period,
        totals=b.totals(callbacks_requested(s, period)),
        outcomes=b.outcomes(),
        transfers=b.transfers(),
        series=time_series(s, period),
        peak=peak_simultaneous(s, period),
        topics=topics,
        intents=intents,
        unrecognised=unrecognised_live(s, period),
        durations=call_durations(s, period),
        queue_waits=queue_waits(s, period),
        latency=response_latency(s, period),
        satisfaction=b.satisfaction(),
    )


def services(s: Session) -> list[str]:
    """Distinct services, one index probe each (ix_calls_service_started) instead of a full scan."""
    from sqlalchemy import text

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
    first = s.scalar(select(func.min(Call.started_at)))
    if first is None:
        return None
    if isinstance(first, str):
        first = datetime.fromisoformat(first)
    if first.tzinfo is None:
        first = first.replace(tzinfo=UTC)
    return first.astimezone(LOCAL_TZ).date()


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def as_json(f: Figures) -> dict:
    """The figures as plain JSON (`callbot stats --json`); keys are part of the contract."""
    t = f.totals
    dist = lambda d: {"count": d.count, "mean": _r(d.mean), "p50": _r(d.p50), "p95": _r(d.p95)}  # noqa: E731
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
        "call_duration_s": dist(f.durations),
        "queue_wait_s": dist(f.queue_waits),
        "response_ms": dist(f.latency),
        "satisfaction": {
            "count": f.satisfaction_count,
            "mean": _r(f.satisfaction_mean, 2),
            "by_score": {str(k): v for k, v in f.satisfaction.items()},
        },
    }
