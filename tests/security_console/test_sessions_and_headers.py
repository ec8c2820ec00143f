"""A stolen or left-behind cookie opens nothing once the session ends; pages carry the browser
protections (CSP without inline code, no framing, HSTS and Secure cookies behind https)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from callbot.app import create_app
from callbot.cli import app as cli
from callbot.web.accounts import create_user, set_password
from tests.agents.conftest import login, make_settings, transferred_call
from tests.security_console.conftest import PASSWORD, browser

COOKIE = "callbot_session"


def copy_of_cookie(app: object, client: TestClient) -> TestClient:
    """Another browser holding a copy of `client`'s session cookie (stolen, or a shared computer)."""
    thief = browser(app, ("192.0.2.99", 1234))
    thief.cookies.set(COOKIE, client.cookies.get(COOKIE))
    return thief


def opens_console(client: TestClient) -> bool:
    return client.get("/agents", follow_redirects=False).status_code == 200


def test_after_logout_the_cookie_no_longer_opens_the_console(secure_app: object) -> None:
    agent = browser(secure_app)
    token = login(agent, ("alice", PASSWORD))
    thief = copy_of_cookie(secure_app, agent)
    assert opens_console(thief)
    agent.post("/logout", data={"csrf_token": token})
    assert not opens_console(thief)
    assert thief.get("/agents", follow_redirects=False).headers["location"].startswith("/login")


def test_logout_ends_only_that_session(secure_app: object) -> None:
    office, laptop = browser(secure_app), browser(secure_app)
    office_token = login(office, ("alice", PASSWORD))
    login(laptop, ("alice", PASSWORD))
    office.post("/logout", data={"csrf_token": office_token})
    assert not opens_console(office) and opens_console(laptop)


def test_a_password_change_ends_every_open_session(secure_app: object) -> None:
    db = secure_app.state.db
    create_user(db, "sabine", PASSWORD, "agent")
    agent = browser(secure_app)
    login(agent, ("sabine", PASSWORD))
    thief = copy_of_cookie(secure_app, agent)
    set_password(db, "sabine", "un-tout-nouveau-secret")
    assert not opens_console(agent) and not opens_console(thief)


def test_disabling_an_account_ends_its_sessions(secure_app: object, monkeypatch) -> None:  # noqa: ANN001
    from callbot.config import get_settings

    db = secure_app.state.db
    create_user(db, "partant", PASSWORD, "agent")
    agent = browser(secure_app)
    login(agent, ("partant", PASSWORD))
    monkeypatch.setenv("CALLBOT_DATABASE_URL", db.url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["users", "disable", "partant"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert not opens_console(agent)
    # Re-enabled: the old cookie stays dead, a new login works.
    CliRunner().invoke(cli, ["users", "enable", "partant"], env={"CALLBOT_DATABASE_URL": db.url})
    get_settings.cache_clear()
    assert not opens_console(agent)
    login(agent, ("partant", PASSWORD))
    assert opens_console(agent)


def test_behind_https_cookies_are_secure_and_pages_carry_the_protections(secure_app: object) -> None:
    # The TLS proxy forwards plain http: the cookie is Secure because CALLBOT_PUBLIC_URL is https.
    plain = browser(secure_app, https=False)
    page = plain.get("/login")
    assert "secure" in page.headers["set-cookie"].lower()
    assert page.headers["strict-transport-security"].startswith("max-age=")
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"


def test_pages_with_personal_data_are_not_kept_in_the_browser_cache(secure_app: object) -> None:
    transferred_call(secure_app.state.db, "CAcache")
    agent = browser(secure_app)
    login(agent, ("alice", PASSWORD))
    assert agent.get("/agents/calls/CAcache").headers["cache-control"] == "no-store"
    assert agent.get("/agents").headers["cache-control"] == "no-store"
    assert "no-store" not in agent.get("/static/callbot.css").headers.get("cache-control", "")


def test_no_page_needs_inline_script_or_style(secure_app: object) -> None:
    """What the CSP would block: <script> without src, style="" or on…="" attributes."""
    transferred_call(secure_app.state.db, "CAcsp")
    manager = browser(secure_app)
    login(manager, ("marc", PASSWORD))
    for path in ("/login", "/agents", "/agents/waiting", "/agents/callbacks", "/agents/history",
                 "/agents/calls/CAcsp", "/dashboard", "/dashboard/audit"):
        html = manager.get(path).text if path != "/login" else browser(secure_app).get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\sstyle=|\son[a-z]+=", html), path
        assert "<style" not in html, path


def test_over_plain_http_no_hsts(tmp_path) -> None:  # noqa: ANN001
    """A local server (CALLBOT_PUBLIC_URL http) must not pin browsers to https; the rest holds."""
    app = create_app(make_settings(tmp_path, public_url="http://127.0.0.1:8000"), speech=False)
    static = TestClient(app).get("/static/callbot.css")  # no start-up needed for a static file
    assert static.status_code == 200
    assert "strict-transport-security" not in static.headers
    assert "frame-ancestors 'none'" in static.headers["content-security-policy"]
