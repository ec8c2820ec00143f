"""Slot extraction from a normalised utterance: dates, times, digits, and the flows' slot types.

Dates are resolved against a `today` the caller passes (the dialog's clock, CALLBOT_NOW in tests)
and returned as ISO strings so they serialise straight into `callbot nlu` JSON.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, timedelta

from rapidfuzz import fuzz, process
from text_to_num import alpha2digit

from callbot.dialog.normalize import normalize, simplify
from callbot.dialog.schema import WEEKDAYS

MONTHS = ["janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout", "septembre",
          "octobre", "novembre", "decembre"]
RELATIVE_DAYS = {"aujourdhui": 0, "ce soir": 0, "ce matin": 0, "apres demain": 2, "demain": 1}
_DAY_OF_MONTH = re.compile(
    r"\b(?:le )?(1er|premier|\d{1,2}) (" + "|".join(MONTHS) + r")(?: (\d{4}))?\b")
_WEEKDAY = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")( prochain| d apres| qui vient)?\b")
_TIME = re.compile(r"\b(\d{1,2}) ?(?:h|heures?)(?: ?(\d{1,2}|et quart|et demie?|moins le quart))?\b")
_NAMED_TIMES = {"midi": (12, 0), "minuit": (0, 0)}
_DIGITS = re.compile(r"\d+")
DIGIT_WORDS = {"zero": "0", "un": "1", "deux": "2", "trois": "3", "quatre": "4", "cinq": "5", "six": "6",
               "sept": "7", "huit": "8", "neuf": "9"}


def extract_date(text: str, today: date) -> str | None:
    """ISO date of « demain », « mardi prochain », « le 3 mars » in a normalised utterance."""
    padded = f" {text} "
    for words, offset in RELATIVE_DAYS.items():
        if f" {words} " in padded:
            return (today + timedelta(days=offset)).isoformat()
    m = _DAY_OF_MONTH.search(text)
    if m:
        day = 1 if m.group(1) in ("1er", "premier") else int(m.group(1))
        month = MONTHS.index(m.group(2)) + 1
        year = int(m.group(3)) if m.group(3) else today.year
        try:
            found = date(year, month, day)
        except ValueError:
            return None
        # « le 3 mars » said in December means next year's.
        if not m.group(3) and found < today:
            try:
                found = date(year + 1, month, day)
            except ValueError:
                return None
        return found.isoformat()
    m = _WEEKDAY.search(text)
    if m:
        ahead = (WEEKDAYS.index(m.group(1)) - today.weekday()) % 7
        if m.group(2) and ahead == 0:
            ahead = 7
        elif m.group(2) and m.group(2).strip() == "d apres":
            ahead += 7
        return (today + timedelta(days=ahead)).isoformat()
    return None


def extract_time(text: str) -> str | None:
    """« 14 heures 30 » → "14:30", « midi » → "12:00"."""
    m = _TIME.search(text)
    if m:
        hour = int(m.group(1))
        minute_word = m.group(2) or ""
        if minute_word.isdigit():
            minute = int(minute_word)
        elif minute_word == "et quart":
            minute = 15
        elif minute_word.startswith("et demi"):
            minute = 30
        elif minute_word == "moins le quart":
            hour, minute = hour - 1, 45
        else:
            minute = 0
        if 0 <= hour < 24 and 0 <= minute < 60:
            return f"{hour:02d}:{minute:02d}"
    for word, (h, mi) in _NAMED_TIMES.items():
        if f" {word} " in f" {text} ":
            return f"{h:02d}:{mi:02d}"
    return None


def extract_digits(text: str) -> str | None:
    """All digits said, in order (« zéro six douze … » normalises to "06 12 …" → "0612…")."""
    found = "".join(_DIGITS.findall(normalize(text)))
    return found or None


def digits_from_speech(text: str) -> str:
    """Digits a caller dictates: "zéro six 12 34 cinquante-six…" → "06123456…".

    Unlike `extract_digits`, the words are only simplified (no politeness or ASR-confusion
    rewriting) and lone digit words count, as a number is dictated group by group."""
    said = simplify(text)
    with contextlib.suppress(Exception):  # text2num is strict on odd input: keep the words
        said = alpha2digit(said, "fr")
    # Lone digit words text2num leaves alone ("zero", "un" before a pause).
    words = [DIGIT_WORDS.get(w, w) for w in said.split()]
    return "".join(re.findall(r"\d", " ".join(words)))


class SlotMatcher:
    """Finds the values of the flows' slot types (document, service…) from their synonyms."""

    def __init__(self, slot_types: dict[str, dict[str, list[str]]], fuzzy_min: float = 88.0) -> None:
        self.fuzzy_min = fuzzy_min
        # type → list of (normalised synonym, value), longest synonyms first so they win.
        self.synonyms: dict[str, list[tuple[str, str]]] = {}
        self._long: dict[str, list[str]] = {}
        self._long_values: dict[str, list[str]] = {}
        for stype, values in slot_types.items():
            pairs = []
            for value, syns in values.items():
                for s in [value.replace("_", " "), *syns]:
                    n = normalize(str(s))
                    if len(n) >= 2:  # a synonym reduced to one letter would match anything
                        pairs.append((n, value))
            pairs.sort(key=lambda p: -len(p[0]))
            self.synonyms[stype] = pairs
            self._long[stype] = [syn for syn, _ in pairs if len(syn) >= 6]
            self._long_values[stype] = [value for syn, value in pairs if len(syn) >= 6]

    def extract(self, text: str) -> dict[str, str]:
        padded = f" {text} "
        out: dict[str, str] = {}
        for stype, pairs in self.synonyms.items():
            for syn, value in pairs:
                if f" {syn} " in padded:
                    out[stype] = value
                    break
            else:
                # A misheard synonym: fuzzy partial match, only on longer synonyms (short ones
                # would match anything).
                best = process.extractOne(text, self._long[stype], scorer=fuzz.partial_ratio,
                                          score_cutoff=self.fuzzy_min)
                if best:
                    out[stype] = self._long_values[stype][best[2]]
        return out
