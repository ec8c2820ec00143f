"""One local day's additive figures for one filter key (`DaySummary`), and how it is stored.

A *key* is the filter a page asks for: all calls, one service, one topic, or one (service, topic)
pair (a `Period`'s `services` and `topics`, at most one of each). A filter with several services
or topics is the sum of its single keys (they select disjoint calls), except for the peak of
simultaneous calls, which does not add up.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from callbot.analytics.histograms import Histogram, as_arrays, merge_histograms, pack, unpack
from callbot.store.models import Call

HISTOGRAMS = ("durations", "queue_waits", "latency")

Key = tuple[tuple[str, ...], tuple[str, ...]]  # (services, topics) as in Period; () = any
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
    """The live filter of `key` on calls (as sql_expressions.call_filters)."""
    services, topics = key
    return ([Call.service.in_(services)] if services else []) + ([Call.topic.in_(topics)] if topics else [])


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def micros(v: datetime) -> int:
    """Microseconds since the epoch."""
    return (v - EPOCH) // _US


def from_micros(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(us))


def end_order(e: datetime | None) -> tuple:
    """Sort key of end times, calls never closed last."""
    return (e is None, e or EPOCH)


def _peak_json(p: tuple[int, datetime] | None) -> list | None:
    return [p[0], micros(p[1])] if p else None


def _peak_from_json(p: list | None) -> tuple[int, datetime] | None:
    return (p[0], from_micros(p[1])) if p else None


@dataclass
class DaySummary:
    day: date
    breakdown: dict[tuple, int] = field(default_factory=dict)  # (outcome, reason, hung_up, sat) → n
    hours: dict[int, int] = field(default_factory=dict)  # local hour → calls
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
    oriented: int = 0  # calls resolved by telling who handles the question (analytics/oriented.py)
    oriented_kinds: dict[str, int] = field(default_factory=dict)  # hors_mairie intent → oriented calls

    def to_json(self) -> str:
        return json.dumps(
            {
                "bd": [[*k, n] for k, n in self.breakdown.items()],
                "h": sorted(self.hours.items()),
                "tp": [[*k, n] for k, n in self.topics.items()],
                "dur": pack(self.durations),
                "qw": pack(self.queue_waits),
                "lat": pack(self.latency),
                "cb": self.callbacks,
                "pk": _peak_json(self.peak),
                "pp": _peak_json(self.peak_prev),
                "open": [None if e is None else micros(e) for e in self.open_ends],
                "or": self.oriented,
                "ok": sorted(self.oriented_kinds.items()),
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
            durations=unpack(d["dur"]),
            queue_waits=unpack(d["qw"]),
            latency=unpack(d["lat"]),
            callbacks=d["cb"],
            peak=_peak_from_json(d["pk"]),
            peak_prev=_peak_from_json(d["pp"]),
            open_ends=[None if e is None else from_micros(e) for e in d["open"]],
            # Absent from days stored before format 4 and purged since (figures kept, not rebuilt).
            oriented=d.get("or", 0),
            oriented_kinds=dict(d.get("ok", ())),
        )

    def add(self, o: DaySummary) -> None:
        """Add another key's figures of the same day (the keys of a filter with several services or
        topics select disjoint calls). Peaks do not add up: left unknown, the caller sweeps live."""
        pairs = ((self.breakdown, o.breakdown), (self.hours, o.hours), (self.topics, o.topics),
                 (self.oriented_kinds, o.oriented_kinds))
        for mine, theirs in pairs:
            for k, n in theirs.items():
                mine[k] = mine.get(k, 0) + n
        for name in HISTOGRAMS:
            setattr(self, name, as_arrays(merge_histograms([getattr(self, name), getattr(o, name)])))
        self.callbacks += o.callbacks
        self.oriented += o.oriented
        self.open_ends = sorted(self.open_ends + o.open_ends, key=end_order)
        self.peak = self.peak_prev = None
