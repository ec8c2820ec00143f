"""The authors' tools through the `callbot` command: chat, flows test."""

from __future__ import annotations

import shutil
import subprocess
import sys

from typer.testing import CliRunner

from callbot.cli import app

from .conftest import FLOWS_DIR, REPO

runner = CliRunner()


def test_chat_conversation_with_piped_stdin():
    script = "est-ce que la mairie est ouverte aujourd'hui\n#0\n"
    result = runner.invoke(app, ["chat", "--flows", str(FLOWS_DIR), "--now", "2026-07-14T10:00", "--debug"],
                           input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "bot> Bonjour, mairie de Saint-Démo-sur-Loire." in out
    assert "intent=horaires_mairie" in out
    assert "fermée ce mardi férié (Fête nationale)" in out
    # Holiday: nobody at the desk, key 0 offers a callback instead of a transfer.
    assert "Voulez-vous qu'un agent vous rappelle ?" in out
    assert "[l'appelant a raccroché]" in out


def test_chat_transfer_and_summary_in_a_real_process():
    proc = subprocess.run(
        [sys.executable, "-m", "callbot.cli", "chat", "--flows", str(FLOWS_DIR), "--now", "2026-11-24T15:00"],
        input="je voudrais parler à un conseiller\n", capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "[fin de l'appel : transfer → queue accueil (motif asked_agent), issue transferred]" in proc.stdout
    assert "résumé : Demande à parler à un agent" in proc.stdout


def test_chat_rejects_a_bad_date():
    result = runner.invoke(app, ["chat", "--flows", str(FLOWS_DIR), "--now", "mardi"], input="")
    assert result.exit_code == 2 and "--now invalide" in result.output


def test_flows_test_passes_on_the_demo():
    result = runner.invoke(app, ["flows", "test", str(FLOWS_DIR)])
    assert result.exit_code == 0, result.output
    assert "OK    demo.yaml : 14 juillet férié" in result.output
    assert "ÉCHEC" not in result.output


def test_flows_test_fails_on_a_wrong_expectation(tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS_DIR, flows)
    (flows / "tests" / "demo.yaml").unlink()
    (flows / "tests" / "wrong.yaml").write_text(
        "tests:\n"
        "  - name: le 14 juillet n'est pas un jour ouvré\n"
        "    now: \"2026-07-14T10:00\"\n"
        "    steps:\n"
        "      - say: la mairie est ouverte aujourd'hui\n"
        "        intent: horaires_mairie\n"
        "        contains: \"ouverte aujourd'hui jusqu'à\"\n"
        "  - name: bonne intention\n"
        "    now: \"2026-07-14T10:00\"\n"
        "    steps:\n"
        "      - say: je voudrais parler à quelqu'un\n"
        "        intent: parler_agent\n")
    result = runner.invoke(app, ["flows", "test", str(flows), "-v"])
    assert result.exit_code == 1
    assert "ÉCHEC wrong.yaml : le 14 juillet n'est pas un jour ouvré" in result.output
    assert "étape 1 (« la mairie est ouverte aujourd'hui ») : la réponse ne contient pas" in result.output
    assert "OK    wrong.yaml : bonne intention" in result.output
    assert "1/2 tests réussis" in result.output
    assert "bot> La mairie est fermée ce mardi férié" in result.output  # -v shows the failing call


def test_flows_test_reports_a_malformed_test_file(tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS_DIR, flows)
    bad = "tests:\n  - name: x\n    steps:\n      - say: oui\n        intnt: oui\n"
    (flows / "tests" / "bad.yaml").write_text(bad)
    result = runner.invoke(app, ["flows", "test", str(flows)])
    assert result.exit_code == 1
    assert "bad.yaml:5: tests.0.steps.0.intnt:" in result.output
