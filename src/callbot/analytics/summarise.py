"""The per-day summaries computed from the calls: what is stored for past days and what today's
figures are read from.

`summarise` makes one query per figure for days start..end, grouped by local day and, for the
stored keys, by service and topic (each row added to every key it counts under), or filtered to
one key as the live queries are. Turns count under their call's service and topic, callbacks under
their call's service and their own topic. Peaks of simultaneous calls and the calls running past
midnight come from one sweep over the calls' start and end times, in numpy.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import case, func, null, select
from sqlalchemy.orm import Session

from callbot.analytics.day_summary import (
    ALL,
    DaySummary,
    Key,
    KeysOf,
    call_where,
    end_order,
    from_micros,
    micros,
    stored_keys,
)
from callbot.analytics.histograms import DURATION_BUCKET_S, LATENCY_BUCKET_MS
from callbot.analytics.oriented import orienting_turns
from callbot.analytics.periods import LOCAL_TZ, Period, as_date, aware, day_bounds, days_between
from callbot.analytics.sql_expressions import (
    bucket_start,
    epoch,
    floor_div,
    hour_bucket,
    local_day_of,
    seconds_between,
    unsure_turns,
)
from callbot.store.models import Call, Callback, Turn


class _Grid:
    """Where `summarise` puts figures: a DaySummary per (day, key), each also numbered as the
    partition key id · span + day index (0 = start-1 … span-1 = end+1) for grouping in numpy."""

    def __init__(self, start: date, end: date, keys_of: KeysOf) -> None:
        self.start, self.end, self.keys_of = start, end, keys_of
        self.first = start - timedelta(days=1)
        self.span = (end - start).days + 3
        self.out: dict[date, dict[Key, DaySummary]] = {d: {} for d in days_between(start, end)}
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
        day = as_date(day)
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
    """Live summaries of local days start..end (both included), one query per figure: of every
    stored key (grouped by service and topic, each row added to the keys it counts under), or of
    one `key` (its filter in the queries, as the live ones do)."""
    lo, hi = Period(start, end).bounds()
    if key is None:
        g = _Grid(start, end, stored_keys)
        svc, top, by = Call.service, Call.topic, [Call.service, Call.topic]
        filters = []
    else:
        g = _Grid(start, end, lambda _service, _topic: [key])
        svc, top, by = null(), null(), []
        filters = call_where(key)
    day = local_day_of(s, Call.started_at, lo, hi).label("day")
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
    bucket = hour_bucket(s).label("bucket")
    for b, sv, tp, n in run(select(bucket, svc, top, func.count()).where(*where).group_by(bucket, *by)):
        local = bucket_start(b).astimezone(LOCAL_TZ)
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

    # Oriented calls: once in the total, once per sub-kind they were given (analytics/oriented.py).
    # One query for both: (call, sub-kind) pairs, few (a small share of the calls).
    kinds_of: dict[int, tuple[object, object, object, set]] = {}
    for d, sv, tp, call_id, kind in run(
        select(day, svc, top, Call.id, Turn.intent).distinct().where(*where, *orienting_turns())
    ):
        kinds_of.setdefault(call_id, (d, sv, tp, set()))[3].add(kind)
    for d, sv, tp, kinds in kinds_of.values():
        for sm in g.summaries(d, sv, tp):
            sm.oriented += 1
            for kind in kinds:
                sm.oriented_kinds[kind] = sm.oriented_kinds.get(kind, 0) + 1

    # A callback counts under its call's service (none without a call) and its own topic, as
    # the live filters select them.
    cb_day = local_day_of(s, Callback.created_at, lo, hi).label("day")
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
        b = floor_div(s, value, width).label("b")
        rows = run(
            select(day_expr, svc, top, b, func.count(), func.sum(value))
            .select_from(table)
            .where(*filters, value.is_not(None), value >= 0)
            .group_by(day_expr, *by, b)
        ).all()
        idx, kid = g.expand(rows, 1, 2)
        day_i = np.fromiter(((as_date(r[0]) - g.first).days for r in rows), np.int64, len(rows))
        n = np.fromiter((r[4] for r in rows), np.int64, len(rows))
        total = np.fromiter((r[5] or 0 for r in rows), np.float64, len(rows))
        b_ = np.fromiter((r[3] for r in rows), np.int64, len(rows))
        g.histograms(attr, kid * g.span + day_i[idx], b_[idx], n[idx], total[idx])

    seconds = seconds_between
    histogram(
        "durations",
        seconds(s, Call.started_at, Call.ended_at),
        DURATION_BUCKET_S,
        day,
        where,
        Call.__table__,
    )
    histogram(
        "queue_waits",
        seconds(s, Call.queued_at, Call.picked_up_at),
        DURATION_BUCKET_S,
        day,
        where,
        Call.__table__,
    )
    turn_day = local_day_of(s, Turn.at, lo, hi).label("day")
    histogram(
        "latency",
        Turn.response_ms,
        LATENCY_BUCKET_MS,
        turn_day,
        [Turn.at >= lo, Turn.at < hi, Turn.speaker == "caller", *filters],
        # A turn counts under its call's service and topic: joined only when they matter.
        Turn.__table__.join(Call.__table__, Call.id == Turn.call_id) if by or filters else Turn.__table__,
    )

    _timeline(s, g, svc, top, filters)
    for sums in g.out.values():
        for sm in sums.values():
            sm.open_ends.sort(key=end_order)
    return g.out


def _micros_array(values: list) -> tuple[np.ndarray, np.ndarray]:
    """`epoch` values → (µs since the epoch, 0 where missing; present)."""
    present = np.fromiter((v is not None for v in values), bool, len(values))
    if any(isinstance(v, str) for v in values):
        us = np.array([v or "NaT" for v in values], "datetime64[us]").astype(np.int64)
    else:
        us = np.rint(np.array([v or 0.0 for v in values], np.float64) * 1e6).astype(np.int64)
    return np.where(present, us, 0), present


def _timeline(s: Session, g: _Grid, svc, top, filters: list) -> None:  # noqa: ANN001
    """Peaks and calls running past midnight of each (day, key), from the start and end times of
    the calls of start-1..end: the live sweep (figures.peak_simultaneous) per day and key, in numpy."""
    mid = np.array([micros(day_bounds(g.first + timedelta(days=i))[0]) for i in range(g.span + 1)])
    rows = s.execute(
        select(epoch(s, Call.started_at), epoch(s, Call.ended_at), svc, top).where(
            Call.started_at >= from_micros(mid[0]), Call.started_at < from_micros(mid[-2]), *filters
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
                setattr(sm, attr, (n, from_micros(at)))
    # Still running at the day's end (or never closed): carried into the next days.
    for j in np.flatnonzero(~ended | (t1 > mid[day + 1])):
        sm = g.summary(part[j])
        if sm is not None:
            sm.open_ends.append(from_micros(t1[j]) if ended[j] else None)


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


def utterance_aggregates() -> list:
    """What the unrecognised-utterance queries keep of a group of turns."""
    return [
        func.count().label("n"),
        func.max(Turn.fallback_reason).label("reason"),
        func.max(Turn.action).label("action"),
        func.max(Turn.intent).label("intent"),
        func.sum(Turn.confidence).label("cs"),
        func.count(Turn.confidence).label("cn"),
    ]


def utterance_rows(s: Session, start: date, end: date) -> list[dict]:
    """Rows of daily_utterances for days start..end, every stored key. Grouped in SQL once per kind
    of key, so each row's max(reason) etc. are those of the live query (same collation)."""
    lo, hi = Period(start, end).bounds()
    d = local_day_of(s, Turn.at, lo, hi).label("day")
    text = func.lower(func.trim(Turn.text)).label("t")
    out: list[dict] = []
    for by_service, by_topic in ((False, False), (True, False), (False, True), (True, True)):
        service = Call.service if by_service else null()
        topic = Call.topic if by_topic else null()
        q = select(d, service.label("service"), topic.label("topic"), text, *utterance_aggregates()).where(
            *unsure_turns(lo, hi)
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
                    "day": as_date(day),
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

