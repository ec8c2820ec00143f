"""Live opening-hours answers with a pinned clock (Europe/Paris, French public holidays)."""

from __future__ import annotations

from datetime import time

import pytest

from callbot.dialog.hours import spoken_time


def answer(engine_at, when: str, text: str) -> str:
    conv = engine_at(when).new_conversation()
    conv.start()
    reply = conv.hear(text)
    assert reply.understanding is not None and reply.understanding.intent == "horaires_mairie", reply
    return " ".join(p.text for p in reply.prompts)


def test_weekday_open_says_until_when(engine_at):
    said = answer(engine_at, "2026-11-24T15:20", "la mairie est ouverte aujourd'hui")
    assert "La mairie est ouverte aujourd'hui jusqu'à 17 heures." in said


def test_weekday_morning_mentions_the_afternoon_too(engine_at):
    said = answer(engine_at, "2026-11-24T10:00", "la mairie est ouverte aujourd'hui")
    assert "jusqu'à midi, puis de 13 heures 30 à 17 heures" in said


def test_lunch_break_and_after_closing(engine_at):
    lunch = answer(engine_at, "2026-11-24T12:30", "la mairie est ouverte aujourd'hui")
    assert "fermée pour la pause de midi" in lunch and "réouvre aujourd'hui à 13 heures 30" in lunch
    evening = answer(engine_at, "2026-11-27T18:00", "vous fermez à quelle heure")  # a Friday
    assert "fermée pour aujourd'hui" in evening and "réouvre demain à 9 heures" in evening


def test_sunday_is_closed_and_reopens_monday_morning(engine_at):
    said = answer(engine_at, "2026-11-22T11:00", "est-ce que la mairie est ouverte aujourd'hui")
    assert "La mairie est fermée le dimanche. Elle réouvre demain à 8 heures 30." in said


def test_public_holiday_names_the_day(engine_at):
    said = answer(engine_at, "2026-07-14T10:00", "la mairie est ouverte aujourd'hui")
    assert "fermée ce mardi férié (Fête nationale)" in said
    assert "réouvre demain à 8 heures 30" in said
    # Easter Monday 2026 is on April 6th: a Monday holiday, reopens Tuesday.
    easter = answer(engine_at, "2026-04-06T09:00", "la mairie est ouverte aujourd'hui")
    assert "fermée ce lundi férié" in easter and "réouvre demain" in easter


def test_exceptional_closure_of_the_flows(engine_at):
    said = answer(engine_at, "2026-12-24T09:00", "la mairie est ouverte aujourd'hui")
    assert "exceptionnellement fermée aujourd'hui" in said
    assert "réouvre samedi à 9 heures" in said  # 25th is Christmas


def test_asked_day_is_answered_for_that_day(engine_at):
    said = answer(engine_at, "2026-11-24T10:00", "est-ce que la mairie est ouverte demain")
    assert "Demain, la mairie sera ouverte de 8 heures 30 à midi et de 13 heures 30 à 17 heures" in said


def test_service_hours_use_the_service_gender_and_closures(engine_at):
    conv = engine_at("2026-08-11T10:00").new_conversation()  # urbanisme on summer leave
    conv.start()
    reply = conv.hear("quels sont les horaires du service urbanisme")
    said = " ".join(p.text for p in reply.prompts)
    assert reply.understanding.intent == "horaires_service"
    assert "Le service urbanisme est exceptionnellement fermé aujourd'hui : congés d'été du service" in said


@pytest.mark.parametrize(("t", "words"), [(time(17, 0), "17 heures"), (time(8, 30), "8 heures 30"),
                                          (time(12, 0), "midi"), (time(1, 5), "1 heure 5")])
def test_times_are_spoken_in_words(t, words):
    assert spoken_time(t) == words


def test_agents_on_duty_follows_the_main_desk(engine_at):
    from .conftest import at

    engine = engine_at("2026-11-24T10:00")
    assert engine.agents_on_duty()
    assert not engine.agents_on_duty(at("2026-11-24T12:15"))
    assert not engine.agents_on_duty(at("2026-07-14T10:00"))
    assert engine.agents_on_duty(at("2026-11-28T09:30"))  # Saturday morning


@pytest.mark.parametrize(("when", "asked", "expected"), [
    # Tomorrow is Bastille Day, the 24th is a closure of the flows, Sunday has no hours.
    ("2026-07-13T10:00", "est-ce que la mairie est ouverte demain",
     "La mairie sera fermée demain, jour férié (Fête nationale)"),
    ("2026-12-23T10:00", "est-ce que la mairie est ouverte demain",
     "La mairie sera fermée demain : fermeture de fin d'année"),
    ("2026-11-21T10:00", "est-ce que la mairie est ouverte demain", "La mairie est fermée le dimanche"),
])
def test_asked_day_without_hours_says_why(engine_at, when, asked, expected):
    assert expected in answer(engine_at, when, asked)


def test_the_week_is_said_as_usual_hours_and_their_exceptions(demo_flows):
    from callbot.dialog.hours import Hours

    hours = Hours(demo_flows.commune)
    assert hours.weekly("mairie") == (
        "la mairie est ouverte du lundi au vendredi de 8 heures 30 à midi et de 13 heures 30 à 17 heures, "
        "jusqu'à 19 heures le jeudi, et le samedi de 9 heures à midi")
    # No usual pattern over a run of days: runs of identical days, as before.
    assert hours.weekly("enfance").startswith("le service enfance et scolarité est ouvert du lundi au jeudi")
    assert "le mardi" in hours.weekly("ccas") and "du lundi" not in hours.weekly("ccas")  # closed wednesday
