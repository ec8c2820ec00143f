"""Opening hours of the commune's services, said the way a person would on the phone.

Everything is computed from the flow data and a clock: weekly hours, exceptional closures and
French public holidays (`holidays.France`). Times are written in words a TTS reads well
("17 heures", "8 heures 30").
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import Enum
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from callbot.dialog.schema import WEEKDAYS, Commune, Service, TimeRange

MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre"]


def spoken_time(t: time) -> str:
    if t.hour == 12 and t.minute == 0:
        return "midi"
    if t.minute == 0:
        return f"{t.hour} heures" if t.hour != 1 else "1 heure"
    return f"{t.hour} heure{'s' if t.hour != 1 else ''} {t.minute}"


def spoken_date(d: date) -> str:
    day = "1er" if d.day == 1 else str(d.day)
    return f"{WEEKDAYS[d.weekday()]} {day} {MONTHS[d.month - 1]}"


def spoken_ranges(ranges: list[TimeRange]) -> str:
    parts = [f"de {spoken_time(r.start)} à {spoken_time(r.end)}" for r in ranges]
    return " et ".join(parts)


def _days_label(days: list[str]) -> str:
    if len(days) == 1:
        return f"le {days[0]}"
    if len(days) == 2:
        return f"le {days[0]} et le {days[1]}"
    return f"du {days[0]} au {days[-1]}"


def _runs(open_days: list[tuple[str, list[TimeRange]]]) -> list[str]:
    """Consecutive days with the same hours, said together."""
    groups: list[tuple[list[str], list[TimeRange]]] = []
    for day, ranges in open_days:
        follows = bool(groups) and WEEKDAYS.index(groups[-1][0][-1]) == WEEKDAYS.index(day) - 1
        if follows and groups[-1][1] == ranges:
            groups[-1][0].append(day)
        else:
            groups.append(([day], ranges))
    return [f"{_days_label(days)} {spoken_ranges(ranges)}" for days, ranges in groups]


def _usual_with_exceptions(open_days: list[tuple[str, list[TimeRange]]]) -> list[str] | None:
    """The hours most days share, over the run of consecutive open days they span, then the days
    of that run that differ; the days after the run as runs. None when there is no such pattern."""
    def key(ranges: list[TimeRange]) -> tuple[tuple[time, time], ...]:
        return tuple((r.start, r.end) for r in ranges)

    keys = [key(ranges) for _, ranges in open_days]
    usual = max(set(keys), key=keys.count)
    if keys.count(usual) < 3:
        return None
    first, last = keys.index(usual), len(keys) - 1 - keys[::-1].index(usual)
    index = [WEEKDAYS.index(day) for day, _ in open_days]
    if index[last] - index[first] != last - first:  # a closed day inside: "du … au …" would be wrong
        return None
    run = open_days[first:last + 1]
    said = f"{_days_label([day for day, _ in run])} {spoken_ranges(open_days[first][1])}"
    for day, ranges in run:
        k = key(ranges)
        if k == usual:
            continue
        if len(k) == len(usual) and k[:-1] == usual[:-1] and k[-1][0] == usual[-1][0]:
            said += f", jusqu'à {spoken_time(ranges[-1].end)} le {day}"
        else:
            said += f", le {day} {spoken_ranges(ranges)}"
    return [*_runs(open_days[:first]), said, *_runs(open_days[last + 1:])]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


class Closed(Enum):
    HOLIDAY = "holiday"  # a public holiday
    CLOSURE = "closure"  # an exceptional closure declared in the flows
    WEEKLY = "weekly"  # no hours on that weekday


# Sentences for a day without opening hours ({detail}: the holiday's name, the closure's reason).
CLOSED_ON_DAY = {
    Closed.HOLIDAY: "{name} sera {closed} {when}, jour férié ({detail})",
    Closed.CLOSURE: "{name} sera {closed} {when} : {detail}",
    Closed.WEEKLY: "{name} est {closed} le {weekday}",
}
CLOSED_TODAY = {  # {again}: ". Elle réouvre demain à 8 heures 30", or nothing
    Closed.HOLIDAY: "{name} est {closed} ce {weekday} férié ({detail}){again}",
    Closed.CLOSURE: "{name} est exceptionnellement {closed} aujourd'hui : {detail}{again}",
    Closed.WEEKLY: "{name} est {closed} le {weekday}{again}",
}


@lru_cache(maxsize=8)
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year, language="fr")


class Hours:
    """Opening state of services at any moment, for one commune."""

    def __init__(self, commune: Commune) -> None:
        self.commune = commune
        self.tz = ZoneInfo(commune.timezone)

    def local(self, now: datetime) -> datetime:
        if now.tzinfo is None:
            return now.replace(tzinfo=self.tz)
        return now.astimezone(self.tz)

    def holiday(self, d: date) -> str | None:
        name = _holidays(self.commune.holidays, d.year).get(d)
        return str(name) if name else None

    def closure(self, service_id: str, d: date) -> str | None:
        for c in self.commune.closures:
            if c.date <= d <= (c.until or c.date) and (c.services == "all" or service_id in c.services):
                return c.reason
        return None

    def ranges(self, service_id: str, d: date) -> list[TimeRange]:
        """Opening ranges of a day (empty on holidays and closures)."""
        if self.holiday(d) or self.closure(service_id, d):
            return []
        return self.commune.services[service_id].hours.get(WEEKDAYS[d.weekday()], [])

    def is_open(self, service_id: str, now: datetime) -> bool:
        now = self.local(now)
        t = now.time()
        return any(r.start <= t < r.end for r in self.ranges(service_id, now.date()))

    def next_opening(self, service_id: str, now: datetime) -> datetime | None:
        now = self.local(now)
        for offset in range(0, 60):
            d = now.date() + timedelta(days=offset)
            for r in self.ranges(service_id, d):
                start = datetime.combine(d, r.start, tzinfo=self.tz)
                if start > now:
                    return start
        return None

    def _why_closed(self, service_id: str, d: date) -> tuple[Closed, str] | None:
        """Why a service does not open at all on a day (with the holiday's name or the closure's
        reason), or None when it has opening hours that day."""
        if holiday := self.holiday(d):
            return Closed.HOLIDAY, holiday
        if reason := self.closure(service_id, d):
            return Closed.CLOSURE, reason
        if not self.ranges(service_id, d):
            return Closed.WEEKLY, ""
        return None

    # -- spoken sentences ----------------------------------------------------------------------
    def _closed_sentence(self, service_id: str, d: date, sentences: dict[Closed, str],
                         **words: str) -> str | None:
        """The sentence for a day the service does not open, None if it opens."""
        why = self._why_closed(service_id, d)
        if why is None:
            return None
        kind, detail = why
        return _cap(sentences[kind].format(
            name=self._svc(service_id).name, closed=self._adj(service_id, "fermé"),
            weekday=WEEKDAYS[d.weekday()], detail=detail, **words))

    def _svc(self, service_id: str) -> Service:
        return self.commune.services[service_id]

    def _adj(self, service_id: str, word: str) -> str:
        return word + ("e" if self._svc(service_id).feminine else "")

    def _when(self, d: date, today: date) -> str:
        if d == today:
            return "aujourd'hui"
        if d == today + timedelta(days=1):
            return "demain"
        if 1 < (d - today).days < 7:
            return WEEKDAYS[d.weekday()]
        return "le " + spoken_date(d)

    def reopening(self, service_id: str, now: datetime) -> str:
        """« réouvre demain à 8 heures 30 »."""
        now = self.local(now)
        nxt = self.next_opening(service_id, now)
        if nxt is None:
            return ""
        when = self._when(nxt.date(), now.date())
        return f"réouvre {when} à {spoken_time(nxt.time())}"

    def weekly(self, service_id: str) -> str:
        """« du lundi au vendredi de 8 heures 30 à 12 heures et de 13 heures 30 à 17 heures, ... »:
        runs of days with the same hours, or (when shorter to say) the usual hours of a run of
        weekdays with its exceptions (« jusqu'à 19 heures le jeudi »)."""
        svc = self._svc(service_id)
        open_days = [(day, svc.hours[day]) for day in WEEKDAYS if svc.hours.get(day)]
        if not open_days:
            return f"{svc.name} ne reçoit pas de public à heures fixes"
        parts = min((_runs(open_days), _usual_with_exceptions(open_days)),
                    key=lambda p: len(" ".join(p).split()) if p else 10**6)
        text = ", ".join(parts[:-1]) + (", et " if len(parts) > 1 else "") + parts[-1]
        note = f", {svc.note}" if svc.note else ""
        return f"{svc.name} est {self._adj(service_id, 'ouvert')} {text}{note}"

    def on_day(self, service_id: str, d: date, now: datetime) -> str:
        """Hours of one day: today's state is live (open until, reopens at)."""
        now = self.local(now)
        today = now.date()
        if d == today:
            return self.today(service_id, now)
        svc = self._svc(service_id)
        when = self._when(d, today)
        if sentence := self._closed_sentence(service_id, d, CLOSED_ON_DAY, when=when):
            return sentence
        ranges = self.ranges(service_id, d)
        return _cap(f"{when}, {svc.name} sera {self._adj(service_id, 'ouvert')} {spoken_ranges(ranges)}")

    def today(self, service_id: str, now: datetime) -> str:
        """« La mairie est ouverte aujourd'hui jusqu'à 17 heures », « fermée ce lundi férié »."""
        now = self.local(now)
        svc = self._svc(service_id)
        d, t = now.date(), now.time()
        closed = self._adj(service_id, "fermé")
        opened = self._adj(service_id, "ouvert")
        again = self.reopening(service_id, now)
        if again:
            again = f". {'Elle' if svc.feminine else 'Il'} {again}"
        if sentence := self._closed_sentence(service_id, d, CLOSED_TODAY, again=again):
            return sentence
        ranges = self.ranges(service_id, d)
        for i, r in enumerate(ranges):
            if r.start <= t < r.end:
                rest = ranges[i + 1:]
                later = f", puis {spoken_ranges(rest)}" if rest else ""
                return _cap(f"{svc.name} est {opened} aujourd'hui jusqu'à {spoken_time(r.end)}{later}")
            if t < r.start:
                if i == 0:
                    return _cap(f"{svc.name} ouvre aujourd'hui à {spoken_time(r.start)}, "
                                f"{spoken_ranges(ranges)}")
                return _cap(f"{svc.name} est {closed} pour la pause de midi{again}, "
                            f"jusqu'à {spoken_time(r.end)}")
        return _cap(f"{svc.name} est {closed} pour aujourd'hui{again}")
