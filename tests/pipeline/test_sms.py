"""Links by SMS through the call pipeline, against a local fake of Twilio's REST Messages endpoint
(the real `twilio` library talks to it): exactly one message after a "oui", none otherwise, and a
failure is told to the caller without ever logging the number."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from loguru import logger
from pipecat.tests.utils import SleepFrame, run_test

from callbot.config import Settings
from callbot.pipeline.dialog_processor import DialogProcessor
from callbot.pipeline.sms import SmsSender
from callbot.store.calls import CallRecorder
from callbot.store.db import Database
from callbot.store.models import Call

from .test_dialog_processor import ENGINE, said, transcript

SID, KEY, SECRET, FROM = "ACtest0000", "SKtestkey", "s3cret", "+33700000000"
MOBILE = "+33612345678"


class FakeTwilio:
    """Twilio's `POST /2010-04-01/Accounts/{sid}/Messages.json`, recording what it receives."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 201
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                auth = base64.b64decode(self.headers["Authorization"].split()[1]).decode()
                fake.requests.append({"path": self.path, "auth": auth,
                                      "form": {k: v[0] for k, v in parse_qs(body).items()}})
                if fake.status == 201:
                    payload = {"sid": "SM0001", "account_sid": SID, "status": "queued"}
                else:
                    payload = {"code": 21211, "message": "Invalid 'To' Phone Number", "status": fake.status}
                data = json.dumps(payload).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def logs() -> Iterator[list[str]]:
    lines: list[str] = []
    handler = logger.add(lambda m: lines.append(str(m)), level="DEBUG")
    yield lines
    logger.remove(handler)


def sender(url: str) -> SmsSender:
    return SmsSender(SID, KEY, SECRET, FROM, api_url=url, timeout=2)


def test_the_sender_posts_one_message_to_twilio(twilio: FakeTwilio, logs: list[str]) -> None:
    assert sender(twilio.url).send(MOBILE, "Mairie : voici le lien https://ants.gouv.fr/")
    [req] = twilio.requests
    assert req["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert req["auth"] == f"{KEY}:{SECRET}"
    assert req["form"] == {"To": MOBILE, "From": FROM, "Body": "Mairie : voici le lien https://ants.gouv.fr/"}
    assert not any("612345678" in line or "ants.gouv" in line for line in logs)


def test_a_refused_message_or_a_dead_endpoint_returns_false_and_logs_no_number(
        twilio: FakeTwilio, logs: list[str]) -> None:
    twilio.status = 400
    assert sender(twilio.url).send(MOBILE, "texte") is False
    dead = f"http://127.0.0.1:{twilio.server.server_port + 1 if twilio.server.server_port < 65535 else 1}"
    assert sender(dead).send(MOBILE, "texte") is False
    assert any("SMS not sent: Twilio answered 400" in line for line in logs)
    assert not any("612345678" in line or "texte" in line for line in logs)


def test_sms_is_configured_only_with_an_account_credentials_and_a_sender() -> None:
    full = {"twilio_account_sid": SID, "twilio_api_key": KEY, "twilio_api_secret": SECRET, "sms_from": FROM}
    assert SmsSender.from_settings(Settings(**full)) is not None
    token = {"twilio_account_sid": SID, "twilio_auth_token": "tok", "sms_from": FROM}
    assert SmsSender.from_settings(Settings(**token)) is not None
    for missing in ("twilio_account_sid", "twilio_api_key", "sms_from"):
        assert SmsSender.from_settings(Settings(**{k: v for k, v in full.items() if k != missing})) is None
    assert SmsSender.from_settings(Settings()) is None


def call(tmp_path, url: str, caller: str, lines: list[str], secs: float = 0.6):  # noqa: ANN001, ANN201
    """A call through the dialog processor (segments move on by the watchdog): what was said."""
    db = Database(f"sqlite:///{tmp_path}/calls.db")
    db.migrate()
    rec = CallRecorder(db, "CAsms")
    asyncio.run(rec.open(stream_sid="MZ", caller=caller, called="+331", secret=b"k"))

    async def on_end(reply) -> None:  # noqa: ANN001
        pass

    proc = DialogProcessor(ENGINE.new_conversation(caller=caller, sms=True), rec, on_end=on_end,
                           no_audio_secs=0.05, send_sms=sender(url).send_async)
    frames: list = [SleepFrame(0.3)]
    for line in lines:
        frames += [transcript(line), SleepFrame(0.3)]
    down, _ = asyncio.run(run_test(proc, frames_to_send=[*frames, SleepFrame(secs)]))
    with db.session() as s:
        events = [(e.kind, e.data) for e in s.query(Call).one().events if e.kind == "sms"]
    return said(down), events


CONSENT = ["je voudrais faire une procuration", "oui", "oui"]  # the question, the detail, the SMS


def test_a_consented_offer_sends_exactly_one_message_with_the_link(tmp_path, twilio: FakeTwilio) -> None:
    texts, events = call(tmp_path, twilio.url, MOBILE, CONSENT)
    assert "Voulez-vous que je vous envoie le lien par SMS ?" in texts
    assert "Je vous envoie le lien par SMS." in texts
    [req] = twilio.requests
    assert req["form"]["To"] == MOBILE and "https://www.maprocuration.gouv.fr/" in req["form"]["Body"]
    assert events == [("sms", {"sent": True})]


def test_a_refusal_or_a_landline_sends_nothing(tmp_path, twilio: FakeTwilio) -> None:
    texts, _ = call(tmp_path, twilio.url, MOBILE, [*CONSENT[:2], "non"])
    assert "Voulez-vous que je vous envoie le lien par SMS ?" in texts
    (tmp_path / "landline").mkdir()
    texts, _ = call(tmp_path / "landline", twilio.url, "+33145678900", CONSENT)
    assert "Voulez-vous que je vous envoie le lien par SMS ?" not in texts
    assert twilio.requests == []


def test_a_failed_message_is_told_to_the_caller_and_the_call_goes_on(tmp_path, twilio: FakeTwilio) -> None:
    twilio.status = 500
    texts, events = call(tmp_path, twilio.url, MOBILE, [*CONSENT, "quels sont les horaires de la mairie"])
    assert len(twilio.requests) == 1 and events == [("sms", {"sent": False})]
    assert "Désolé, le SMS n'a pas pu partir." in texts
    assert texts.index("Désolé, le SMS n'a pas pu partir.") < len(texts) - 1  # the next question is answered
