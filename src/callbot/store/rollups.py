"""Per-day dashboard summaries (rollups): what makes a year page cheap at a million calls.

A `DaySummary` holds the additive figures of one Paris calendar day: call counts by (outcome,
transfer reason, hung up in queue, satisfaction), calls per Paris hour, counts per (topic, intent),
the duration / queue wait / latency histograms (same buckets as the live queries, with each
bucket's count and sum, so percentiles are exactly those of the live computation), callbacks,
the day's own peak of simultaneous calls and the end times of its calls still running at midnight
(to carry them into the next day). Unrecognised wordings go to `daily_utterances`, one row per
(day, lower(trim(text))).

How a summary is kept right:
- Only days that are over (before `today`, Paris) are stored; today and later days are summarised
  live by the same code and never stored.
- Triggers (migration 0004_daily_rollups) mark a day stale whenever a call, turn or callback of
  that day is inserted, updated or deleted, by anyone: queue results arriving later, the console,
  retention purges, `callbot seed`, raw SQL.
- A page rebuilds missing or stale past days before reading them, in its own short transaction
  per chunk of days; PostgreSQL: the builder locks the days' rows (FOR UPDATE), which the
  triggers' upsert also locks, so a change committed during a build marks the day stale again;
  SQLite: the builder takes the single write lock before reading.
- Filtered views (service or topic) are computed live (store/stats.py), not from summaries.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from loguru import logger as log
from sqlalchemy import Date, Engine, case, cast, func, literal, literal_column, or_, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from callbot.store.models import Call, Callback, DailyRollup, DailyUtterance, Turn

CHUNK_DAYS = 31  # days built per transaction: bounds lock time and memory
FORMAT = 2  # of the stored JSON: summaries written by another version are rebuilt


def _usable():  # noqa: ANN202
    """Fresh and in this version's format (the JSON starts with its version)."""
    return DailyRollup.stale.is_(False) & DailyRollup.figures.startswith(f'{{"v":{FORMAT},')


def _stats():  # noqa: ANN202 — stats imports this module lazily; import it back lazily too
    from callbot.store import stats

    return stats


def day_bounds(day: date) -> tuple[datetime, datetime]:
    paris = _stats().PARIS
    lo = datetime.combine(day, time(), paris).astimezone(UTC)
    hi = datetime.combine(day + timedelta(days=1), time(), paris).astimezone(UTC)
    return lo, hi


def aware(v: object) -> datetime | None:
    """A timestamp as the database returned it (SQLite: text or naive UTC) → aware datetime."""
    if v is None:
        return None
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return v if v.tzinfo else v.replace(tzinfo=UTC)


@dataclass
class DaySummary:
    day: date
    breakdown: list = field(default_factory=list)  # [outcome, reason, hung_up 0/1, satisfaction, n]
    hours: dict[int, int] = field(default_factory=dict)  # Paris hour → calls
    topics: list = field(default_factory=list)  # [topic, intent, n]
    durations: list = field(default_factory=list)  # [bucket, n, sum], sorted by bucket
    queue_waits: list = field(default_factory=list)
    latency: list = field(default_factory=list)
    callbacks: int = 0
    peak: tuple[int, datetime] | None = None  # peak of the day's own calls, earliest instant
    # Peak within the day counting the previous day's calls too (they end after midnight).
    peak_prev: tuple[int, datetime] | None = None
    open_ends: list[datetime | None] = field(default_factory=list)  # calls running past midnight

    def figures_json(self) -> str:
        return json.dumps(
            {
                "v": FORMAT,
                "bd": self.breakdown,
                "h": sorted(self.hours.items()),
                "dur": _pack(self.durations),
                "qw": _pack(self.queue_waits),
                "lat": _pack(self.latency),
                "cb": self.callbacks,
                "pk": [self.peak[0], self.peak[1].isoformat()] if self.peak else None,
                "pp": [self.peak_prev[0], self.peak_prev[1].isoformat()] if self.peak_prev else None,
                "open": [e.isoformat() if e else None for e in self.open_ends],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, day: date, figures: str, topics: str | None) -> DaySummary:
        d = json.loads(figures)
        pk = d["pk"]
        return cls(
            day=day,
            breakdown=d["bd"],
            hours=dict(d["h"]),
            topics=json.loads(topics) if topics else [],
            durations=_unpack(d["dur"]),
            queue_waits=_unpack(d["qw"]),
            latency=_unpack(d["lat"]),
            callbacks=d["cb"],
            peak=(pk[0], datetime.fromisoformat(pk[1])) if pk else None,
            peak_prev=(d["pp"][0], datetime.fromisoformat(d["pp"][1])) if d.get("pp") else None,
            open_ends=[datetime.fromisoformat(e) if e else None for e in d["open"]],
        )


Histogram = tuple  # (buckets int64, counts int64, sums float64) numpy arrays


def _pack(rows: list | Histogram) -> str:
    """Histogram rows as base64 of packed arrays: a year of them decodes in milliseconds, where
    JSON numbers took a third of a second to parse."""
    b, n, total = as_arrays(rows)
    return "|".join(base64.b64encode(a.tobytes()).decode() for a in (b, n, total))


def _unpack(text: str) -> Histogram:
    b, n, total = (base64.b64decode(part) for part in text.split("|"))
    return np.frombuffer(b, np.int64), np.frombuffer(n, np.int64), np.frombuffer(total, np.float64)


def as_arrays(rows: list | Histogram) -> Histogram:
    if isinstance(rows, tuple):
        return rows
    return (
        np.array([r[0] for r in rows], np.int64),
        np.array([r[1] for r in rows], np.int64),
        np.array([r[2] for r in rows], np.float64),
    )


def merge_histograms(parts: list) -> list[tuple[int, int, float]]:
    """Sum per bucket over days → rows (bucket, count, sum) sorted by bucket."""
    arrays = [as_arrays(p) for p in parts]
    arrays = [a for a in arrays if len(a[0])]
    if not arrays:
        return []
    b = np.concatenate([a[0] for a in arrays])
    lo = int(b.min())
    idx = b - lo
    n = np.bincount(idx, weights=np.concatenate([a[1] for a in arrays]).astype(np.float64))
    total = np.bincount(idx, weights=np.concatenate([a[2] for a in arrays]))
    nz = np.nonzero(n)[0]
    return [(int(i) + lo, int(n[i]), float(total[i])) for i in nz]


# --- Paris day of a timestamp, in SQL -------------------------------------------------------------


def _utc_offsets(lo: datetime, hi: datetime) -> list[tuple[datetime, int]]:
    """[(until UTC, Paris offset in hours)] covering lo..hi; the last entry has no end."""
    paris = _stats().PARIS
    out: list[tuple[datetime, int]] = []
    t = lo.replace(minute=0, second=0, microsecond=0)
    cur = int(t.astimezone(paris).utcoffset().total_seconds() // 3600)
    while t < hi:
        nxt = t + timedelta(days=1)
        if int(nxt.astimezone(paris).utcoffset().total_seconds() // 3600) != cur:
            h = t
            while int(h.astimezone(paris).utcoffset().total_seconds() // 3600) == cur:
                h += timedelta(hours=1)
            out.append((h, cur))
            cur = int(h.astimezone(paris).utcoffset().total_seconds() // 3600)
            t = h
            continue
        t = nxt
    out.append((hi, cur))
    return out


def paris_day(s: Session, column, lo: datetime, hi: datetime):  # noqa: ANN001, ANN201
    """SQL expression of the Paris calendar day of a UTC timestamp column (exact for lo..hi).
    Constants are inlined, so the same expression in SELECT and GROUP BY is one expression."""
    if s.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(literal_column("'Europe/Paris'"), column), Date)
    offsets = _utc_offsets(lo, hi)

    def shift(h: int):  # noqa: ANN202
        return literal_column(f"'+{h} hours'")

    if len(offsets) == 1:
        return func.date(column, shift(offsets[0][1]))
    # SQLite stores UTC as 'YYYY-MM-DD HH:MM:SS.ffffff' text, which compares in time order.
    expr = case(
        *(
            (column < literal_column(f"'{until.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}'"), shift(h))
            for until, h in offsets[:-1]
        ),
        else_=shift(offsets[-1][1]),
    )
    return func.date(column, expr)


def _as_date(v: object) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v))


# --- building summaries from the calls ------------------------------------------------------------


def summarise(s: Session, start: date, end: date) -> dict[date, DaySummary]:
    """Live summaries of Paris days start..end (both included), one grouped query per figure."""
    st = _stats()
    lo, hi = st.Period(start, end).bounds()
    days = {
        start + timedelta(days=i): DaySummary(start + timedelta(days=i))
        for i in range((end - start).days + 1)
    }
    day = paris_day(s, Call.started_at, lo, hi).label("day")
    where = [Call.started_at >= lo, Call.started_at < hi]

    hung_up = case((Call.queue_result == "hangup", 1), else_=0).label("hung_up")
    for d, o, r, h, sat, n in s.execute(
        select(day, Call.outcome, Call.transfer_reason, hung_up, Call.satisfaction, func.count())
        .where(*where)
        .group_by(day, Call.outcome, Call.transfer_reason, hung_up, Call.satisfaction)
    ):
        days[_as_date(d)].breakdown.append([o, r, int(h), None if sat is None else int(sat), int(n)])

    # Calls per hour: grouped by UTC hour and relabelled in Python, as the live time series does.
    bucket = st._hour_bucket(s).label("bucket")
    for b, n in s.execute(select(bucket, func.count()).where(*where).group_by(bucket)):
        local = st._bucket_start(b).astimezone(st.PARIS)
        row = days.get(local.date())
        if row is not None:
            row.hours[local.hour] = row.hours.get(local.hour, 0) + int(n)

    for d, topic, intent, n in s.execute(
        select(day, Call.topic, Call.intent, func.count())
        .where(*where, Call.topic.is_not(None) | Call.intent.is_not(None))
        .group_by(day, Call.topic, Call.intent)
    ):
        days[_as_date(d)].topics.append([topic, intent, int(n)])

    def histogram(attr: str, value, width: float, day_expr, filters: list, table=None) -> None:  # noqa: ANN001
        b = st._floor_div(s, value, width).label("b")
        q = select(day_expr, b, func.count(), func.sum(value)).where(*filters, value.is_not(None), value >= 0)
        if table is not None:
            q = q.select_from(table)
        for d, bk, n, total in s.execute(q.group_by(day_expr, b)):
            getattr(days[_as_date(d)], attr).append([int(bk), int(n), float(total or 0)])

    histogram(
        "durations", st._seconds_between(s, Call.started_at, Call.ended_at), st.DURATION_BUCKET_S, day, where
    )
    histogram(
        "queue_waits",
        st._seconds_between(s, Call.queued_at, Call.picked_up_at),
        st.DURATION_BUCKET_S,
        day,
        where,
    )
    turn_day = paris_day(s, Turn.at, lo, hi).label("day")
    turn_where = [Turn.at >= lo, Turn.at < hi, Turn.speaker == "caller"]
    histogram("latency", Turn.response_ms, st.LATENCY_BUCKET_MS, turn_day, turn_where, Turn.__table__)
    for rows in days.values():
        for h in (rows.durations, rows.queue_waits, rows.latency):
            h.sort()

    cb_day = paris_day(s, Callback.created_at, lo, hi).label("day")
    for d, n in s.execute(
        select(cb_day, func.count())
        .where(Callback.created_at >= lo, Callback.created_at < hi)
        .group_by(cb_day)
    ):
        days[_as_date(d)].callbacks = int(n)

    if (end - start).days < 3:
        _peaks_in_python(s, start, end, days)  # a few live days: cheaper than two window queries
    else:
        # The day's own peak: the live sweep (start +1, end -1, ends first at equal instants) per day.
        starts = select(day, Call.started_at.label("t"), literal(1).label("d")).where(*where)
        ends = select(day, Call.ended_at.label("t"), literal(-1).label("d")).where(
            *where, Call.ended_at.is_not(None)
        )
        ev = union_all(starts, ends).subquery()
        running = select(
            ev.c.day,
            ev.c.t,
            func.sum(ev.c.d)
            .over(partition_by=ev.c.day, order_by=(ev.c.t, ev.c.d), rows=(None, 0))
            .label("n"),
        ).subquery()
        ranked = select(
            running.c.day,
            running.c.n,
            running.c.t,
            func.row_number()
            .over(partition_by=running.c.day, order_by=(running.c.n.desc(), running.c.t))
            .label("rk"),
        ).subquery()
        for d, n, t in s.execute(select(ranked.c.day, ranked.c.n, ranked.c.t).where(ranked.c.rk == 1)):
            if n:
                days[_as_date(d)].peak = (int(n), aware(t))

        _peaks_with_previous_day(s, start, end, days)

    end_day = paris_day(s, Call.ended_at, lo - timedelta(days=1), hi + timedelta(days=30))
    for d, e in s.execute(
        select(day, Call.ended_at).where(*where, or_(Call.ended_at.is_(None), end_day != day))
    ):
        row = days[_as_date(d)]
        e = aware(e)
        if e is None or e > day_bounds(row.day)[1]:
            row.open_ends.append(e)
    for row in days.values():
        row.open_ends.sort(key=lambda e: (e is None, e or datetime.min.replace(tzinfo=UTC)))
    return days


def _sweep(events: list[tuple[datetime, int, bool]], since: datetime | None) -> tuple[int, datetime] | None:
    """The SQL sweep in Python: events (t, +1/-1, counted) sorted by (t, d); the highest running
    count, earliest, among counted events (and at or after `since`)."""
    n, best = 0, None
    for t, d, own in sorted(events, key=lambda e: (e[0], e[1])):
        n += d
        if (own or (since is not None and t >= since)) and n > 0 and (best is None or n > best[0]):
            best = (n, t)
    return best


def _peaks_in_python(s: Session, start: date, end: date, days: dict[date, DaySummary]) -> None:
    """`peak` and `peak_prev` of a few days from their calls' start and end times."""
    paris = _stats().PARIS
    lo = day_bounds(start - timedelta(days=1))[0]
    hi = day_bounds(end)[1]
    by_day: dict[date, list[tuple[datetime, datetime | None]]] = {}
    for started, ended in s.execute(
        select(Call.started_at, Call.ended_at).where(Call.started_at >= lo, Call.started_at < hi)
    ):
        started = aware(started)
        by_day.setdefault(started.astimezone(paris).date(), []).append((started, aware(ended)))

    def events(calls: list, own: bool) -> list[tuple[datetime, int, bool]]:
        out = [(st, 1, own) for st, _ in calls]
        out += [(e, -1, own) for _, e in calls if e is not None]
        return out

    for d, row in days.items():
        own = by_day.get(d, [])
        row.peak = _sweep(events(own, True), None)
        row.peak_prev = _sweep(
            events(own, True) + events(by_day.get(d - timedelta(days=1), []), False), day_bounds(d)[0]
        )


def _peaks_with_previous_day(s: Session, start: date, end: date, days: dict[date, DaySummary]) -> None:
    """Per day d: the live sweep over the calls started on d-1 and d, maximum over the events of
    day d (d-1's events only bring the count of its calls still running at midnight)."""
    lo = day_bounds(start - timedelta(days=1))[0]
    hi = day_bounds(end)[1]
    pg = s.get_bind().dialect.name == "postgresql"
    own = paris_day(s, Call.started_at, lo, hi)
    nxt = (own + literal_column("1")) if pg else func.date(own, literal_column("'+1 day'"))
    where = [Call.started_at >= lo, Call.started_at < hi]
    parts = []
    for label, src in ((own, 0), (nxt, 1)):
        parts.append(
            select(
                label.label("day"),
                literal(src).label("src"),
                Call.started_at.label("t"),
                literal(1).label("d"),
            ).where(*where)
        )
        parts.append(
            select(
                label.label("day"),
                literal(src).label("src"),
                Call.ended_at.label("t"),
                literal(-1).label("d"),
            ).where(*where, Call.ended_at.is_not(None))
        )
    ev = union_all(*parts).subquery()
    running = select(
        ev.c.day,
        ev.c.src,
        ev.c.t,
        func.sum(ev.c.d).over(partition_by=ev.c.day, order_by=(ev.c.t, ev.c.d), rows=(None, 0)).label("n"),
    ).subquery()
    # The previous day's events before midnight are not events of this day.
    t_day = paris_day(s, running.c.t, lo, hi + timedelta(days=30))
    kept = select(running).where(or_(running.c.src == 0, t_day >= running.c.day)).subquery()
    ranked = select(
        kept.c.day,
        kept.c.n,
        kept.c.t,
        func.row_number().over(partition_by=kept.c.day, order_by=(kept.c.n.desc(), kept.c.t)).label("rk"),
    ).subquery()
    for d, n, t in s.execute(select(ranked.c.day, ranked.c.n, ranked.c.t).where(ranked.c.rk == 1)):
        row = days.get(_as_date(d))
        if row is not None and n:
            row.peak_prev = (int(n), aware(t))


def _utterance_rows(s: Session, start: date, end: date):  # noqa: ANN202
    st = _stats()
    lo, hi = st.Period(start, end).bounds()
    d = paris_day(s, Turn.at, lo, hi).label("day")
    text = func.lower(func.trim(Turn.text)).label("t")
    return s.execute(
        select(
            d,
            text,
            func.count(),
            func.max(Turn.fallback_reason),
            func.max(Turn.action),
            func.max(Turn.intent),
            func.sum(Turn.confidence),
            func.count(Turn.confidence),
        )
        .where(
            Turn.at >= lo,
            Turn.at < hi,
            Turn.speaker == "caller",
            Turn.action.in_(st.UNSURE_ACTIONS),
            func.length(func.trim(Turn.text)) > 0,
        )
        .group_by(d, text)
    ).all()


# --- storing and reading ----------------------------------------------------------------------------


def _engine(s: Session) -> Engine:
    bind = s.get_bind()
    return getattr(bind, "engine", bind)


def build(engine: Engine, start: date, end: date) -> dict[date, DaySummary]:
    """(Re)build and store the summaries of days start..end, chunk by chunk."""
    out: dict[date, DaySummary] = {}
    cur = start
    while cur <= end:
        last = min(end, cur + timedelta(days=CHUNK_DAYS - 1))
        out.update(_build_chunk(engine, cur, last))
        cur = last + timedelta(days=1)
    return out


def _build_chunk(engine: Engine, start: date, end: date) -> dict[date, DaySummary]:
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    with Session(engine) as s, s.begin():
        pg = engine.dialect.name == "postgresql"
        insert = pg_insert if pg else sqlite_insert
        # First statement writes: PostgreSQL waits for writers of these days, SQLite takes the lock.
        s.execute(
            insert(DailyRollup).values([{"day": d, "stale": True} for d in days]).on_conflict_do_nothing()
        )
        if pg:
            s.execute(
                select(DailyRollup.day)
                .where(DailyRollup.day.between(start, end))
                .order_by(DailyRollup.day)
                .with_for_update()
            ).all()
        summaries = summarise(s, start, end)
        utterances = _utterance_rows(s, start, end)
        now = datetime.now(UTC)
        for d in days:
            lo, hi = day_bounds(d)
            sm = summaries[d]
            s.execute(
                DailyRollup.__table__.update()
                .where(DailyRollup.day == d)
                .values(
                    utc_lo=lo,
                    utc_hi=hi,
                    stale=False,
                    built_at=now,
                    figures=sm.figures_json(),
                    topics=json.dumps(sm.topics, ensure_ascii=False, separators=(",", ":")),
                )
            )
        s.execute(DailyUtterance.__table__.delete().where(DailyUtterance.day.between(start, end)))
        if utterances:
            s.execute(
                DailyUtterance.__table__.insert(),
                [
                    {
                        "day": _as_date(d),
                        "text": t,
                        "count": int(n),
                        "reason": reason,
                        "action": action,
                        "intent": intent,
                        "confidence_sum": None if cs is None else float(cs),
                        "confidence_n": int(cn or 0),
                    }
                    for d, t, n, reason, action, intent, cs, cn in utterances
                ],
            )
    return summaries


def _ranges(days: list[date]) -> list[tuple[date, date]]:
    out: list[tuple[date, date]] = []
    for d in days:
        if out and out[-1][1] + timedelta(days=1) == d:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def ensure_fresh(s: Session, start: date, end: date) -> list[date]:
    """Build the missing or stale past days among start..end; returns the days it built. Checked
    once per session and range (a page asks for the same days for several figures)."""
    checked = s.info.setdefault("rollups_checked", [])
    if any(a <= start and end <= b for a, b in checked):
        return []
    checked.append((start, end))
    fresh = set(s.scalars(select(DailyRollup.day).where(DailyRollup.day.between(start, end), _usable())))
    missing = [
        start + timedelta(days=i)
        for i in range((end - start).days + 1)
        if start + timedelta(days=i) not in fresh
    ]
    for a, b in _ranges(missing):
        try:
            build(_engine(s), a, b)
        except DBAPIError as e:  # a lock timeout or deadlock: these days are read live this time
            log.warning("résumés quotidiens {}..{} non construits : {}", a, b, e)
    return missing


def summaries(s: Session, start: date, end: date, today: date) -> list[DaySummary]:
    """Summaries of days start..end in order: stored ones for past days (built if needed), live
    ones from today on."""
    out: dict[date, DaySummary] = {}
    past_end = min(end, today - timedelta(days=1))
    if start <= past_end:
        ensure_fresh(s, start, past_end)
        out.update(_stored(s, start, past_end))
        # Days that could not be built, or changed again since: summarised live.
        gaps = [start + timedelta(days=i) for i in range((past_end - start).days + 1)]
        for a, b in _ranges([d for d in gaps if d not in out]):
            out.update(summarise(s, a, b))
    live_start = max(start, today)
    if live_start <= end:
        out.update(summarise(s, live_start, end))
    return [out[start + timedelta(days=i)] for i in range((end - start).days + 1)]


# Decoded summaries by (database, day), valid while the row's built_at is unchanged: a stored
# summary never changes, a rebuild writes a new one with a new built_at.
_CACHE: dict[tuple[str, date], tuple[object, DaySummary]] = {}
CACHE_DAYS = 5000


def _stored(s: Session, start: date, end: date) -> dict[date, DaySummary]:
    """The fresh stored summaries of start..end, decoded once per build."""
    db = str(_engine(s).url)
    versions = {
        _as_date(d): built
        for d, built in s.execute(
            select(DailyRollup.day, DailyRollup.built_at).where(
                DailyRollup.day.between(start, end),
                _usable(),
                DailyRollup.figures.is_not(None),
            )
        )
    }
    out: dict[date, DaySummary] = {}
    for d, built in versions.items():
        hit = _CACHE.get((db, d))
        if hit is not None and hit[0] == built:
            out[d] = hit[1]
    todo = [d for d in versions if d not in out]
    for a, b in _ranges(sorted(todo)):
        for d, built, figures, topics in s.execute(
            select(DailyRollup.day, DailyRollup.built_at, DailyRollup.figures, DailyRollup.topics).where(
                DailyRollup.day.between(a, b), _usable(), DailyRollup.figures.is_not(None)
            )
        ):
            d = _as_date(d)
            out[d] = DaySummary.from_json(d, figures, topics)
            if len(_CACHE) >= CACHE_DAYS:
                _CACHE.clear()
            _CACHE[(db, d)] = (built, out[d])
    return out


def _plan(s: Session, start: date, end: date, today: date) -> tuple[bool, list[tuple[date, date]]]:
    """Build what is missing; returns (some past days are stored, day ranges to read live)."""
    live: list[tuple[date, date]] = []
    past_end = min(end, today - timedelta(days=1))
    stored = start <= past_end
    if stored:
        ensure_fresh(s, start, past_end)
        fresh = set(map(_as_date, s.scalars(_fresh_days(start, past_end))))
        gaps = [start + timedelta(days=i) for i in range((past_end - start).days + 1)]
        live = _ranges([d for d in gaps if d not in fresh])
    if max(start, today) <= end:
        live.append((max(start, today), end))
    return stored, live


def _fresh_days(start: date, end: date):  # noqa: ANN202
    return select(DailyRollup.day).where(
        DailyRollup.day.between(start, end), _usable(), DailyRollup.figures.is_not(None)
    )


def topic_counts(s: Session, start: date, end: date, today: date) -> list:
    """[(topic, intent, n)] over days start..end (the previous period of a trend)."""
    rows: list = []
    stored, live = _plan(s, start, end, today)
    if stored:
        for sm in _stored(s, start, min(end, today - timedelta(days=1))).values():
            rows.extend(sm.topics)
    for a, b in live:
        for sm in summarise(s, a, b).values():
            rows.extend(sm.topics)
    return rows


def utterance_query(s: Session, start: date, end: date, today: date, limit: int):  # noqa: ANN201
    """Rows (text, count, reason, action, mean confidence, intent) like the live query, most
    frequent first: stored days plus today's turns, merged and ordered in SQL (same collation)."""
    st = _stats()
    parts = []
    stored, live = _plan(s, start, end, today)
    if stored:
        u = DailyUtterance
        parts.append(
            select(
                u.text.label("t"),
                u.count.label("n"),
                u.reason.label("reason"),
                u.action.label("action"),
                u.intent.label("intent"),
                u.confidence_sum.label("cs"),
                u.confidence_n.label("cn"),
            ).where(u.day.between(start, end), u.day.in_(_fresh_days(start, min(end, today))))
        )
    for a, b in live:
        lo, hi = st.Period(a, b).bounds()
        text = func.lower(func.trim(Turn.text))
        parts.append(
            select(
                text.label("t"),
                func.count().label("n"),
                func.max(Turn.fallback_reason).label("reason"),
                func.max(Turn.action).label("action"),
                func.max(Turn.intent).label("intent"),
                func.sum(Turn.confidence).label("cs"),
                func.count(Turn.confidence).label("cn"),
            )
            .where(
                Turn.at >= lo,
                Turn.at < hi,
                Turn.speaker == "caller",
                Turn.action.in_(st.UNSURE_ACTIONS),
                func.length(func.trim(Turn.text)) > 0,
            )
            .group_by(text)
        )
    if not parts:
        return []
    all_ = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery()
    n = func.sum(all_.c.n)
    cn = func.sum(all_.c.cn)
    return s.execute(
        select(
            all_.c.t,
            n,
            func.max(all_.c.reason),
            func.max(all_.c.action),
            case((cn > 0, func.sum(all_.c.cs) / cn), else_=None),
            func.max(all_.c.intent),
        )
        .group_by(all_.c.t)
        .order_by(n.desc(), all_.c.t)
        .limit(limit)
    ).all()


def live_day_peak(s: Session, day: date, carry: list[datetime | None]) -> tuple[int, datetime | None]:
    """Peak within one day when calls of earlier days end during it: the live sweep over the day's
    calls plus those carried in (rare: calls running past midnight)."""
    ws, we = day_bounds(day)
    events: list[tuple[datetime, int]] = []
    for started, ended in s.execute(
        select(Call.started_at, Call.ended_at).where(Call.started_at >= ws, Call.started_at < we)
    ):
        events.append((aware(started), 1))
        ended = aware(ended)
        if ended is not None and ended < we:
            events.append((ended, -1))
    events += [(e, -1) for e in carry if e is not None and e < we]
    events.sort()
    n, best, at = len(carry), 0, None
    for t, d in events:
        n += d
        if n > best:
            best, at = n, t
    return best, at


def refresh(engine: Engine, today: date) -> int:
    """Build every missing or stale past day from the first call on (after `callbot seed`)."""
    with Session(engine) as s:
        first = s.scalar(select(func.min(Call.started_at)))
        if first is None:
            return 0
        start = aware(first).astimezone(_stats().PARIS).date()
        end = today - timedelta(days=1)
        if end < start:
            return 0
        return len(ensure_fresh(s, start, end))
