"""SQL expressions the figures share, written once for SQLite and PostgreSQL.

The local day or UTC hour of a timestamp, the seconds between two timestamps, histogram buckets,
a timestamp in its fastest transport form, and the filters of a `Period` on calls and turns.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Date, Float, Integer, String, case, cast, func, literal, literal_column, type_coerce
from sqlalchemy.orm import Session

from callbot.analytics.periods import LOCAL_TZ, Period
from callbot.store.models import Call, Turn

# Caller turns the bot did not understand well enough to answer straight away.
UNSURE_ACTIONS = ("fallback", "confirm", "clarify")


def is_postgresql(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def call_filters(period: Period, *, start: datetime | None = None) -> list:
    """Calls started in the period (from `start` if given) of its services and topics."""
    lo, hi = period.bounds()
    where = [Call.started_at >= (start or lo), Call.started_at < hi]
    if period.services:
        where.append(Call.service.in_(period.services))
    if period.topics:
        where.append(Call.topic.in_(period.topics))
    return where


def unsure_turns(lo: datetime, hi: datetime) -> list:
    """Caller turns in [lo, hi) answered by a fallback, a confirmation or a clarification."""
    return [
        Turn.at >= lo,
        Turn.at < hi,
        Turn.speaker == "caller",
        Turn.action.in_(UNSURE_ACTIONS),
        func.length(func.trim(Turn.text)) > 0,
    ]


def hour_bucket(s: Session):  # noqa: ANN201
    """The UTC hour of a call's start (relabelled in local time by `bucket_start`)."""
    if is_postgresql(s):
        return func.date_trunc("hour", Call.started_at)
    return func.substr(Call.started_at, 1, 13)  # "YYYY-MM-DD HH" of the stored UTC text


def bucket_start(value: object) -> datetime:
    """An `hour_bucket` value → the aware UTC start of that hour."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.strptime(str(value), "%Y-%m-%d %H").replace(tzinfo=UTC)


def seconds_between(s: Session, a, b):  # noqa: ANN001, ANN201
    if is_postgresql(s):
        # date_part gives a double; extract() gives numeric since PostgreSQL 14, several times slower.
        return func.date_part("epoch", b - a)
    # Rounded to the millisecond: julianday() arithmetic turns 60 s into 59.99999...
    return func.round((func.julianday(b) - func.julianday(a)) * 86400.0, 3)


def floor_div(s: Session, expr, width: float):  # noqa: ANN001, ANN201
    """The histogram bucket of a non-negative value."""
    # A float width: an integer one makes SQLAlchemy divide by a NUMERIC, several times slower.
    width = literal(float(width), Float)
    if is_postgresql(s):
        return cast(func.floor(expr / width), Integer)
    return cast(expr / width, Integer)  # SQLite truncates; values are never negative here


def epoch(s: Session, column):  # noqa: ANN001, ANN201
    """A timestamp column as the database hands it over fastest: PostgreSQL seconds since the
    epoch (a double: within 0.25 µs of the stored µs, so rounding gives them back exactly),
    SQLite its UTC text."""
    if is_postgresql(s):
        return func.date_part("epoch", column)
    return type_coerce(column, String)


def _hours_east(t: datetime) -> int:
    return int(t.astimezone(LOCAL_TZ).utcoffset().total_seconds() // 3600)


def _utc_offsets(lo: datetime, hi: datetime) -> list[tuple[datetime, int]]:
    """[(until UTC, local offset in hours)] covering lo..hi; the last entry has no end."""
    out: list[tuple[datetime, int]] = []
    t = lo.replace(minute=0, second=0, microsecond=0)
    cur = _hours_east(t)
    while t < hi:
        nxt = t + timedelta(days=1)
        if _hours_east(nxt) != cur:
            h = t
            while _hours_east(h) == cur:
                h += timedelta(hours=1)
            out.append((h, cur))
            cur = _hours_east(h)
            t = h
            continue
        t = nxt
    out.append((hi, cur))
    return out


def local_day_of(s: Session, column, lo: datetime, hi: datetime):  # noqa: ANN001, ANN201
    """SQL expression of the local calendar day of a UTC timestamp column (exact for lo..hi).
    Constants are inlined, so the same expression in SELECT and GROUP BY is one expression."""
    if is_postgresql(s):
        return cast(func.timezone(literal_column(f"'{LOCAL_TZ.key}'"), column), Date)
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
