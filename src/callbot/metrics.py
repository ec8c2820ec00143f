"""Prometheus metrics of this server process, served at `GET /metrics` (app.py).

Each server process counts its own calls and exposes its own numbers: with several processes or
hosts (compose.yaml), scrape every one of them and add up in Prometheus. Two figures are read from
shared state at scrape time and so are the same in every process: the human queue's length (the
database) — take their max, not their sum.

A neutral module (imports nothing of callbot): the pipeline, telephony and speech rooms call the
one-line hooks below; app.py tells it where the recogniser pool and the queue are (`watch`).

Access (`allowed`): with CALLBOT_METRICS_TOKEN set, a request must carry
`Authorization: Bearer <token>`; without it, only loopback clients are served.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from loguru import logger
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)
# Process basics (resident memory, CPU seconds, open files, GC, Python version): the default
# registry's collectors, registered here too so /metrics shows only what this module chose.
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)

CALLS_IN_PROGRESS = Gauge("callbot_calls_in_progress", "Calls whose media stream is open in this process",
                          registry=REGISTRY)
CALLS = Counter("callbot_calls", "Media streams (bot conversations) started in this process",
                registry=REGISTRY)
# The per-turn response the timing record measures (pipeline/response_clock.py): the caller's last
# sound → the bot's first audio, seen from inside the server. Targets: p95 ≤ 0.8 s (issue 13).
RESPONSE = Histogram("callbot_response_seconds", "Caller's last sound to the bot's first audio, per turn",
                     buckets=(0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0),
                     registry=REGISTRY)
# Caller audio's wait between the socket and the VAD (pipeline/input_lag.py): a frame or two at most.
INPUT_LAG = Histogram("callbot_input_lag_seconds", "Caller audio read off the socket to seen by the VAD",
                      buckets=(0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56),
                      registry=REGISTRY)
ADMISSION_REFUSED = Counter("callbot_admission_refused",
                            "Calls sent straight to people because this process was at capacity",
                            ["reason"], registry=REGISTRY)
QUEUE_RESULTS = Counter("callbot_queue_results", "Callers leaving the human queue, by Twilio's QueueResult",
                        ["result"], registry=REGISTRY)
INFO = Info("callbot", "Version and speech models of this process", registry=REGISTRY)


# -- hooks (one line each in the rooms that know the event) ---------------------------------------
def call_started() -> None:
    CALLS.inc()
    CALLS_IN_PROGRESS.inc()


def call_ended() -> None:
    CALLS_IN_PROGRESS.dec()


def response_measured(response_ms: float | None) -> None:
    if response_ms is not None and response_ms >= 0:
        RESPONSE.observe(response_ms / 1000)


def input_lag_measured(lag_ms: float) -> None:
    INPUT_LAG.observe(lag_ms / 1000)


def admission_refused(reason: str = "capacity") -> None:
    """A call the admission control sent to people instead of the bot (keep `reason` a short fixed word)."""
    ADMISSION_REFUSED.labels(reason).inc()


def queue_left(result: str) -> None:
    QUEUE_RESULTS.labels(result or "unknown").inc()


# -- what is read at scrape time -------------------------------------------------------------------
class _Watched(Collector):
    """Gauges read when Prometheus scrapes: the recogniser pool and the human queue."""

    def __init__(self) -> None:
        # speech.recognizers.RecognizerPool by decoding search (duck-typed: no import of speech)
        self.pools: dict[str, Any] = {}
        self.waiting: Callable[[], int] | None = None

    def describe(self) -> Iterable[Metric]:
        return []  # families depend on what is watched; describe nothing rather than lie

    def collect(self) -> Iterable[Metric]:
        yield from self._pool()
        if self.waiting is not None:
            try:
                count = self.waiting()
            except Exception as e:  # database down: this gauge is missing, the page still answers
                logger.warning("metrics: queue length unavailable: {}", e)
            else:
                yield GaugeMetricFamily("callbot_queue_waiting_calls",
                                        "Callers waiting in a human queue (the database's view: "
                                        "same in every process)", value=count)

    def _pool(self) -> Iterable[Metric]:
        if not self.pools:
            return
        # One series per recogniser pool, labelled by its search ("model"; "fast" too with
        # CALLBOT_ASR_PROFILE=adaptive), so a burst served by the narrower search is visible.
        idle = GaugeMetricFamily("callbot_recognizers_idle",
                                 "Open-vocabulary Vosk recognisers ready for the next call (warm)",
                                 labels=["search"])
        busy = GaugeMetricFamily("callbot_recognizers_in_use",
                                 "Recognisers leased to caller turns in progress", labels=["search"])
        for search, pool in self.pools.items():
            idle.add_metric([search], pool.idle())
            busy.add_metric([search], getattr(pool, "in_use", 0))
        yield idle
        yield busy
        for name, attr, doc in (
            ("callbot_recognizers_built", "built", "Vosk recognisers created by this process"),
            ("callbot_recognizers_warmed", "warmed", "Recognisers warmed with typical requests before use"),
            ("callbot_recognizers_cold_takes", "cold_takes",
             "Calls that got a cold recogniser because none was ready (their first turns decode slower)"),
        ):
            family = CounterMetricFamily(name, doc, labels=["search"])
            for search, pool in self.pools.items():
                value = getattr(pool, attr, None)
                if value is not None:
                    family.add_metric([search], value)
            yield family


WATCHED = _Watched()
REGISTRY.register(WATCHED)


def watch(*, pools: dict[str, Any] | None = None, waiting: Callable[[], int] | None = None,
          version: str = "", models: str = "") -> None:
    """Tell the scrape where this process's recogniser pools (by search) and the queue length are
    (at start-up)."""
    WATCHED.pools = dict(pools or {})
    WATCHED.waiting = waiting
    INFO.info({"version": version, "models": models})


def exposition() -> tuple[bytes, str]:
    """The page's body and content type (Prometheus text format). Blocking: reads the database."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def allowed(client_host: str | None, authorization: str | None, token: str | None) -> bool:
    """With a token: the matching bearer header, from anywhere. Without: loopback clients only."""
    if token:
        scheme, _, given = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    try:
        return client_host is not None and ipaddress.ip_address(client_host).is_loopback
    except ValueError:  # "testclient" and other non-addresses
        return False
