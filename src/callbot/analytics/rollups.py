"""Storing and reading the per-day dashboard summaries (rollups): what makes a page cheap at a
million calls, filtered or not.

A `DaySummary` (analytics/day_summary.py) holds the additive figures of one local calendar day for
one filter key: call counts by (outcome, transfer reason, hung up in queue, satisfaction), calls per
local hour, counts per (topic, intent), the duration / queue wait / latency histograms (same buckets
as the live queries, with each bucket's count and sum, so percentiles are those of the live
computation), callbacks, the calls the bot oriented to an outside body (in all and per
sub-kind), the day's own peak of simultaneous calls, its peak counting the previous
day's calls still running after midnight, and the end times of its calls still running at midnight
(to carry them into the next day). Stored in `daily_slices`, one row per (day, key); unrecognised
wordings in `daily_utterances`, one row per (day, key, lower(trim(text))). They are computed by
analytics/summarise.py.

How summaries are kept right:
- Only days that are over (before `today`, local time) are stored; today and later days are
  summarised live by the same code and never stored.
- Triggers (migrations 0004, 0005) mark a day stale whenever a call, turn or callback of that day
  is inserted, updated or deleted, by anyone (queue results arriving later, the console, retention
  purges, `callbot seed`, raw SQL); also the day after a call running past midnight, and the days
  of a call's turns and callbacks when its service or topic changes.
- `callbot purge` builds the days it empties first and marks them `purged`: their figures are
  final, never rebuilt (analytics/retention_purge.py); their wordings are deleted.
- A page rebuilds missing or stale past days (every key of a day at once) before reading them, in
  its own short transaction per chunk of days; PostgreSQL: the builder locks the days' rows (FOR
  UPDATE), which the triggers' upsert also locks, so a change committed during a build marks the
  day stale again; SQLite: the builder takes the single write lock before reading.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from loguru import logger as log
from sqlalchemy import Engine, bindparam, case, func, or_, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from callbot.analytics.day_summary import ALL, DaySummary, Key, call_where, key_where
from callbot.analytics.periods import Period, as_date, aware, day_bounds, day_ranges, days_between, local_day
from callbot.analytics.sql_expressions import unsure_turns
from callbot.analytics.summarise import summarise, utterance_aggregates, utterance_rows
from callbot.store.models import Call, DailyRollup, DailySlice, DailyUtterance, Turn

CHUNK_DAYS = 31  # days built per transaction: bounds lock time and memory
# Of the stored summaries (daily_rollups.format): days stored in another one are rebuilt, except
# purged days (format 4: oriented calls).
FORMAT = 4


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
    days = days_between(start, end)
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
        utterances = utterance_rows(s, start, end)
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


def _usable(s: Session, start: date, end: date) -> dict[date, object]:
    """Fresh days of start..end in this format → their build time. A purged day's figures are
    final (its raw data is gone): usable whatever the triggers marked since, and in an older
    format too (what that format did not hold reads as zero: DaySummary.from_json)."""
    return {
        as_date(d): built
        for d, built in s.execute(
            select(DailyRollup.day, DailyRollup.built_at).where(
                DailyRollup.day.between(start, end),
                or_(DailyRollup.stale.is_(False), DailyRollup.purged.is_(True)),
                or_(DailyRollup.format == FORMAT, DailyRollup.purged.is_(True)),
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
    first_day = local_day(aware(first)) if first is not None else None
    candidates = [d for d in missing if first_day is None or d < first_day]
    if not candidates:
        return set()
    rows = {as_date(d) for d in s.scalars(
        select(DailyRollup.day).where(DailyRollup.day.between(candidates[0], candidates[-1])))}
    return {d for d in candidates if d not in rows}


def ensure_fresh(s: Session, start: date, end: date) -> list[date]:
    """Build the missing or stale past days among start..end; returns the days it (re)built. The
    fresh days are remembered for the session: a page asks for the same days for several figures."""
    fresh = _usable(s, start, end)
    missing = [d for d in days_between(start, end) if d not in fresh]
    empty = _empty_days(s, missing) if missing else set()
    missing = [d for d in missing if d not in empty]
    for a, b in day_ranges(missing):
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
        for a, b in day_ranges([d for d in days_between(start, past_end) if d not in out]):
            out.update(_live(s, a, b, key))
    if max(start, today) <= end:
        out.update(_live(s, max(start, today), end, key))
    return [out[d] for d in days_between(start, end)]


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
    for a, b in day_ranges(sorted(d for d in fresh if d not in out)):
        got: dict[date, DaySummary] = {}
        for d, figures in s.execute(
            select(DailySlice.day, DailySlice.figures).where(
                *key_where(DailySlice.service, DailySlice.topic, key), DailySlice.day.between(a, b)
            )
        ):
            d = as_date(d)
            sm = DaySummary.from_json(d, figures)
            if d in got:
                got[d].add(sm)  # a filter with several services or topics
            else:
                got[d] = sm
        if len(_CACHE) >= CACHE_ENTRIES:
            _CACHE.clear()
        for d in days_between(a, b):
            out[d] = got.get(d) or DaySummary(d)
            _CACHE[(db, d, key)] = (fresh[d], out[d])
    return out


def topic_counts(s: Session, start: date, end: date, today: date, key: Key = ALL) -> list:
    """[(topic, intent, n)] over days start..end (the previous period of a trend)."""
    return [(t, i, n) for sm in summaries(s, start, end, today, key) for (t, i), n in sm.topics.items()]


def utterance_query(s: Session, start: date, end: date, today: date, limit: int, key: Key = ALL):  # noqa: ANN201
    """Rows (text, count, reason, action, mean confidence, intent) like the live query, most
    frequent first: stored days plus live ones, merged and ordered in SQL (same collation)."""
    past_end = min(end, today - timedelta(days=1))
    fresh = fresh_days(s, start, past_end) if start <= past_end else {}
    live = day_ranges([d for d in days_between(start, past_end) if d not in fresh])
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
        for a, b in day_ranges(sorted(fresh))
    ]
    for a, b in live:
        lo, hi = Period(a, b).bounds()
        text = func.lower(func.trim(Turn.text))
        q = select(text.label("t"), *utterance_aggregates()).where(*unsure_turns(lo, hi))
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


def refresh(engine: Engine, today: date) -> int:
    """Build every missing or stale past day from the first call on (after `callbot seed`)."""
    with Session(engine) as s:
        first = s.scalar(select(func.min(Call.started_at)))
        if first is None:
            return 0
        start = local_day(aware(first))
        end = today - timedelta(days=1)
        if end < start:
            return 0
        return len(ensure_fresh(s, start, end))
