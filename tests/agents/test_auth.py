"""Accounts, sessions, CSRF and roles through HTTP, as a browser or a script would see them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from callbot.web.accounts import create_user, set_password
from tests.agents.conftest import AGENT, MANAGER, csrf_from, login, transferred_call


def test_every_console_page_requires_login(client: TestClient) -> None:
    for path in ("/agents", "/agents/callbacks", "/agents/history", "/agents/waiting"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")
    # The live stream is an API: 401 rather than a redirect.
    events = client.get("/agents/events", headers={"Accept": "text/event-stream"}, follow_redirects=False)
    assert events.status_code == 401


def test_login_goes_back_to_the_requested_page_and_never_off_site(client: TestClient) -> None:
    page = client.get("/agents/history?theme=identite")  # redirected to the login form
    assert page.url.path == "/login"
    assert 'value="/agents/history?theme=identite"' in page.text
    response = client.post("/login", data={"username": AGENT[0], "password": AGENT[1],
                                            "csrf_token": csrf_from(page.text), "next": "//evil.example/x"},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/agents"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_wrong_password_and_unknown_user_get_the_same_french_error(client: TestClient) -> None:
    for username, password in ((AGENT[0], "pas-le-bon"), ("inconnu", AGENT[1])):
        page = client.get("/login")
        response = client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": csrf_from(page.text)})
        assert response.status_code == 401
        assert "Identifiant ou mot de passe incorrect." in response.text
    assert client.get("/agents", follow_redirects=False).status_code == 303


def test_login_without_the_form_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": AGENT[0], "password": AGENT[1]})
    assert response.status_code == 403
    assert "expiré" in response.text
    assert client.get("/agents", follow_redirects=False).status_code == 303


def test_post_without_or_with_a_wrong_csrf_token_changes_nothing(client: TestClient) -> None:
    db = client.app.state.db
    transferred_call(db, "CAcsrf")
    token = login(client, AGENT)
    assert client.post("/agents/calls/CAcsrf/take").status_code == 403
    assert client.post("/agents/calls/CAcsrf/take", data={"csrf_token": token + "x"}).status_code == 403
    assert "CAcsrf" in client.get("/agents/waiting").text  # still waiting, nobody took it
    response = client.post("/agents/calls/CAcsrf/take", data={"csrf_token": token})
    assert response.status_code == 200
    assert "Vous avez pris cet appel" in response.text
    assert "CAcsrf" not in client.get("/agents/waiting").text
    # Taken by mistake: put back for everyone (with the token, by its taker).
    assert client.post("/agents/calls/CAcsrf/release").status_code == 403
    assert "Remettre en attente" in response.text
    client.post("/agents/calls/CAcsrf/release", data={"csrf_token": token})
    assert "CAcsrf" in client.get("/agents/waiting").text


def test_an_agent_cannot_take_a_call_a_colleague_already_took(client: TestClient, console_app) -> None:  # noqa: ANN001
    transferred_call(client.app.state.db, "CAtwice")
    colleague = TestClient(console_app, base_url="https://testserver")
    create_user(client.app.state.db, "gisele", "motdepasse-gisele", "agent")
    colleague_token = login(colleague, ("gisele", "motdepasse-gisele"))
    colleague.post("/agents/calls/CAtwice/take", data={"csrf_token": colleague_token})
    token = login(client, AGENT)
    second = client.post("/agents/calls/CAtwice/take", data={"csrf_token": token})
    assert "Cet appel a déjà été pris par gisele." in second.text
    assert client.post("/agents/calls/CAtwice/release", data={"csrf_token": token}).status_code == 409


def test_logout_needs_the_token_and_ends_the_session(client: TestClient) -> None:
    token = login(client, AGENT)
    assert client.post("/logout").status_code == 403
    response = client.post("/logout", data={"csrf_token": token})
    assert response.url.path == "/login"
    assert "Vous êtes déconnecté." in response.text
    assert client.get("/agents", follow_redirects=False).status_code == 303


def test_a_tampered_cookie_is_anonymous(client: TestClient) -> None:
    login(client, AGENT)
    value = client.cookies.get("callbot_session")
    client.cookies.clear()
    client.cookies.set("callbot_session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert client.get("/agents", follow_redirects=False).status_code == 303


def test_changing_the_password_closes_open_sessions(client: TestClient) -> None:
    create_user(client.app.state.db, "bruno", "ancien-mot-de-passe", "agent")
    login(client, ("bruno", "ancien-mot-de-passe"))
    assert client.get("/agents", follow_redirects=False).status_code == 200
    set_password(client.app.state.db, "bruno", "un-nouveau-mot-de-passe")
    assert client.get("/agents", follow_redirects=False).status_code == 303


def test_roles_agents_get_the_console_managers_get_both(client: TestClient) -> None:
    login(client, AGENT)
    page = client.get("/agents")
    assert page.status_code == 200
    assert "Tableau de bord" not in page.text  # no link to what an agent may not open
    assert client.get("/dashboard", follow_redirects=False).status_code == 403
    client.cookies.clear()
    login(client, MANAGER)
    page = client.get("/agents")
    assert page.status_code == 200 and "Tableau de bord" in page.text
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard"
