"""The flow file format, as pydantic models (documented for authors in flows/README.md).

Every model forbids unknown keys, so a typo in a flow file is an error with its line, not a
silently ignored setting.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from callbot.dialog.states import NODES
from callbot.vocabulary import topic_ids

WEEKDAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
_RANGE = re.compile(r"^(\d{1,2})[:h](\d{2})\s*-\s*(\d{1,2})[:h](\d{2})$")
_PHONE = re.compile(r"^\+?[0-9]{3,15}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimeRange(Strict):
    start: time
    end: time


def parse_range(item: object) -> object:
    """"08:30-12:00" → TimeRange (one item, so errors point at its day and position)."""
    if not isinstance(item, str):
        return item
    m = _RANGE.match(item.strip())
    if not m:
        raise ValueError(f"plage horaire invalide {item!r} (attendu par exemple \"08:30-12:00\")")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"heure invalide dans {item!r}")
    start, end = time(h1, m1), time(h2, m2)
    if end <= start:
        raise ValueError(f"la plage {item!r} finit avant de commencer")
    return TimeRange(start=start, end=end)


def ordered(ranges: list[TimeRange]) -> list[TimeRange]:
    for a, b in zip(ranges, ranges[1:], strict=False):
        if b.start < a.end:
            raise ValueError("les plages se chevauchent ou ne sont pas dans l'ordre de la journée")
    return ranges


Weekday = Literal["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
DayRanges = Annotated[list[Annotated[TimeRange, BeforeValidator(parse_range)]], AfterValidator(ordered)]


class Service(Strict):
    name: str = Field(description="spoken name with its article: « la mairie », « le service urbanisme »")
    feminine: bool = True
    phone: str | None = None
    queue: str | None = None
    # Weekday → list of "HH:MM-HH:MM"; a missing weekday is closed.
    hours: dict[Weekday, DayRanges] = Field(default_factory=dict)
    # Only by appointment, or a note read after the hours ("sur rendez-vous").
    note: str | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is not None and not _PHONE.match(v.replace(" ", "")):
            raise ValueError(f"numéro de téléphone invalide {v!r}")
        return v.replace(" ", "") if v else v


class Closure(Strict):
    date: date
    until: date | None = None
    reason: str
    services: list[str] | Literal["all"] = "all"


class Commune(Strict):
    name: str
    fictional: bool = False
    address: str
    timezone: str = "Europe/Paris"
    holidays: str = "FR"
    main_service: str = "mairie"
    services: dict[str, Service]
    closures: list[Closure] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refs(self) -> Commune:
        if self.main_service not in self.services:
            raise ValueError(f"main_service {self.main_service!r} n'est pas un service déclaré")
        for c in self.closures:
            if c.services != "all":
                for s in c.services:
                    if s not in self.services:
                        raise ValueError(f"fermeture du {c.date} : service inconnu {s!r}")
        return self


def _known_node(name: str) -> str:
    # A misspelt node would silently keep the default barge-in and silence timeout.
    if name not in NODES:
        raise ValueError(f"nœud inconnu {name!r} (connus : {', '.join(sorted(NODES))})")
    return name


NodeName = Annotated[str, AfterValidator(_known_node)]


class NodeSettings(Strict):
    barge_in: bool = True
    no_input_timeout: float = Field(default=7.0, gt=0, le=60)


class SpeechSettings(Strict):
    """How long the bot may speak, measured in words at the configured voice's speaking rate."""

    # Words as answer_length.word_count counts them ("l'acte" is two). The test voice (joe, reading
    # French) says 3.4 a second; `callbot flows test --timing` measures the configured voice.
    words_per_second: float = Field(default=3.0, gt=0.5, le=6)
    greeting_max_seconds: float = Field(default=7.0, gt=0)
    answer_max_seconds: float = Field(default=20.0, gt=0)


class Settings(Strict):
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    hold_seconds: float = Field(default=20.0, gt=0, le=120)  # after "attendez", "une seconde"
    max_misses: int = Field(default=3, ge=1, le=10)
    nodes: dict[NodeName, NodeSettings] = Field(default_factory=dict)
    # Keypad menu: digit → intent id (0 is always "agent", # and * are reserved).
    menu: dict[str, str] = Field(default_factory=dict)
    # After the emergency numbers: "listen" (the call goes on, so a false alarm costs one sentence),
    # "hangup", or "transfer" to an agent when one is on duty.
    emergency_then: Literal["listen", "transfer", "hangup"] = "listen"
    callback_digits: int = Field(default=10, ge=4, le=15)

    @field_validator("menu")
    @classmethod
    def _menu(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if k not in "123456789" or len(k) != 1:
                raise ValueError(f"touche de menu invalide {k!r} (1 à 9)")
        return v


class Transfers(Strict):
    default: str = "mairie"
    topics: dict[str, str] = Field(default_factory=dict)


class Satisfaction(Strict):
    enabled: bool = False
    question: str = "Avant de raccrocher, notez ce service en tapant une touche de 1 à 5."
    thanks: str = "Merci pour votre note. Au revoir."


class Prompts(Strict):
    greeting: list[str]
    disclosure: str
    anything_else: str
    listening: str
    not_understood: list[str]
    no_input: list[str]
    please_repeat: str
    confirm: str
    clarify: str
    confirm_denied: str
    goodbye: str
    thanks: str
    transfer: str
    nobody_on_duty: str
    callback_offer: str
    callback_number: str
    callback_bad_number: str
    callback_reason: str
    callback_done: str
    callback_declined: str
    emergency: str
    # Said after `emergency` when the call goes on (settings.emergency_then: listen).
    emergency_not: str = "Si ce n'est pas une urgence, quelle est votre question ?"
    out_of_scope_generic: str
    slot_not_understood: str
    # Said after the part of a long answer that fits the time limit (settings.speech).
    more_detail: str = "Voulez-vous le détail ?"
    # Small talk (dialog/small_talk.py): after "bonjour", "attendez", and the silence that follows.
    hello_again: str = "Bonjour, je vous écoute."
    waiting: str = "Je vous attends."
    still_there: str = "Je suis toujours là."
    # Links by SMS (dialog/sms_offer.py): the offer, the "oui", a failure, and the message itself.
    sms_offer: str = "Voulez-vous que je vous envoie le lien par SMS ?"
    sms_sending: str = "Je vous envoie le lien par SMS."
    sms_failed: str = "Désolé, le SMS n'a pas pu partir."
    sms_text: str = "Mairie de {commune} : voici le lien pour {label} : {link}"

    @field_validator("not_understood", "no_input", "greeting")
    @classmethod
    def _nonempty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("au moins un texte est attendu")
        return v


class FollowUp(Strict):
    question: str
    # Not `yes:`/`no:`: YAML 1.1 reads those keys as booleans.
    if_yes: str | None = None
    transfer_if_yes: bool = False
    summary_if_yes: str | None = None
    if_no: str | None = None


class SlotDef(Strict):
    name: str
    type: str  # a slot type, or "date" (understood by the NLU)
    question: str
    required: bool = True


class IntentDef(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    topic: str | None
    label: str | None = None  # « connaître les horaires de la mairie », for confirm / clarify
    summary: str | None = None  # « Demande d'horaires de la mairie », for the agent
    examples: list[str]
    answer: str | None = None
    # Slot name → slot value → answer replacing `answer` when the slot has that value.
    variants: dict[str, dict[str, str]] = Field(default_factory=dict)
    slots: list[SlotDef] = Field(default_factory=list)
    follow_up: FollowUp | None = None
    transfer: bool = False
    service: str | None = None  # transfer target / default service for {…} variables
    # The online procedure's page (ANTS, service-public, the town's site), offered by SMS to a
    # mobile caller after the answer when SMS is configured (dialog/sms_offer.py).
    link: str | None = None

    @field_validator("link")
    @classmethod
    def _link(cls, v: str | None) -> str | None:
        if v is None:
            return v
        url = urlsplit(v.strip())
        if url.scheme != "https" or "." not in url.netloc or " " in v.strip():
            raise ValueError(f"lien invalide {v!r} (attendu une adresse https://…)")
        return v.strip()

    @field_validator("topic")
    @classmethod
    def _topic(cls, v: str | None, info: ValidationInfo) -> str | None:
        topics = (info.context or {}).get("topics") or topic_ids()
        if v is not None and v not in topics:
            raise ValueError(f"thème inconnu {v!r} (voir topics.yaml)")
        return v

    @field_validator("examples")
    @classmethod
    def _examples(cls, v: list[str]) -> list[str]:
        if len(v) < 12:
            raise ValueError(f"au moins 12 exemples sont attendus, il y en a {len(v)}")
        return v


class FlowFile(Strict):
    """One YAML file: any section may be present; sections are merged across files."""

    commune: Commune | None = None
    settings: Settings | None = None
    prompts: Prompts | None = None
    transfers: Transfers | None = None
    nlu_thresholds: dict[str, float] | None = None
    satisfaction: Satisfaction | None = None
    slot_types: dict[str, dict[str, list[str]]] | None = None
    intents: list[IntentDef] | None = None


class FlowTestStep(Strict):
    say: str | None = None
    dtmf: str | None = None
    silence: bool = False
    intent: str | None = None
    topic: str | None = None
    action: str | None = None
    contains: list[str] | str | None = None
    not_contains: list[str] | str | None = None
    transfer: bool | str | None = None
    end: str | None = None
    outcome: str | None = None
    callback: bool | None = None


class FlowTest(Strict):
    name: str
    now: str | None = None
    caller: str | None = None
    # Limits on the call as the caller lives it (dialog/call_timing.py), in seconds.
    max_seconds: float | None = None
    max_first_answer_seconds: float | None = None
    steps: list[FlowTestStep]


class FlowTestFile(Strict):
    tests: list[FlowTest]
