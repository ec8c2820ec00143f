"""Per-day dashboard summaries (rollups): what makes a page cheap at a million calls, filtered or not.

A `DaySummary` holds the additive figures of one Paris calendar day for one *key*, the filter a page
asks for: all calls, one service, one topic, or one (service, topic) pair (stats.Period's
`services` and `topics`, at most one of each). Figures: call counts by (outcome, transfer reason,
hung up in queue, satisfaction), calls per Paris hour, counts per (topic, intent), the duration /
queue wait / latency histograms (same buckets as the live queries, with each bucket's count and
sum, so percentiles are those of the live computation), callbacks, the day's own peak of
simultaneous calls, its peak counting the previous day's calls still running after midnight, and
the end times of its calls still running at midnight (to carry them into the next day). Stored in
`daily_slices`, one row per (day, key); unrecognised wordings in `daily_utterances`, one row per
(day, key, lower(trim(text))).

Turns count under their call's service and topic, callbacks under their call's service and their
own topic: what the live filters (analytics/figures.py) select. A filter with several services or topics
is the sum of its single keys (disjoint calls), except for the peak: calls of different keys
overlap, so that one figure is computed live.

How summaries are kept right:
- Only days that are over (before `today`, Paris) are stored; today and later days are summarised
  live by the same code and never stored.
- Triggers (migrations 0004, 0005) mark a day stale whenever a call, turn or callback of that day
  is inserted, updated or deleted, by anyone (queue results arriving later, the console, retention
  purges, `callbot seed`, raw SQL); also the day after a call running past midnight, and the days
  of a call's turns and callbacks when its service or topic changes.
- A page rebuilds missing or stale past days (every key of a day at once) before reading them, in
  its own short transaction per chunk of days; PostgreSQL: the builder locks the days' rows (FOR
  UPDATE), which the triggers' upsert also locks, so a change committed during a build marks the
  day stale again; SQLite: the builder takes the single write lock before reading.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from loguru import logger as log
from sqlalchemy import (
    Date,
    Engine,
    String,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from callbot.store.models import Call, Callback, DailyRollup, DailySlice, DailyUtterance, Turn

CHUNK_DAYS = 31  # days built per transaction: bounds lock time and memory
FORMAT = 3  # of the stored summaries (daily_rollups.format): days stored in another one are rebuilt
HISTOGRAMS = ("durations", "queue_waits", "latency")

Key = tuple[tuple[str, ...], tuple[str, ...]]  # (services, topics) as in stats.Period; () = any
ALL: Key = ((), ())
KeysOf = Callable[[str | None, str | None], list[Key]]  # (service, topic) of a row → its keys


def stored_keys(service: str | None, topic: str | None) -> list[Key]:
    """The stored keys a row of this service and topic counts under (a filter never matches None)."""
    keys = [ALL]
    if service is not None:
        keys.append(((service,), ()))
    if topic is not None:
        keys.append(((), (topic,)))
        if service is not None:
            keys.append(((service,), (topic,)))
    return keys


def is_stored(key: Key) -> bool:
    return len(key[0]) <= 1 and len(key[1]) <= 1


def key_where(service_col, topic_col, key: Key) -> list:  # noqa: ANN001
    """Stored rows whose sum is `key`: a filter with several services or topics is several keys."""
    services, topics = key
    return [
        service_col.in_(services) if services else service_col.is_(None),
        topic_col.in_(topics) if topics else topic_col.is_(None),
    ]


def call_where(key: Key) -> list:
    """The live filter of `key` on calls (as stats.call_filters)."""
    services, topics = key
    return ([Call.service.in_(services)] if services else []) + ([Call.topic.in_(topics)] if topics else [])


def _stats():  # noqa: ANN202 — stats imports this module lazily; import it back lazily too
    from callbot.analytics import figures as stats

    return stats


def day_bounds(day: date) -> tuple[datetime, datetime]:
    paris = _stats().LOCAL_TZ
    lo = datetime.combine(day, time(), paris).astimezone(UTC)
    hi = datetime.combine(day + timedelta(days=1), time(), paris).astimezone(UTC)
    return lo, hi


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def aware(v: object) -> datetime | None:
    """A timestamp as the database returned it (SQLite: text or naive UTC) → aware datetime."""
    if v is None:
        return None
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return v if v.tzinfo else v.replace(tzinfo=UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _micros(v: datetime) -> int:
    return (v - _EPOCH) // _US


def _from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def _peak_json(p: tuple[int, datetime] | None) -> list | None:
    return [p[0], _micros(p[1])] if p else None


def _peak_from_json(p: list | None) -> tuple[int, datetime] | None:
    return (p[0], _from_micros(p[1])) if p else None


def _end_order(e: datetime | None) -> tuple:
    return (e is None, e or _EPOCH)


Histogram = tuple  # (buckets int64, counts int64, sums float64) numpy arrays, sorted by bucket


@dataclass
class DaySummary:
    day: date
    breakdown: dict[tuple, int] = field(default_factory=dict)  # (outcome, reason, hung_up, sat) → n
    hours: dict[int, int] = field(default_factory=dict)  # Paris hour → calls
    topics: dict[tuple, int] = field(default_factory=dict)  # (topic, intent) → calls
    # Histograms: rows (bucket, n, sum) while being built, then a Histogram.
    durations: list | Histogram = field(default_factory=list)
    queue_waits: list | Histogram = field(default_factory=list)
    latency: list | Histogram = field(default_factory=list)
    callbacks: int = 0
    peak: tuple[int, datetime] | None = None  # peak of the day's own calls, earliest instant
    # Peak within the day counting the previous day's calls too (they end after midnight).
    peak_prev: tuple[int, datetime] | None = None
    open_ends: list[datetime | None] = field(default_factory=list)  # calls running past midnight

    def to_json(self) -> str:
        return json.dumps(
            {
                "bd": [[*k, n] for k, n in self.breakdown.items()],
                "h": sorted(self.hours.items()),
                "tp": [[*k, n] for k, n in self.topics.items()],
                "dur": _pack(self.durations),
                "qw": _pack(self.queue_waits),
                "lat": _pack(self.latency),
                "cb": self.callbacks,
                "pk": _peak_json(self.peak),
                "pp": _peak_json(self.peak_prev),
                "open": [None if e is None else _micros(e) for e in self.open_ends],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, day: date, figures: str) -> DaySummary:
        d = json.loads(figures)
        return cls(
            day=day,
            breakdown={tuple(r[:4]): r[4] for r in d["bd"]},
            hours=dict(d["h"]),
            topics={(r[0], r[1]): r[2] for r in d["tp"]},
            durations=_unpack(d["dur"]),
            queue_waits=_unpack(d["qw"]),
            latency=_unpack(d["lat"]),
            callbacks=d["cb"],
            peak=_peak_from_json(d["pk"]),
            peak_prev=_peak_from_json(d["pp"]),
            open_ends=[None if e is None else _from_micros(e) for e in d["open"]],
        )

    def add(self, o: DaySummary) -> None:
        """Add another key's figures of the same day (the keys of a filter with several services or
        topics select disjoint calls). Peaks do not add up: left unknown, the caller sweeps live."""
        for mine, theirs in ((self.breakdown, o.breakdown), (self.hours, o.hours), (self.topics, o.topics)):
            for k, n in theirs.items():
                mine[k] = mine.get(k, 0) + n
        for name in HISTOGRAMS:
            setattr(self, name, as_arrays(merge_histograms([getattr(self, name), getattr(o, name)])))
        self.callbacks += o.callbacks
        self.open_ends = sorted(self.open_ends + o.open_ends, key=_end_order)
        self.peak = self.peak_prev = None


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
    """Sum per bucket over parts (days, keys, or one part's repeated buckets) → rows (bucket,
    count, sum) sorted by bucket."""
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
    paris = _stats().LOCAL_TZ
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
        return cast(func.timezone(literal_column(f"'{_stats().LOCAL_TZ.key}'"), column), Date)
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


class _Grid:
    """Where `summarise` puts figures: a DaySummary per (day, key), each also numbered as the
    partition key id · span + day index (0 = start-1 … span-1 = end+1) for grouping in numpy."""

    def __init__(self, start: date, end: date, keys_of: KeysOf) -> None:
        self.start, self.end, self.keys_of = start, end, keys_of
        self.first = start - timedelta(days=1)
        self.span = (end - start).days + 3
        self.out: dict[date, dict[Key, DaySummary]] = {d: {} for d in _days(start, end)}
        self.keys: list[Key] = []
        self._key_ids: dict[Key, int] = {}
        self._combos: dict[tuple, list[int]] = {}

    def key_ids(self, service: str | None, topic: str | None) -> list[int]:
        ids = self._combos.get((service, topic))
        if ids is None:
            ids = self._combos[(service, topic)] = []
            for k in self.keys_of(service, topic):
                if k not in self._key_ids:
                    self._key_ids[k] = len(self.keys)
                    self.keys.append(k)
                ids.append(self._key_ids[k])
        return ids

    def at(self, day: date, key: Key) -> DaySummary:
        sums = self.out[day]
        return sums[key] if key in sums else sums.setdefault(key, DaySummary(day))

    def summaries(self, day: object, service: str | None, topic: str | None) -> list[DaySummary]:
        """The summaries a row of this day, service and topic adds to."""
        day = _as_date(day)
        return [self.at(day, self.keys[k]) for k in self.key_ids(service, topic)]

    def summary(self, part: int) -> DaySummary | None:
        k, i = divmod(int(part), self.span)
        day = self.first + timedelta(days=i)
        return self.at(day, self.keys[k]) if self.start <= day <= self.end else None

    def expand(self, rows: list, service: int, topic: int) -> tuple[np.ndarray, np.ndarray]:
        """(row index, key id) for each key each row counts under (row[service], row[topic])."""
        combos: dict[tuple, int] = {}
        combo = np.fromiter(
            (combos.setdefault((r[service], r[topic]), len(combos)) for r in rows), np.int64, len(rows)
        )
        idx, kid = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for (sv, tp), c in combos.items():
            members = np.flatnonzero(combo == c)
            for k in self.key_ids(sv, tp):
                idx.append(members)
                kid.append(np.full(len(members), k, np.int64))
        return np.concatenate(idx), np.concatenate(kid)

    def histograms(
        self, attr: str, part: np.ndarray, bucket: np.ndarray, n: np.ndarray, total: np.ndarray
    ) -> None:
        """Counts and sums per (partition, bucket) → each (day, key)'s histogram `attr`."""
        if not len(part):
            return
        order = np.lexsort((bucket, part))  # stable: equal buckets keep the rows' order
        part, bucket, n, total = part[order], bucket[order], n[order], total[order]
        first = np.flatnonzero(np.r_[True, (part[1:] != part[:-1]) | (bucket[1:] != bucket[:-1])])
        part, bucket = part[first], bucket[first]
        n, total = np.add.reduceat(n, first), np.add.reduceat(total, first)
        bounds = np.r_[np.flatnonzero(np.r_[True, part[1:] != part[:-1]]), len(part)]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            sm = self.summary(part[a])
            if sm is not None:
                setattr(sm, attr, (bucket[a:b], n[a:b], total[a:b]))


def summarise(
    s: Session, start: date, end: date, key: Key | None = None
) -> dict[date, dict[Key, DaySummary]]:
    """Live summaries of Paris days start..end (both included), one query per figure: of every
    stored key (grouped by service and topic, each row added to the keys it counts under), or of
    one `key` (its filter in the queries, as the live ones do)."""
    st = _stats()
    lo, hi = st.Period(start, end).bounds()
    if key is None:
        g = _Grid(start, end, stored_keys)
        svc, top, by = Call.service, Call.topic, [Call.service, Call.topic]
        filters = []
    else:
        g = _Grid(start, end, lambda _service, _topic: [key])
        svc, top, by = null(), null(), []
        filters = call_where(key)
    day = paris_day(s, Call.started_at, lo, hi).label("day")
    where = [Call.started_at >= lo, Call.started_at < hi, *filters]
    run = s.connection().execute  # Core rows: no ORM processing of thousands of grouped rows

    hung_up = case((Call.queue_result == "hangup", 1), else_=0).label("hung_up")
    cols = (Call.outcome, Call.transfer_reason, hung_up, Call.satisfaction)
    for d, sv, tp, o, r, h, sat, n in run(
        select(day, svc, top, *cols, func.count()).where(*where).group_by(day, *by, *cols)
    ):
        k = (o, r, int(h), None if sat is None else int(sat))
        for sm in g.summaries(d, sv, tp):
            sm.breakdown[k] = sm.breakdown.get(k, 0) + int(n)

    # Calls per hour: grouped by UTC hour and relabelled in Python, as the live time series does.
    bucket = st._hour_bucket(s).label("bucket")
    for b, sv, tp, n in run(select(bucket, svc, top, func.count()).where(*where).group_by(bucket, *by)):
        local = st._bucket_start(b).astimezone(st.LOCAL_TZ)
        if start <= local.date() <= end:
            for sm in g.summaries(local.date(), sv, tp):
                sm.hours[local.hour] = sm.hours.get(local.hour, 0) + int(n)

    for d, sv, tp, topic, intent, n in run(
        select(day, svc, top, Call.topic, Call.intent, func.count())
        .where(*where, Call.topic.is_not(None) | Call.intent.is_not(None))
        .group_by(day, *by, Call.topic, Call.intent)
    ):
        for sm in g.summaries(d, sv, tp):
            sm.topics[(topic, intent)] = sm.topics.get((topic, intent), 0) + int(n)

    # A callback counts under its call's service (none without a call) and its own topic, as
    # stats.callbacks_requested selects them.
    cb_day = paris_day(s, Callback.created_at, lo, hi).label("day")
    cb = select(cb_day, svc, Callback.topic if key is None else null(), func.count()).where(
        Callback.created_at >= lo, Callback.created_at < hi
    )
    if key is None:
        cb = cb.outerjoin(Call, Call.id == Callback.call_id).group_by(cb_day, Call.service, Callback.topic)
    else:
        services, topics = key
        if services:
            cb = cb.join(Call, Call.id == Callback.call_id).where(Call.service.in_(services))
        if topics:
            cb = cb.where(Callback.topic.in_(topics))
        cb = cb.group_by(cb_day)
    for d, sv, tp, n in run(cb):
        for sm in g.summaries(d, sv, tp):
            sm.callbacks += int(n)

    def histogram(attr: str, value, width: float, day_expr, filters: list, table) -> None:  # noqa: ANN001
        b = st._floor_div(s, value, width).label("b")
        rows = run(
            select(day_expr, svc, top, b, func.count(), func.sum(value))
            .select_from(table)
            .where(*filters, value.is_not(None), value >= 0)
            .group_by(day_expr, *by, b)
        ).all()
        idx, kid = g.expand(rows, 1, 2)
        day_i = np.fromiter(((_as_date(r[0]) - g.first).days for r in rows), np.int64, len(rows))
        n = np.fromiter((r[4] for r in rows), np.int64, len(rows))
        total = np.fromiter((r[5] or 0 for r in rows), np.float64, len(rows))
        b_ = np.fromiter((r[3] for r in rows), np.int64, len(rows))
        g.histograms(attr, kid * g.span + day_i[idx], b_[idx], n[idx], total[idx])

    seconds = st._seconds_between
    histogram(
        "durations",
        seconds(s, Call.started_at, Call.ended_at),
        st.DURATION_BUCKET_S,
        day,
        where,
        Call.__table__,
    )
    histogram(
        "queue_waits",
        seconds(s, Call.queued_at, Call.picked_up_at),
        st.DURATION_BUCKET_S,
        day,
        where,
        Call.__table__,
    )
    turn_day = paris_day(s, Turn.at, lo, hi).label("day")
    histogram(
        "latency",
        Turn.response_ms,
        st.LATENCY_BUCKET_MS,
        turn_day,
        [Turn.at >= lo, Turn.at < hi, Turn.speaker == "caller", *filters],
        # A turn counts under its call's service and topic: joined only when they matter.
        Turn.__table__.join(Call.__table__, Call.id == Turn.call_id) if by or filters else Turn.__table__,
    )

    _timeline(s, g, svc, top, filters)
    for sums in g.out.values():
        for sm in sums.values():
            sm.open_ends.sort(key=_end_order)
    return g.out


def _epoch(s: Session, column):  # noqa: ANN001, ANN202
    """A timestamp column as the database hands it over fastest: PostgreSQL seconds since the
    epoch (a double: within 0.25 µs of the stored µs, so rounding gives them back exactly),
    SQLite its UTC text."""
    if s.get_bind().dialect.name == "postgresql":
        return func.date_part("epoch", column)
    return type_coerce(column, String)


def _micros_array(values: list) -> tuple[np.ndarray, np.ndarray]:
    """`_epoch` values → (µs since the epoch, 0 where missing; present)."""
    present = np.fromiter((v is not None for v in values), bool, len(values))
    if any(isinstance(v, str) for v in values):
        us = np.array([v or "NaT" for v in values], "datetime64[us]").astype(np.int64)
    else:
        us = np.rint(np.array([v or 0.0 for v in values], np.float64) * 1e6).astype(np.int64)
    return np.where(present, us, 0), present


def _timeline(s: Session, g: _Grid, svc, top, filters: list) -> None:  # noqa: ANN001
    """Peaks and calls running past midnight of each (day, key), from the start and end times of
    the calls of start-1..end: the live sweep (stats.peak_simultaneous) per day and key, in numpy."""
    mid = np.array([_micros(day_bounds(g.first + timedelta(days=i))[0]) for i in range(g.span + 1)])
    rows = s.execute(
        select(_epoch(s, Call.started_at), _epoch(s, Call.ended_at), svc, top).where(
            Call.started_at >= _from_micros(mid[0]), Call.started_at < _from_micros(mid[-2]), *filters
        )
    ).all()
    idx, kid = g.expand(rows, 2, 3)
    if not len(idx):
        return
    t0 = _micros_array([r[0] for r in rows])[0][idx]
    t1, ended = (a[idx] for a in _micros_array([r[1] for r in rows]))
    day = np.searchsorted(mid, t0, side="right") - 1
    part = kid * g.span + day
    # Events: 2·µs + 1 for a start, 2·µs for an end (ends first at equal instants, as live).
    ev_part = np.concatenate([part, part[ended]])
    ev_t = np.concatenate([2 * t0 + 1, 2 * t1[ended]])
    # The same events a day later: the previous day's calls move the next day's count, but their
    # events before its midnight are not its own.
    counted = np.concatenate([np.ones(len(ev_t), bool), (ev_t >> 1) >= mid[ev_part % g.span + 1]])
    peaks = (
        ("peak", _sweep(ev_part, ev_t)),
        ("peak_prev", _sweep(np.concatenate([ev_part, ev_part + 1]), np.concatenate([ev_t, ev_t]), counted)),
    )
    for attr, found in peaks:
        for p, (n, at) in found.items():
            sm = g.summary(p)
            if sm is not None:
                setattr(sm, attr, (n, _from_micros(at)))
    # Still running at the day's end (or never closed): carried into the next days.
    for j in np.flatnonzero(~ended | (t1 > mid[day + 1])):
        sm = g.summary(part[j])
        if sm is not None:
            sm.open_ends.append(_from_micros(t1[j]) if ended[j] else None)


def _sweep(part: np.ndarray, t2: np.ndarray, counted: np.ndarray | None = None) -> dict[int, tuple]:
    """Per partition, the live sweep over its events t2 = 2·µs + (1 start, 0 end) in time order:
    the highest running count (> 0) among `counted` events and its earliest instant (µs)."""
    if not len(part):
        return {}
    order = np.lexsort((t2, part))
    part, t2 = part[order], t2[order]
    step = (t2 & 1) * 2 - 1
    run = np.cumsum(step)
    first = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
    size = np.diff(np.r_[first, len(part)])
    run -= np.repeat(run[first] - step[first], size)  # running count within each partition
    if counted is not None:
        run = np.where(counted[order], run, 0)
    best = np.maximum.reduceat(run, first)
    hit = np.flatnonzero((run == np.repeat(best, size)) & (run > 0))
    groups, at = np.unique(np.searchsorted(first, hit, side="right") - 1, return_index=True)
    return {
        int(part[first[g]]): (int(best[g]), int(t2[hit[i]] >> 1)) for g, i in zip(groups, at, strict=True)
    }


def _unsure_turns(lo: datetime, hi: datetime) -> list:
    st = _stats()
    return [
        Turn.at >= lo,
        Turn.at < hi,
        Turn.speaker == "caller",
        Turn.action.in_(st.UNSURE_ACTIONS),
        func.length(func.trim(Turn.text)) > 0,
    ]


def _utterance_aggregates() -> list:
    return [
        func.count().label("n"),
        func.max(Turn.fallback_reason).label("reason"),
        func.max(Turn.action).label("action"),
        func.max(Turn.intent).label("intent"),
        func.sum(Turn.confidence).label("cs"),
        func.count(Turn.confidence).label("cn"),
    ]


def _utterance_rows(s: Session, start: date, end: date) -> list[dict]:
    """Rows of daily_utterances for days start..end, every stored key. Grouped in SQL once per kind
    of key, so each row's max(reason) etc. are those of the live query (same collation)."""
    lo, hi = _stats().Period(start, end).bounds()
    d = paris_day(s, Turn.at, lo, hi).label("day")
    text = func.lower(func.trim(Turn.text)).label("t")
    out: list[dict] = []
    for by_service, by_topic in ((False, False), (True, False), (False, True), (True, True)):
        service = Call.service if by_service else null()
        topic = Call.topic if by_topic else null()
        q = select(d, service.label("service"), topic.label("topic"), text, *_utterance_aggregates()).where(
            *_unsure_turns(lo, hi)
        )
        if by_service or by_topic:
            q = q.join(Call, Call.id == Turn.call_id).where(
                *([Call.service.is_not(None)] if by_service else []),
                *([Call.topic.is_not(None)] if by_topic else []),
            )
        group = [d, text] + ([Call.service] if by_service else []) + ([Call.topic] if by_topic else [])
        for day, sv, tp, t, n, reason, action, intent, cs, cn in s.execute(q.group_by(*group)):
            out.append(
                {
                    "day": _as_date(day),
                    "service": sv,
                    "topic": tp,
                    "text": t,
                    "count": int(n),
                    "reason": reason,
                    "action": action,
                    "intent": intent,
                    "confidence_sum": None if cs is None else float(cs),
                    "confidence_n": int(cn or 0),
                }
            )
    return out


# --- storing and reading ----------------------------------------------------------------------------


def _engine(s: Session) -> Engine:
    bind = s.get_bind()
    return getattr(bind, "engine", bind)


def build(engine: Engine, start: date, end: date) -> None:
    """(Re)build and store the summaries of days start..end, chunk by chunk."""
    cur = start
    while cur <= end:
        last = min(end, cur + timedelta(days=CHUNK_DAYS - 1))
        _build_chunk(engine, cur, last)
        cur = last + timedelta(days=1)


def _build_chunk(engine: Engine, start: date, end: date) -> None:
    days = _days(start, end)
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
        s.execute(
            DailyRollup.__table__.update()
            .where(DailyRollup.day == bindparam("d"))
            .values(utc_lo=bindparam("lo"), utc_hi=bindparam("hi"), stale=False, built_at=now, format=FORMAT),
            [{"d": d, "lo": day_bounds(d)[0], "hi": day_bounds(d)[1]} for d in days],
        )
        s.execute(DailySlice.__table__.delete().where(DailySlice.day.between(start, end)))
        rows = [
            {
                "day": d,
                "service": services[0] if services else None,
                "topic": topics[0] if topics else None,
                "figures": sm.to_json(),
            }
            for d, sums in summaries.items()
            for (services, topics), sm in sums.items()
        ]
        if rows:
            s.execute(DailySlice.__table__.insert(), rows)
        s.execute(DailyUtterance.__table__.delete().where(DailyUtterance.day.between(start, end)))
        if utterances:
            s.execute(DailyUtterance.__table__.insert(), utterances)


def _ranges(days: list[date]) -> list[tuple[date, date]]:
    out: list[tuple[date, date]] = []
    for d in days:
        if out and out[-1][1] + timedelta(days=1) == d:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def _usable(s: Session, start: date, end: date) -> dict[date, object]:
    """Fresh days of start..end in this format → their build time."""
    return {
        _as_date(d): built
        for d, built in s.execute(
            select(DailyRollup.day, DailyRollup.built_at).where(
                DailyRollup.day.between(start, end),
                DailyRollup.stale.is_(False),
                DailyRollup.format == FORMAT,
            )
        )
    }


# Build time of a day known to be empty without a stored row: no row at all, and before the first
# call of the database (a year page's trend reads the year before the history began).
EMPTY_BEFORE_HISTORY = "empty"


def _empty_days(s: Session, missing: list[date]) -> set[date]:
    """Missing days before the first call's day that have no row at all (a stale row is rebuilt:
    it may hold calls purged since)."""
    first = s.scalar(select(func.min(Call.started_at)))
    first_day = aware(first).astimezone(_stats().LOCAL_TZ).date() if first is not None else None
    candidates = [d for d in missing if first_day is None or d < first_day]
    if not candidates:
        return set()
    rows = {_as_date(d) for d in s.scalars(
        select(DailyRollup.day).where(DailyRollup.day.between(candidates[0], candidates[-1])))}
    return {d for d in candidates if d not in rows}


def ensure_fresh(s: Session, start: date, end: date) -> list[date]:
    """Build the missing or stale past days among start..end; returns the days it (re)built. The
    fresh days are remembered for the session: a page asks for the same days for several figures."""
    fresh = _usable(s, start, end)
    missing = [d for d in _days(start, end) if d not in fresh]
    empty = _empty_days(s, missing) if missing else set()
    missing = [d for d in missing if d not in empty]
    for a, b in _ranges(missing):
        try:
            build(_engine(s), a, b)
        except DBAPIError as e:  # a lock timeout or deadlock: these days are read live this time
            log.warning("résumés quotidiens {}..{} non construits : {}", a, b, e)
    if missing:
        fresh = _usable(s, start, end)
    fresh.update(dict.fromkeys(empty, EMPTY_BEFORE_HISTORY))
    s.info["rollups_fresh"] = (start, end, fresh)
    return missing


def fresh_days(s: Session, start: date, end: date) -> dict[date, object]:
    """The usable stored days of start..end (→ build time), built first if needed, once per session."""
    memo = s.info.get("rollups_fresh")
    if memo is None or not (memo[0] <= start and end <= memo[1]):
        ensure_fresh(s, start, end)
        memo = s.info["rollups_fresh"]
    return {d: built for d, built in memo[2].items() if start <= d <= end}


def summaries(s: Session, start: date, end: date, today: date, key: Key = ALL) -> list[DaySummary]:
    """Summaries of days start..end for `key`, in order: stored ones for past days (built if
    needed), live ones from today on."""
    out: dict[date, DaySummary] = {}
    past_end = min(end, today - timedelta(days=1))
    if start <= past_end:
        out.update(_stored(s, fresh_days(s, start, past_end), key))
        # Days that could not be built, or changed again since: summarised live.
        for a, b in _ranges([d for d in _days(start, past_end) if d not in out]):
            out.update(_live(s, a, b, key))
    if max(start, today) <= end:
        out.update(_live(s, max(start, today), end, key))
    return [out[d] for d in _days(start, end)]


def _live(s: Session, start: date, end: date, key: Key) -> dict[date, DaySummary]:
    return {d: sums.get(key) or DaySummary(d) for d, sums in summarise(s, start, end, key).items()}


# Decoded summaries by (database, day, key), valid while the day's built_at is unchanged: a stored
# summary never changes, a rebuild writes a new one with a new built_at.
_CACHE: dict[tuple[str, date, Key], tuple[object, DaySummary]] = {}
CACHE_ENTRIES = 20_000


def _stored(s: Session, fresh: dict[date, object], key: Key) -> dict[date, DaySummary]:
    """The stored summaries of the fresh days for `key` (a day without a row had no such call)."""
    db = str(_engine(s).url)
    out: dict[date, DaySummary] = {}
    for d, built in fresh.items():
        hit = _CACHE.get((db, d, key))
        if hit is not None and hit[0] == built:
            out[d] = hit[1]
    for a, b in _ranges(sorted(d for d in fresh if d not in out)):
        got: dict[date, DaySummary] = {}
        for d, figures in s.execute(
            select(DailySlice.day, DailySlice.figures).where(
                *key_where(DailySlice.service, DailySlice.topic, key), DailySlice.day.between(a, b)
            )
        ):
            d = _as_date(d)
            sm = DaySummary.from_json(d, figures)
            if d in got:
                got[d].add(sm)  # a filter with several services or topics
            else:
                got[d] = sm
        if len(_CACHE) >= CACHE_ENTRIES:
            _CACHE.clear()
        for d in _days(a, b):
            out[d] = got.get(d) or DaySummary(d)
            _CACHE[(db, d, key)] = (fresh[d], out[d])
    return out


def topic_counts(s: Session, start: date, end: date, today: date, key: Key = ALL) -> list:
    """[(topic, intent, n)] over days start..end (the previous period of a trend)."""
    return [(t, i, n) for sm in summaries(s, start, end, today, key) for (t, i), n in sm.topics.items()]


def utterance_query(s: Session, start: date, end: date, today: date, limit: int, key: Key = ALL):  # noqa: ANN201
    """Rows (text, count, reason, action, mean confidence, intent) like the live query, most
    frequent first: stored days plus live ones, merged and ordered in SQL (same collation)."""
    st = _stats()
    past_end = min(end, today - timedelta(days=1))
    fresh = fresh_days(s, start, past_end) if start <= past_end else {}
    live = _ranges([d for d in _days(start, past_end) if d not in fresh])
    if max(start, today) <= end:
        live.append((max(start, today), end))
    u = DailyUtterance
    parts = [
        select(
            u.text.label("t"),
            u.count.label("n"),
            u.reason.label("reason"),
            u.action.label("action"),
            u.intent.label("intent"),
            u.confidence_sum.label("cs"),
            u.confidence_n.label("cn"),
        ).where(*key_where(u.service, u.topic, key), u.day.between(a, b))
        for a, b in _ranges(sorted(fresh))
    ]
    for a, b in live:
        lo, hi = st.Period(a, b).bounds()
        text = func.lower(func.trim(Turn.text))
        q = select(text.label("t"), *_utterance_aggregates()).where(*_unsure_turns(lo, hi))
        if call_where(key):
            q = q.join(Call, Call.id == Turn.call_id).where(*call_where(key))
        parts.append(q.group_by(text))
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


def live_day_peak(
    s: Session, day: date, carry: list[datetime | None], key: Key = ALL
) -> tuple[int, datetime | None]:
    """Peak within one day when calls of earlier days end during it: the live sweep over the day's
    calls of `key` plus those carried in (rare: calls running past midnight)."""
    ws, we = day_bounds(day)
    events: list[tuple[datetime, int]] = []
    for started, ended in s.execute(
        select(Call.started_at, Call.ended_at).where(
            Call.started_at >= ws, Call.started_at < we, *call_where(key)
        )
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
        start = aware(first).astimezone(_stats().LOCAL_TZ).date()
        end = today - timedelta(days=1)
        if end < start:
            return 0
        return len(ensure_fresh(s, start, end))
