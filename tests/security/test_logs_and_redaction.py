"""A scripted call set with a caller's words and numbers: nothing of them reaches a log line, and
what is stored is redacted except the callback number the agent needs (issue 12)."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime

import pytest
from loguru import logger
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    InputDTMFFrame,
    TranscriptionFrame,
)
from pipecat.tests.utils import SleepFrame, run_test
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from callbot.dialog.engine import DialogEngine
from callbot.logs import configure_logging
from callbot.pipeline.dialog_processor import DialogProcessor
from callbot.store.calls import CallRecorder
from callbot.store.db import Database
from callbot.store.models import Call, Callback, Turn
from callbot.store.redaction import redact
from callbot.vocabulary import Outcome
from tests.conftest import PARIS, REPO

SUNDAY = datetime(2026, 11, 29, 15, 0, tzinfo=PARIS)  # the town hall is closed: callbacks are offered
ENGINE = DialogEngine.load(REPO / "flows", lambda: SUNDAY)

CALLER = "+33611112222"
UNRECOGNISED = "ma fille marie martin née le trois mars mille neuf cent quatre-vingt"
DICTATED = "zéro six douze trente-quatre cinquante-six soixante-dix-huit"
REASON = "c'est pour jean dupont au 06 98 76 54 32 ou jean.dupont@example.org"
# What must never appear in a log line, in any form.
SECRETS = ["marie martin", "trois mars", "1980", "612345678", "12 34 56 78", "0698765432", "98 76 54 32",
           "jean.dupont@example.org", "jean dupont", "611112222", "11 11 22 22"]


def turn(words: str) -> list:
    """The caller speaks; the bot's answer plays out (no marks: the end of bot audio moves on)."""
    return [TranscriptionFrame(words, "caller", "2026-11-29T15:00:00", finalized=True), SleepFrame(0.1),
            *bot_spoke()]


def bot_spoke() -> list:
    frames = []
    for _ in range(4):
        frames += [BotStartedSpeakingFrame(), SleepFrame(0.02), BotStoppedSpeakingFrame(), SleepFrame(0.02)]
    return frames


@pytest.fixture()
def log_lines():
    out = io.StringIO()
    configure_logging("DEBUG", sink=out)  # the server's own set-up, at its most talkative level
    yield out
    configure_logging("WARNING")


def test_a_scripted_callback_call_leaves_no_words_or_numbers_in_the_log(tmp_path, log_lines) -> None:
    db = Database(f"sqlite:///{tmp_path}/calls.db")
    db.migrate()
    rec = CallRecorder(db, "CAlogs")
    asyncio.run(rec.open(stream_sid="MZ", caller=CALLER, called="+33100000000", secret=b"k"))
    conversation = ENGINE.new_conversation(caller=CALLER)

    async def on_end(reply) -> None:  # noqa: ANN001 - what pipeline/call_session.py does at the end
        if reply.callback is not None:
            await rec.add_callback(reply.callback.number, reply.callback.reason, reply.callback.topic)
        await rec.finish(reply.outcome or Outcome.RESOLVED, summary=conversation.summary)

    proc = DialogProcessor(conversation, rec, on_end=on_end)
    asyncio.run(run_test(proc, frames_to_send=[
        *bot_spoke(), *turn(UNRECOGNISED), InputDTMFFrame(KeypadEntry.ZERO), SleepFrame(0.1), *bot_spoke(),
        *turn("oui"), *turn(DICTATED), *turn(REASON), SleepFrame(0.2),
    ]))
    # A database error on the caller's words: the statement is logged, never its values.
    try:
        with db.session() as s:
            s.execute(text("INSERT INTO turns (call_id, seq, speaker, text, at) "
                           "VALUES (:c, 1, 'caller', :t, :a)"),
                      {"c": 999_999, "t": UNRECOGNISED, "a": SUNDAY})
    except IntegrityError:
        logger.exception("could not store a turn")

    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == "CAlogs"))
        turns = [t.text for t in s.scalars(select(Turn).where(Turn.call_id == call.id))]
        callback = s.scalar(select(Callback))
        summary = call.summary
    assert call.outcome == Outcome.CALLBACK, turns
    logged = log_lines.getvalue()
    assert "fallback:" in logged and "could not store a turn" in logged  # the log did speak
    assert "hidden" in logged  # SQLAlchemy: [SQL parameters hidden due to hide_parameters=True]
    for secret in SECRETS:
        assert secret not in logged, secret
    # Stored: redacted words, except the number the agent calls back.
    stored = " ".join([*turns, summary or "", callback.reason or ""])
    assert callback.number == "+33612345678"
    assert "marie martin née le [date de naissance]" in stored
    for secret in ["trois mars", "612345678", "12 34 56 78", "98 76 54 32", "jean.dupont@example.org"]:
        assert secret not in stored, secret
    assert "[numéro]" in callback.reason and "[e-mail]" in callback.reason


@pytest.mark.parametrize(("said", "kept"), [
    ("mon numéro est zéro six douze trente-quatre cinquante-six soixante-dix-huit",
     "mon numéro est [numéro]"),
    ("rappelez-moi au 06 12 34 56 78 merci", "rappelez-moi au [numéro] merci"),
    ("ma fille est née le trois mars mille neuf cent quatre-vingt",
     "ma fille est née le [date de naissance]"),
    ("je suis né le 3 mars 1980 à Lyon", "je suis né le [date de naissance] à Lyon"),
    ("date de naissance 03/03/1980", "date de naissance [date de naissance]"),
    ("écrivez à jean point dupont arobase gmail point com", "écrivez à [e-mail]"),
    ("jean.dupont@gmail.com", "[e-mail]"),
    ("mon IBAN FR76 3000 6000 0112 3456 7890 189", "mon IBAN [iban]"),
    ("ma carte 4970 1012 3456 7890", "ma carte [numéro]"),
    ("sécu un quatre-vingt zéro trois soixante-quinze cent vingt-trois quatre cent cinquante-six",
     "sécu [numéro]"),
    ("1 80 03 75 123 456 78", "[numéro]"),
    # What is not identifying stays as said: the dashboard needs these words.
    ("quels sont les horaires de la mairie", None),
    ("j'ai deux enfants de dix et douze ans", None),
    ("en 2024 j'ai payé 1500 euros pour le 12 rue des lilas 75001", None),
    ("ouvert de neuf heures à dix-sept heures trente", None),
])
def test_identifying_data_is_masked_in_what_callers_say(said: str, kept: str | None) -> None:
    assert redact(said) == (kept or said)


def test_words_stored_before_redaction_existed_are_masked_by_the_upgrade(tmp_path) -> None:
    from alembic import command

    from callbot.store.db import alembic_config

    url = f"sqlite:///{tmp_path}/old.db"
    command.upgrade(alembic_config(url), "0006_console_indexes")  # a database of the previous release
    old = Database(url)
    with old.engine.begin() as c:
        c.execute(text("INSERT INTO calls (id, call_sid, started_at, outcome, summary, synthetic) VALUES "
                       "(1, 'CAold', '2026-11-20 10:00:00', 'callback', 'rappel : 06 12 34 56 78', 0)"))
        c.execute(text("INSERT INTO turns (call_id, seq, speaker, text, at, action, via_dtmf) VALUES "
                       "(1, 1, 'caller', :t, '2026-11-20 10:00:00', 'callback', 0)"), {"t": DICTATED})
        c.execute(text("INSERT INTO callbacks (call_id, created_at, number, reason, status, synthetic) "
                       "VALUES (1, '2026-11-20 10:00:00', '06 12 34 56 78', :r, 'todo', 0)"),
                  {"r": UNRECOGNISED})
        c.execute(text("INSERT INTO daily_utterances (day, text, count, confidence_n) "
                       "VALUES ('2026-11-20', :t, 1, 0)"), {"t": UNRECOGNISED})
    old.migrate()  # what the new release does at start-up
    with old.engine.connect() as c:
        assert c.execute(text("SELECT summary FROM calls")).scalar() == "rappel : [numéro]"
        assert c.execute(text("SELECT text FROM turns")).scalar() == "[numéro]"
        assert c.execute(text("SELECT number, reason FROM callbacks")).one() == (
            "+33612345678", "ma fille marie martin née le [date de naissance]")
        assert c.execute(text("SELECT text FROM daily_utterances")).scalar() == \
            "ma fille marie martin née le [date de naissance]"


def test_the_access_log_of_a_console_search_by_number_hides_the_number(capfd) -> None:
    import logging.config

    from callbot.logs import uvicorn_log_config

    logging.config.dictConfig(uvicorn_log_config())  # what `callbot serve` gives uvicorn
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                                             "/agents/rappels?numero=06+12+34+56+78&statut=todo", "1.1", 200)
    line = capfd.readouterr().out
    assert "/agents/rappels?numero=[numéro]&statut=todo" in line and "127.0.0.1" in line
