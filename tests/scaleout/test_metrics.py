"""GET /metrics: who may read it and what a Prometheus scrape finds (in-process, no speech models).

The numbers a real call moves (calls, response times, recognisers) are checked over two real
server processes in test_two_processes.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from twilio.request_validator import RequestValidator

from callbot import metrics
from callbot.app import create_app, watch_for_metrics
from callbot.pipeline.response_clock import ResponseClock
from tests.agents.conftest import make_settings, transferred_call

LOOPBACK = ("127.0.0.1", 40000)
OUTSIDE = ("203.0.113.7", 40000)
TWILIO_TOKEN = "twilio-token"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} from the Prometheus text format (strict parser)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """One web-only server for this module (start-up is the slow part)."""
    settings = make_settings(tmp_path_factory.mktemp("metrics"), twilio_auth_token=TWILIO_TOKEN)
    app = create_app(settings, speech=False)
    with TestClient(app):
        yield app


def test_loopback_scrape_shows_process_calls_queue_and_admission_refusals(app: FastAPI) -> None:
    client = TestClient(app, client=LOOPBACK)
    transferred_call(app.state.db, "CAwaiting1")  # queued 125 s ago, nobody took it
    transferred_call(app.state.db, "CAwaiting2", queued_secs_ago=5)
    before = samples(client.get("/metrics").text)
    metrics.admission_refused("capacity")
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)
    assert after[("callbot_queue_waiting_calls", ())] == before[("callbot_queue_waiting_calls", ())] == 2
    assert after[("callbot_calls_in_progress", ())] == 0
    refused = ("callbot_admission_refused_total", (("reason", "capacity"),))
    assert after[refused] == before.get(refused, 0) + 1
    assert after[("process_resident_memory_bytes", ())] > 10_000_000
    assert ("callbot_response_seconds_count", ()) in after
    assert after[("callbot_info", (("models", "configured"), ("version", "0.1.0")))] == 1


def test_a_caller_leaving_the_queue_is_counted_and_no_longer_waiting(app: FastAPI) -> None:
    client = TestClient(app, client=LOOPBACK)
    transferred_call(app.state.db, "CAleft")
    key = ("callbot_queue_results_total", (("result", "hangup"),))
    before = samples(client.get("/metrics").text)
    for result in ("hangup", "made-up"):
        form = {"CallSid": "CAleft", "QueueResult": result}
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(
            f"{app.state.settings.public_url}/twilio/queue-result", form)
        posted = client.post("/twilio/queue-result", data=form, headers={"X-Twilio-Signature": signature})
        assert posted.status_code == 200
    after = samples(client.get("/metrics").text)
    assert after[key] == before.get(key, 0) + 1
    assert after[("callbot_queue_waiting_calls", ())] == before[("callbot_queue_waiting_calls", ())] - 1
    assert after[("callbot_queue_results_total", (("result", "other"),))] >= 1  # labels stay bounded


def test_metrics_are_refused_to_other_hosts_unless_they_bring_the_token(app: FastAPI) -> None:
    refused = TestClient(app, client=OUTSIDE).get("/metrics")
    assert refused.status_code == 403
    assert "CALLBOT_METRICS_TOKEN" in refused.text

    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"metrics_token": "s3cret-scrape"})
    try:
        outside = TestClient(app, client=OUTSIDE)
        assert outside.get("/metrics").status_code == 403
        assert outside.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        ok = outside.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
        assert ok.status_code == 200 and "callbot_calls_in_progress" in ok.text
        # With a token, loopback needs it too (a proxy on the same host would look like loopback).
        assert TestClient(app, client=LOOPBACK).get("/metrics").status_code == 403
    finally:
        app.state.settings = settings


def test_each_timed_response_lands_in_the_response_histogram(app: FastAPI) -> None:
    """What the pipeline's timing record measures per turn is what Prometheus gets."""
    client = TestClient(app, client=LOOPBACK)
    before = samples(client.get("/metrics").text)
    timing = ResponseClock().breakdown(started=100.0, first_audio=100.45, vad_stop_secs=0.2)
    after = samples(client.get("/metrics").text)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after[key] - before[key]

    assert timing["response_ms"] == 450.0
    assert grew("callbot_response_seconds_count") == 1
    assert grew("callbot_response_seconds_sum") == pytest.approx(0.45)
    assert grew("callbot_response_seconds_bucket", le="0.4") == 0
    assert grew("callbot_response_seconds_bucket", le="0.5") == 1


def test_the_page_still_answers_when_the_database_is_down(app: FastAPI) -> None:
    """The queue length is missing from that scrape; everything else is there (and logged)."""

    def database_down() -> int:
        raise ConnectionError("connection refused")

    client = TestClient(app, client=LOOPBACK)
    metrics.watch(waiting=database_down)
    try:
        response = client.get("/metrics")
    finally:
        watch_for_metrics(app.state.runtime)
    assert response.status_code == 200
    scraped = samples(response.text)
    assert ("callbot_queue_waiting_calls", ()) not in scraped
    assert ("callbot_calls_in_progress", ()) in scraped
    assert ("callbot_queue_waiting_calls", ()) in samples(client.get("/metrics").text)
