"""Turn an answer text of the flows into what the bot says, filling its variables.

Variables (documented in flows/README.md):
  {commune} {adresse}               the commune's name and address
  {horaires.S}                      weekly opening hours of service S
  {aujourdhui.S} {demain.S}         live state today / tomorrow (open until, closed, reopens at)
  {jour.S}                          the day the caller asked about (slot "date"), else today
  {telephone.S} {nom.S}             phone number (spoken in pairs) and name of service S
S is a service id, or `$slot` for the value of one of the intent's slots (e.g. `$service`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from callbot.dialog.flows import _VAR, Flows
from callbot.dialog.hours import Hours
from callbot.dialog.schema import IntentDef

LIVE = {"aujourdhui", "demain", "jour"}


def spoken_phone(number: str) -> str:
    """+33199000101 → "01 99 00 01 01" (digit pairs, as French numbers are said)."""
    digits = number.replace(" ", "")
    if digits.startswith("+33"):
        digits = "0" + digits[3:]
    if len(digits) == 10:
        return " ".join(digits[i:i + 2] for i in range(0, 10, 2))
    return " ".join(digits)


def is_static(text: str) -> bool:
    """True when the text reads the same at any moment and for any caller."""
    return not any(m.group(1) in LIVE or (m.group(2) or "").startswith("$") for m in _VAR.finditer(text))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def sentences(text: str) -> list[str]:
    """Each sentence of a text, as a voice pauses between them."""
    return [s for s in _SENTENCE_END.split(" ".join(text.split())) if s]


def split_sentences(template: str) -> list[str]:
    """An answer cut where live and static sentences meet, each part spoken as its own prompt:
    static parts come from the TTS cache and only the live part ("ouverte aujourd'hui jusqu'à
    17 heures") is synthesised. A fully static answer stays one prompt (no gap between sentences)."""
    parts: list[list[str]] = []
    for sentence in _SENTENCE_END.split(" ".join(template.split())):
        if not sentence:
            continue
        if parts and is_static(parts[-1][-1]) == is_static(sentence):
            parts[-1].append(sentence)
        else:
            parts.append([sentence])
    return [" ".join(p) for p in parts]


def sentence_case(text: str) -> str:
    """Capitalise the first letter of each sentence (variables often start lower case)."""
    text = " ".join(text.split())
    text = re.sub(r"\.\s*\.", ".", text)
    return re.sub(r"(^|[.!?]\s+)([a-zàâçéèêëîïôûùüÿœ])", lambda m: m.group(1) + m.group(2).upper(), text)


class Renderer:
    def __init__(self, flows: Flows, hours: Hours) -> None:
        self.flows = flows
        self.hours = hours

    def render(self, text: str, now: datetime, intent: IntentDef | None = None,
               slots: dict[str, Any] | None = None, extra: dict[str, str] | None = None) -> str:
        slots = slots or {}
        extra = extra or {}
        commune = self.flows.commune

        def service_of(arg: str | None) -> str:
            if arg is None:
                return (intent.service if intent and intent.service else commune.main_service)
            if arg.startswith("$"):
                value = slots.get(arg[1:])
                if value not in commune.services:
                    # Required slots are asked before answering; this is only a last resort.
                    return intent.service if intent and intent.service else commune.main_service
                return str(value)
            return arg

        def fill(m: re.Match) -> str:
            var, arg = m.group(1), m.group(2)
            if var in extra and arg is None:
                return extra[var]
            if var == "commune":
                return commune.name
            if var == "adresse":
                return commune.address
            svc = service_of(arg)
            if var == "horaires":
                return self.hours.weekly(svc)
            if var == "aujourdhui":
                return self.hours.today(svc, now)
            if var == "demain":
                return self.hours.on_day(svc, self.hours.local(now).date() + timedelta(days=1), now)
            if var == "jour":
                return self.hours.on_day(svc, asked_day(slots, self.hours.local(now).date()), now)
            if var == "telephone":
                phone = commune.services[svc].phone or commune.services[commune.main_service].phone
                return spoken_phone(phone or "")
            if var == "nom":
                return commune.services[svc].name
            return m.group(0)

        return sentence_case(_VAR.sub(fill, text))


def asked_day(slots: dict[str, Any], today: date) -> date:
    value = slots.get("date")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return today
    return today
