from datetime import date

import pytest

from callbot.dialog.normalize import normalize
from callbot.dialog.slots import SlotMatcher, extract_date, extract_digits, extract_time

MONDAY = date(2026, 11, 23)


@pytest.mark.parametrize(("said", "iso"), [
    ("est ce que c'est ouvert demain", "2026-11-24"),
    ("après-demain matin", "2026-11-25"),
    ("aujourd'hui", "2026-11-23"),
    ("mardi prochain", "2026-11-24"),
    ("lundi prochain", "2026-11-30"),  # today is Monday: "prochain" means next week's
    ("vendredi", "2026-11-27"),
    ("le trois mars", "2027-03-03"),  # already past this year: next March
    ("le premier décembre", "2026-12-01"),
    ("le trente février", None),
    ("je voudrais un acte", None),
])
def test_dates_resolve_against_today(said: str, iso: str | None) -> None:
    assert extract_date(normalize(said), MONDAY) == iso


@pytest.mark.parametrize(("said", "hhmm"), [
    ("vers quatorze heures trente", "14:30"),
    ("à neuf heures", "09:00"),
    ("dix heures et quart", "10:15"),
    ("à midi", "12:00"),
    ("le matin", None),
])
def test_times(said: str, hhmm: str | None) -> None:
    assert extract_time(normalize(said)) == hhmm


def test_phone_number_spoken_as_words() -> None:
    assert extract_digits("zéro six douze trente quatre cinquante six") == "06123456"
    assert extract_digits("zéro six zéro zéro un deux trois quatre cinq six") == "0600123456"
    assert extract_digits("je ne sais pas") is None


def test_slot_types_from_synonyms_even_misheard() -> None:
    m = SlotMatcher({"document": {"passeport": ["passeport"], "cni": ["carte d'identité"]},
                     "service": {"etat_civil": ["état civil"]}})
    assert m.extract(normalize("c'est pour ma carte d'identité")) == {"document": "cni"}
    assert m.extract(normalize("le service de l'état civil")) == {"service": "etat_civil"}
    assert m.extract(normalize("un passeport")) == {"document": "passeport"}
    assert m.extract(normalize("il fait beau")) == {}


def test_a_synonym_reduced_to_nothing_matches_nothing() -> None:
    m = SlotMatcher({"service": {"ccas": ["C.C.A.S.", "s'"]}})
    assert m.extract(normalize("le c c a s")) == {"service": "ccas"}
    assert m.extract(normalize("ma voisine a dit que le camion est pas passé")) == {}
