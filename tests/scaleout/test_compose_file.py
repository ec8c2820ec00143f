"""compose.yaml and deploy/: what can be checked without a container daemon on this machine.

The services' command and settings are run for real as two local processes in
test_two_processes.py; here, the wiring between services (health checks, start order, shared
secret, volumes, proxy) that a typo would silently break."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from tests.scaleout.compose_file import compose, interpolate, service_environment, variables

CALLBOTS = ("callbot-1", "callbot-2")
ENV_EXAMPLE = REPO / "deploy" / "env.example"


def example_env() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {k: v or f"filled-{k.lower()}" for k, v in pairs}


def test_two_callbots_share_postgres_redis_and_the_secret_and_start_after_them() -> None:
    services = compose()["services"]
    assert {*CALLBOTS, "postgres", "redis", "proxy", "models"} <= set(services)
    envs = [service_environment(services[name], example_env()) for name in CALLBOTS]
    assert envs[0] == envs[1]  # same settings: any process may take any request of a call
    env = envs[0]
    assert env["CALLBOT_DATABASE_URL"].startswith("postgresql+psycopg://callbot:")
    assert "@postgres:5432/" in env["CALLBOT_DATABASE_URL"]
    assert env["CALLBOT_EVENTS_URL"].startswith("redis://redis:6379")
    assert env["CALLBOT_SECRET_KEY"] and env["CALLBOT_PUBLIC_URL"].startswith("https://")
    assert env["CALLBOT_TWILIO_AUTH_TOKEN"] and env["CALLBOT_METRICS_TOKEN"]
    for name in CALLBOTS:
        service = services[name]
        assert service["depends_on"] == {
            "models": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        mounts = {m.split(":")[1] for m in service["volumes"]}
        assert {"/models", "/data"} <= mounts  # the Dockerfile's models dir and working dir
        assert "ports" not in service  # reached through the proxy only
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "CALLBOT_MODELS_DIR=/models" in dockerfile and "WORKDIR /data" in dockerfile


def test_every_long_running_service_has_a_health_check() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if service.get("restart") == "no":
            continue  # the one-shot model download
        check = service.get("healthcheck")
        assert check and check["test"], f"{name} has no health check"
    for name in CALLBOTS:
        assert "/healthz" in " ".join(services[name]["healthcheck"]["test"])
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]
    assert services["proxy"]["depends_on"] == {n: {"condition": "service_healthy"} for n in CALLBOTS}


def test_the_proxy_balances_both_processes_checks_their_health_and_keeps_metrics_inside() -> None:
    proxy = compose()["services"]["proxy"]
    mounted = [m.split(":")[0] for m in proxy["volumes"] if m.startswith("./")]
    assert mounted == ["./deploy/Caddyfile"]
    caddyfile = (REPO / mounted[0]).read_text()
    upstreams = re.search(r"reverse_proxy\s+([^{]+)\{", caddyfile)
    assert upstreams and upstreams.group(1).split() == [f"{n}:8000" for n in CALLBOTS]
    assert re.search(r"^\s*health_uri /healthz$", caddyfile, re.M)
    assert re.search(r"^\s*respond /metrics 404$", caddyfile, re.M)
    # Caddy passes websocket upgrades (Twilio's media socket) and SSE without extra settings;
    # nothing in the file may turn buffering back on.
    assert "flush_interval" not in caddyfile and "buffer_requests" not in caddyfile
    assert set(proxy["ports"]) == {"80:80", "443:443"}


def test_every_setting_compose_asks_for_is_in_the_env_example_and_none_is_silently_empty() -> None:
    text = (REPO / "compose.yaml").read_text()
    assert variables(text) <= set(example_env())
    for name in variables(text):  # forgetting one in .env stops `docker compose up` with a message
        assert re.search(r"\$\{" + name + r":\?[^}]+\}", text), name
    with pytest.raises(KeyError, match="CALLBOT_SECRET_KEY"):
        interpolate("${CALLBOT_SECRET_KEY:?set CALLBOT_SECRET_KEY in .env}", {"CALLBOT_SECRET_KEY": ""})
