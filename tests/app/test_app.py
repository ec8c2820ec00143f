"""The assembled application: health, and error pages people can read."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from callbot.app import create_app
from callbot.config import Settings
from callbot.web.accounts import create_user
from tests.conftest import REPO

HTML = {"accept": "text/html"}


def app_client(tmp_path) -> TestClient:  # noqa: ANN001
    settings = Settings(flows=REPO / "flows", database_url=f"sqlite:///{tmp_path}/db.sqlite",
                        secret_key="s", prompt_cache_dir=tmp_path / "cache")
    return TestClient(create_app(settings, speech=False))


def test_health_reports_flows_loaded_and_speech_absent(tmp_path) -> None:
    with app_client(tmp_path) as client:
        body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["intents"] >= 40
    assert body["speech"] is False
    assert body["models"] == "configured"
    assert body["nlu"] == "topics" or body["nlu"].startswith("flows-only")


def test_health_says_when_the_demo_models_serve(tmp_path) -> None:
    settings = Settings(flows=REPO / "flows", database_url=f"sqlite:///{tmp_path}/db.sqlite", secret_key="s",
                        prompt_cache_dir=tmp_path / "cache", demo_models=True)
    with TestClient(create_app(settings, speech=False)) as client:
        assert client.get("/healthz").json()["models"] == "demo"


def test_errors_are_french_pages_for_people_and_json_for_programs(tmp_path) -> None:
    with app_client(tmp_path) as client:
        create_user(client.app.state.db, "agent1", "motdepasse-solide", "agent")
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        client.post("/login", data={"username": "agent1", "password": "motdepasse-solide",
                                    "csrf_token": token})
        forbidden = client.get("/dashboard", headers=HTML)
        assert forbidden.status_code == 403
        assert "Accès refusé" in forbidden.text and "<html" in forbidden.text
        missing = client.get("/nulle-part", headers=HTML)
        assert missing.status_code == 404 and "Page introuvable" in missing.text
        assert client.get("/nulle-part", headers={"accept": "application/json"}).json()["detail"]
        # Anonymous visitors are still sent to the login page, not shown an error.
        client.cookies.clear()
        anonymous = client.get("/agents", headers=HTML, follow_redirects=False)
        assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["location"]
