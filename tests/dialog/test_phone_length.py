"""What the resident hears fits a phone call (issue 14): a short greeting, answers under the
limit (longer ones cut, the detail on request), small talk that is not a misunderstanding."""

from __future__ import annotations

import re
import shutil

from typer.testing import CliRunner

from callbot.cli import app
from callbot.dialog.answer_length import estimated_seconds

from .conftest import FLOWS_DIR

OPEN = "2026-11-24T10:00"


def spoken(reply) -> str:  # noqa: ANN001
    return " ".join(p.text for p in reply.prompts)


def test_the_greeting_and_every_answer_fit_the_limits_at_the_voices_rate(engine_at, demo_flows):
    engine = engine_at(OPEN)
    speech = demo_flows.settings.speech
    rate = speech.words_per_second
    assert estimated_seconds(spoken(engine.new_conversation().start()), rate) <= speech.greeting_max_seconds
    answered = 0
    for intent in demo_flows.intents:
        if intent.topic is None:
            continue
        conv = engine.new_conversation()
        conv.start()
        reply = conv.hear(intent.examples[0])
        if reply.end:
            continue  # a transfer or an emergency: said in full, checked by `flows check`
        answered += 1
        assert estimated_seconds(spoken(reply), rate) <= speech.answer_max_seconds, (intent.id, spoken(reply))
        if "Voulez-vous le détail ?" in spoken(reply):
            detail = conv.hear("oui")
            assert detail.prompts and spoken(detail) not in spoken(reply)
    assert answered > 40


def test_a_long_answer_is_cut_and_its_detail_given_on_request(engine_at):
    conv = engine_at(OPEN).new_conversation()
    conv.start()
    first = conv.hear("je voudrais déposer un permis de construire")
    assert spoken(first).endswith("Voulez-vous le détail ?")
    assert "uniquement sur rendez-vous" not in spoken(first)
    rest = conv.hear("oui")
    assert "uniquement sur rendez-vous" in spoken(rest)
    assert rest.expect == "yes_no"  # then the intent's own question (a transfer to urbanisme)
    assert conv.hear("non").end is None


def test_waiting_for_the_caller_counts_no_miss(engine_at):
    conv = engine_at(OPEN).new_conversation()
    conv.start()
    hold = conv.hear("attendez je cherche mes papiers")
    assert "attends" in spoken(hold) and hold.no_input_timeout >= 15
    assert "toujours là" in spoken(conv.silence())
    thinking = conv.hear("euh")
    assert thinking.prompts == []  # thinking aloud: the bot keeps quiet
    assert thinking.no_input_timeout < hold.no_input_timeout  # but not as long as after "attendez"
    conv.silence()
    assert conv.hear("zorglub blablabla").end is None
    assert conv.hear("gnagnagna schmilblick").end is None  # two misses, not four: no transfer yet
    assert conv.hear("patati patata").end == "transfer"


def test_flows_check_warns_on_a_text_too_long_for_the_phone(tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS_DIR, flows, ignore=shutil.ignore_patterns("tests"))
    path = flows / "intents" / "horaires_contact.yaml"
    long = "Un très long discours sur le stationnement en ville. " * 12
    before = "answer: >-\n      La mairie se trouve {adresse}."
    text = path.read_text(encoding="utf-8").replace(before, before.replace("La mairie", f"{long} La mairie"))
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["flows", "check", str(flows)])
    assert result.exit_code == 0, result.output  # a warning, not an error
    assert "ATTENTION intent adresse_acces: answer" in result.output
    assert "Voulez-vous le détail ?" in result.output


ONE_QUESTION = """tests:
  - name: une question
    now: "2026-11-24T10:00"
    max_seconds: 45
    steps:
      - say: à quelle heure ferme la mairie aujourd'hui
        intent: horaires_mairie
      - say: non merci au revoir
        end: hangup
"""


def test_flows_test_timing_speaks_with_the_configured_voice(tmp_path, monkeypatch):
    from callbot.config import get_settings
    from tests.conftest import joe_voice

    tests = tmp_path / "one.yaml"
    tests.write_text(ONE_QUESTION, encoding="utf-8")
    monkeypatch.setenv("CALLBOT_TTS_VOICE", str(joe_voice()))
    monkeypatch.setenv("CALLBOT_TTS_LANGUAGE", "fr")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["flows", "test", str(FLOWS_DIR), "--tests", str(tests), "--timing"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    line = next(li for li in result.output.splitlines() if "première réponse" in li)
    first, call = (float(x) for x in re.findall(r"(\d+\.\d) s", line))
    assert 6 < first < 12 and first < call <= 45  # after the greeting; the whole call under 45 s
    rate = float(re.search(r"en_US-joe-medium.onnx : (\d+\.\d+) mots/s", result.output).group(1))
    assert 2.5 < rate < 4.5  # the voice's real speaking rate, measured


def test_flows_test_timing_without_a_voice_says_so(tmp_path, monkeypatch):
    from callbot.config import get_settings

    monkeypatch.setenv("CALLBOT_TTS_VOICE", str(tmp_path / "absent.onnx"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["flows", "test", str(FLOWS_DIR), "--timing"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "voix non chargée" in result.output
