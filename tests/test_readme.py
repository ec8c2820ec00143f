"""Every command in README.md's shell blocks runs, as written.

Commands that can run inside the suite run against a live server on the package-shipped test models
(the server `make run-test-models` starts, on a free port). The others are covered explicitly:
`make run` and `make run-test-models` block, so they are started with the internet out of reach
and must come up in demo mode; `make test` is this suite, so its recipe is checked; the model
download needs the internet, so it must fail with its clear offline message. A new command in the
README fails `test_every_readme_command_is_covered` until it is added below.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port, start_server

README = REPO / "README.md"
SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell)\n(.*?)^```", re.MULTILINE | re.DOTALL)
VENDOR_STAMP = REPO / "src/callbot/web/static/vendor/.stamp"
DEMO_NOTICE = "MODÈLES DE DÉMONSTRATION"


def readme_commands() -> list[str]:
    """Each command of the README's shell blocks (continuation lines joined), as written."""
    commands: list[str] = []
    for block in SHELL_BLOCK.findall(README.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            if shlex.split(line, comments=True):
                commands.append(line.strip())
    return commands


def command_key(command: str) -> str:
    """The command without its comment and spacing: what the tables below are keyed by."""
    return shlex.join(shlex.split(command, comments=True))


def _check_simulate_json(stdout: str) -> None:
    summary = json.loads(stdout)
    assert summary["call_sid"].startswith("CA")
    assert summary["turns"] and summary["turns"][0]["first_audio_ms"] is not None
    # The test models understand no French: the bot asks again and the caller hangs up after
    # listening; had the server ended the call, it would have said how.
    assert summary["hung_up_by"] in ("caller", "server")
    if summary["hung_up_by"] == "server":
        assert summary["outcome"]["verb"] in ("hangup", "enqueue", "dial")
    assert not summary["violations"]


# Run as written (from a folder whose `.venv` is the suite's virtualenv) against the live server;
# each must exit 0, then its output is checked.
RUN_AGAINST_LIVE_SERVER: dict[str, Callable[[str], None]] = {
    ".venv/bin/callbot simulate --say 'quels sont vos horaires' --json": _check_simulate_json,
}
# Cannot run inside the suite as they are: the test that covers each.
COVERED_BY_TEST = {
    "make run": "test_make_run_offline_comes_up_with_demo_models",
    "make run-test-models": "test_make_run_offline_comes_up_with_demo_models",
    "make test": "test_make_test_installs_the_test_extras_and_runs_lint_and_the_suite",
    "callbot models download": "test_models_download_offline_fails_with_a_clear_message",
    ".venv/bin/callbot models download": "test_models_download_offline_fails_with_a_clear_message",
}


def test_every_readme_command_is_covered() -> None:
    commands = [command_key(c) for c in readme_commands()]
    assert "make run" in commands and "make test" in commands  # the parser still finds the blocks
    uncovered = [c for c in commands if c not in RUN_AGAINST_LIVE_SERVER and c not in COVERED_BY_TEST]
    assert not uncovered, f"README commands no test runs: {uncovered} (add them to tests/test_readme.py)"
    assert all(name in globals() for name in COVERED_BY_TEST.values())


# -- commands run as written, against a live server ---------------------------------------------

@pytest.fixture(scope="module")
def readme_env(tmp_path_factory: pytest.TempPathFactory, prompt_cache_dir: Path) -> Iterator[dict[str, str]]:
    """The server `make run-test-models` starts (CALLBOT_DEMO_MODELS=1) on a free port, and the
    environment a second terminal has: CALLBOT_PORT names the server's port."""
    from callbot.config import Settings

    port = free_port()
    home = tmp_path_factory.mktemp("readme")
    env = {"CALLBOT_DEMO_MODELS": "1", "CALLBOT_PORT": str(port), "CALLBOT_FLOWS": str(REPO / "flows"),
           "CALLBOT_DATABASE_URL": f"sqlite:///{home / 'callbot.db'}", "CALLBOT_SECRET_KEY": "readme-test",
           "CALLBOT_PROMPT_CACHE_DIR": str(prompt_cache_dir), "CALLBOT_WARM_ANSWERS": "false",
           # Local simulation sends unsigned webhooks, as `make run-test-models` accepts them.
           "CALLBOT_ALLOW_UNSIGNED": "1", "CALLBOT_LOG_LEVEL": "WARNING"}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        settings = Settings()
    assert settings.demo_models and settings.public_url == f"http://127.0.0.1:{port}"
    app, server, thread = start_server(settings)
    assert app.state.runtime.models == "demo"
    # Where the commands run: `.venv` is the virtualenv running this suite (the repository's own
    # under `make test`), nothing else of the repository is at hand.
    cwd = home / "terminal"
    cwd.mkdir()
    (cwd / ".venv").symlink_to(Path(sys.prefix))
    shell_env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOT_")}
    yield {**shell_env, **env, "CWD": str(cwd)}
    server.should_exit = True
    thread.join(timeout=15)


LIVE_COMMANDS = [c for c in readme_commands() if command_key(c) in RUN_AGAINST_LIVE_SERVER]


@pytest.mark.parametrize("command", LIVE_COMMANDS)
def test_readme_command_runs_as_written(command: str, readme_env: dict[str, str]) -> None:
    # No French voice is configured in this terminal: the caller speaks with the test voice.
    env = {k: v for k, v in readme_env.items() if k not in ("CWD", "CALLBOT_DEMO_MODELS")}
    done = subprocess.run(["bash", "-c", command], cwd=readme_env["CWD"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    RUN_AGAINST_LIVE_SERVER[command_key(command)](done.stdout)


# -- commands that cannot run inside the suite as they are -------------------------------------

def make(target: str, *flags: str) -> list[str]:
    """`make TARGET`; from another checkout's virtualenv (a worktree sharing one), make is pointed at
    it and told it is installed, so that it never reinstalls the project into that virtualenv."""
    venv = Path(sys.prefix)
    if (REPO / ".venv").resolve() == venv.resolve():
        return ["make", *flags, target]
    stamps = [venv / ".installed", venv / ".installed-demo", venv / ".installed-test", VENDOR_STAMP]
    return ["make", *flags, target, f"VENV={venv}", *(f"-o{stamp}" for stamp in stamps)]


def offline_env(tmp_path: Path) -> dict[str, str]:
    """No French models on disk and no way to fetch them (the model hosts replaced by a closed port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOT_")}
    return {**env, "CALLBOT_MODELS_DIR": str(tmp_path / "models"),
            "CALLBOT_MODELS_BASE_URL": f"http://127.0.0.1:{free_port()}"}


def health(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=5) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


@pytest.mark.parametrize("target", ["run", "run-test-models"])
def test_make_run_offline_comes_up_with_demo_models(target: str, tmp_path: Path,
                                                    prompt_cache_dir: Path) -> None:
    port = free_port()
    env = {**offline_env(tmp_path), "CALLBOT_PORT": str(port), "CALLBOT_SECRET_KEY": "readme-test",
           "CALLBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'callbot.db'}",
           "CALLBOT_PROMPT_CACHE_DIR": str(prompt_cache_dir), "CALLBOT_WARM_ANSWERS": "false",
           "CALLBOT_ASR_WARM_RECOGNIZERS": "0"}
    log = tmp_path / "make.log"
    with log.open("w") as out:
        proc = subprocess.Popen(make(target), cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 420
        body = None
        while body is None or body.get("status") != "ok":
            assert proc.poll() is None, f"make {target} stopped:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"make {target} did not come up:\n{log.read_text()}"
            time.sleep(1)
            body = health(f"http://127.0.0.1:{port}")
        assert body["models"] == "demo" and body["speech"] is True
        text = log.read_text()
        assert DEMO_NOTICE in text, text
        if target == "run":  # it tried the download first, and said why it could not
            assert "pas d'accès à Internet" in text and "DEMO models" in text, text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_make_test_installs_the_test_extras_and_runs_lint_and_the_suite() -> None:
    # `make test` is this suite; its recipe (dry run, from a fresh clone) must be the one the README gives.
    venv = REPO / ".tmp-fresh-clone-venv"
    recipe = subprocess.run(["make", "-n", "test", f"VENV={venv}"], cwd=REPO, capture_output=True,
                            text=True, timeout=60, check=True).stdout
    assert f"-m venv {venv}" in recipe
    assert "pip install -q -e '.[test]'" in recipe
    assert f"{venv}/bin/ruff check src tests bench" in recipe
    assert f"{venv}/bin/pytest -q" in recipe
    assert not venv.exists()


def test_models_download_offline_fails_with_a_clear_message(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "callbot.cli", "models", "download"],
                          env=offline_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "pas d'accès à Internet" in done.stderr and "Traceback" not in done.stderr
    assert not any((tmp_path / "models").rglob("*.onnx"))


def test_serve_without_the_switch_never_falls_back(tmp_path: Path) -> None:
    env = {**offline_env(tmp_path), "CALLBOT_PORT": str(free_port()), "CALLBOT_SECRET_KEY": "s",
           "CALLBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'callbot.db'}"}
    done = subprocess.run([sys.executable, "-m", "callbot.cli", "serve"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode != 0
    assert "callbot models download" in done.stderr and DEMO_NOTICE not in done.stderr
