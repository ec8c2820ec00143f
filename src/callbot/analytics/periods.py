"""Periods and days in the commune's time zone, and their UTC bounds.

Every dashboard figure is for a `Period`: calendar days of the commune (its time zone comes from
`flows/`, read once at import), with optional service and topic filters. The database stores UTC;
the helpers here turn local days into UTC instants and database values into aware datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from callbot.vocabulary import local_tz

LOCAL_TZ = local_tz()  # the commune's (flows/), read once at import


@dataclass(frozen=True)
class Period:
    """Local calendar days `start`..`end` (both included) and optional filters."""

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
        return day_bounds(self.start)[0], day_bounds(self.end)[1]

    def previous(self) -> Period:
        """The period of equal length just before this one (for trends)."""
        return Period(
            self.start - timedelta(days=self.days), self.start - timedelta(days=1), self.services, self.topics
        )


def local_today() -> date:
    """Today in the commune."""
    return datetime.now(LOCAL_TZ).date()


def local_day(at: datetime) -> date:
    """The commune's calendar day of an aware instant."""
    return at.astimezone(LOCAL_TZ).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """UTC [start, end) of one local day (23 or 25 hours on daylight-saving days)."""
    lo = datetime.combine(day, time(), LOCAL_TZ).astimezone(UTC)
    hi = datetime.combine(day + timedelta(days=1), time(), LOCAL_TZ).astimezone(UTC)
    return lo, hi


def days_between(start: date, end: date) -> list[date]:
    """start..end, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def day_ranges(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days → runs of consecutive days as (first, last)."""
    out: list[tuple[date, date]] = []
    for d in days:
        if out and out[-1][1] + timedelta(days=1) == d:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def as_date(v: object) -> date:
    """A day as the database returned it (SQLite: ISO text)."""
    return v if isinstance(v, date) else date.fromisoformat(str(v))


def aware(v: object) -> datetime | None:
    """A timestamp as the database returned it (SQLite: text or naive UTC) → aware datetime."""
    if v is None:
        return None
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return v if v.tzinfo else v.replace(tzinfo=UTC)
