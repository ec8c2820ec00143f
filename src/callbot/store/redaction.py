"""Masking what identifies a caller in the words we store: phone numbers, e-mail addresses, IBANs,
social-security numbers (NIR), card numbers and dates of birth, written ("06 12 34 56 78") or
spoken as the recogniser writes them ("zéro six douze trente-quatre…", "née le trois mars 1980").

Applied to every transcript turn, call summary and callback reason before it is written; the one
field kept in clear is a callback request's number (the agent calls it back). The unrecognised
utterances the dashboard lists are read from the stored turns, so they are redacted too.
"""

from __future__ import annotations

import re

from text_to_num import alpha2digit

NUMBER = "[numéro]"
EMAIL = "[e-mail]"
IBAN = "[iban]"
BIRTH_DATE = "[date de naissance]"

# A run of digits / number words holding at least this many digits identifies someone (phone,
# card, NIR, account); years (4), amounts and postcodes (5) stay readable.
MIN_IDENTIFYING_DIGITS = 6

NUMBER_WORDS = {
    "zéro", "zero", "un", "une", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix",
    "onze", "douze", "treize", "quatorze", "quinze", "seize", "vingt", "vingts", "trente", "quarante",
    "cinquante", "soixante", "cent", "cents", "mille", "double", "triple",
}
# Inside a spoken number: "vingt et un", "six cent", "point" / "tiret" between digit groups.
JOINERS = {"et", "-", ".", "/", "point", "tiret"}
MONTHS = ("janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|"
          "décembre|decembre")

EMAIL_WRITTEN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# "jean point dupont arobase gmail point com"
EMAIL_SPOKEN = re.compile(
    r"(?:[\w'-]+\s+(?:point|tiret|underscore)\s+)*[\w'-]+\s+(?:arobase|at)\s+[\w-]+(?:\s+point\s+[\w-]+)+",
    re.IGNORECASE | re.UNICODE)
IBAN_WRITTEN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){3,7}(?:[ ]?[A-Z0-9]{1,3})?\b", re.IGNORECASE)
DAY = r"(?:\d{1,2}|premier|1er|[a-zéè-]+(?:\s+et\s+un)?)"
# "né le 3 mars 1980", "née le trois mars mille neuf cent quatre-vingt", "date de naissance 03/03/1980",
# "né en 1980": from the day (or the year) to the end of the year.
BIRTH = re.compile(
    r"\b(?P<lead>(?:née?s?|naissance)\s+(?:(?:le|en|au|du|est|c'est|:)\s+)*)"
    r"(?P<date>\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
    rf"|{DAY}\s+(?:{MONTHS})(?:\s+(?:\d{{2,4}}|(?:mille|dix|deux|neuf|cent|vingt|quatre|[a-zéè-]+)(?:[\s-]+[a-zéè-]+){{0,5}}))?"
    r"|\d{4}|mille(?:[\s-]+[a-zéè-]+){1,5})",
    re.IGNORECASE | re.UNICODE)
TOKEN = re.compile(r"\d+|[a-zà-ÿ]+|[-./]|\S", re.IGNORECASE | re.UNICODE)


# Cheap test first: most sentences hold nothing to mask (a digit, an "@", a spoken e-mail or birth,
# or two number words at least are needed for anything below to match).
MAYBE = re.compile(r"[\d@]|arobase|\bat\b|naiss|\bnée?s?\b", re.IGNORECASE)
WORDS = re.compile(r"[a-zà-ÿ]+", re.IGNORECASE)


def _worth_a_look(text: str) -> bool:
    if MAYBE.search(text):
        return True
    return sum(w in NUMBER_WORDS for w in WORDS.findall(text.lower())) >= 2


def redact(text: str | None) -> str | None:
    """`text` with identifying data masked ("[numéro]", "[e-mail]", "[iban]", "[date de naissance]")."""
    if not text or not _worth_a_look(text):
        return text
    out = EMAIL_WRITTEN.sub(EMAIL, text)
    out = EMAIL_SPOKEN.sub(EMAIL, out)
    out = IBAN_WRITTEN.sub(IBAN, out)
    out = BIRTH.sub(lambda m: m.group("lead") + BIRTH_DATE, out)
    return _mask_number_runs(out)


def _is_numeric(token: str) -> bool:
    if token.isdigit():
        return True
    low = token.lower()
    return low in NUMBER_WORDS or any(low == f"{w}s" for w in ("quatre-vingt", "cent"))


def _mask_number_runs(text: str) -> str:
    """Replace each run of digits and number words holding MIN_IDENTIFYING_DIGITS digits or more."""
    tokens = list(TOKEN.finditer(text))
    pieces: list[str] = []
    last = 0
    i = 0
    while i < len(tokens):
        if not _is_numeric(tokens[i].group()):
            i += 1
            continue
        j = i
        end = i
        while j + 1 < len(tokens):
            nxt = tokens[j + 1].group().lower()
            if _is_numeric(nxt):
                j += 1
                end = j
            elif nxt in JOINERS and j + 2 < len(tokens) and _is_numeric(tokens[j + 2].group()):
                j += 2
                end = j
            else:
                break
        start_pos, end_pos = tokens[i].start(), tokens[end].end()
        run = text[start_pos:end_pos]
        if _digits(run) >= MIN_IDENTIFYING_DIGITS:
            pieces.append(text[last:start_pos])
            pieces.append(NUMBER)
            last = end_pos
        i = end + 1
    pieces.append(text[last:])
    return "".join(pieces)


def _digits(run: str) -> int:
    try:
        converted = alpha2digit(run, "fr")
    except Exception:  # noqa: BLE001 - an odd phrase must not stop a turn being stored: count as is
        converted = run
    return sum(ch.isdigit() for ch in converted)
