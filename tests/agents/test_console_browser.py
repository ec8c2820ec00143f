"""The console in Debian's Chromium: log in, a transferred call appears live with its transcript,
take it, process a callback; and the same without htmx and without JavaScript at all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from callbot.store.callbacks import create_callback
from callbot.store.models import Call, Callback
from tests.agents.conftest import AGENT, ThreadServer, transferred_call
from tests.conftest import REPO

pytestmark = pytest.mark.browser

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's Chromium is missing: `make browser` (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def shot(page, name: str) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"agents-{name}.png"), full_page=True)


def log_in(page, server: ThreadServer) -> None:  # noqa: ANN001
    page.goto(server.url + "/agents")
    assert page.url.startswith(server.url + "/login")
    page.get_by_label("Identifiant").fill(AGENT[0])
    page.get_by_label("Mot de passe").fill(AGENT[1])
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(server.url + "/agents")


def queue_like_telephony(server: ThreadServer, sid: str, summary: str) -> None:
    """The bot decided to transfer; Twilio then asks /twilio/after-stream, which queues the call."""
    transferred_call(server.db, sid, summary=summary, queued_secs_ago=None)
    response = httpx.post(server.url + "/twilio/after-stream", data={"CallSid": sid})
    assert "<Enqueue" in response.text


def test_live_call_take_it_and_process_a_callback(browser, live_console: ThreadServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 720}, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, live_console)
    expect(page.locator("#nombre-en-attente")).to_have_text("Aucun appel en attente.")
    expect(page.locator("#etat-direct")).to_have_attribute("data-state", "live", timeout=10_000)
    shot(page, "1-empty")

    queue_like_telephony(live_console, "CAbrowser1", "Demande de passeport")
    card = page.locator("#appel-CAbrowser1")
    expect(card).to_be_visible(timeout=10_000)  # no reload: pushed by Server-Sent Events
    expect(page.locator("#nombre-en-attente")).to_have_text("1 appel en attente.")
    expect(card.get_by_role("heading")).to_have_text("Demande de passeport")
    expect(card).to_contain_text("Motif : sujet traité par un agent")
    expect(card).to_contain_text("Thème : carte d'identité, passeport")
    expect(card.locator(".transcript")).to_contain_text("je voudrais refaire mon passeport il est périmé")
    expect(card.locator(".transcript li.caller")).to_have_count(1)
    wait = card.locator("[data-since]")
    expect(wait).not_to_have_text(wait.inner_text(), timeout=5_000)  # the wait time ticks live
    shot(page, "2-call-arrived")

    card.get_by_role("button", name=re.compile("Prendre l'appel")).click()
    page.wait_for_url(re.compile(r"/agents\?pris=CAbrowser1"))
    expect(page.get_by_role("heading", name="Vous avez pris cet appel")).to_be_visible()
    expect(page.locator("#pris")).to_contain_text("Pris par alice")
    expect(page.locator("#attente")).not_to_contain_text("Demande de passeport")
    with live_console.db.session() as s:
        assert s.scalar(select(Call.picked_up_by).where(Call.call_sid == "CAbrowser1")) == "alice"
    shot(page, "3-taken")

    cb_id = create_callback(live_console.db, "+33645454545", reason="Rappeler pour la salle des fêtes",
                            topic="vie_associative_salles")
    page.get_by_role("link", name="Rappels", exact=True).click()
    expect(page.locator("#rappels-a-traiter")).to_have_text("Rappels à traiter : 1")
    row = page.locator(f"#rappel-{cb_id}")
    expect(row).to_contain_text("+33645454545")
    expect(row).to_contain_text("à rappeler")
    row.get_by_role("link", name=re.compile("Traiter")).click()
    page.get_by_label("Statut").select_option(label="rappelé")
    page.get_by_label("Attribué à").select_option(label="alice (moi)")
    page.get_by_label("Notes").fill("Rappelée à 10 h, réservation confirmée")
    page.get_by_role("button", name=re.compile("Enregistrer")).click()
    # Back on the list it came from ("à rappeler"): saved, and no longer waiting.
    expect(page.get_by_role("status").filter(has_text=f"Rappel n° {cb_id} enregistré")).to_be_visible()
    expect(page.locator(f"#rappel-{cb_id}")).to_have_count(0)
    expect(page.locator("#rappels-a-traiter")).to_have_text("Rappels à traiter : 0")
    page.get_by_label("Statut").select_option(label="rappelé")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator(f"#rappel-{cb_id}")).to_contain_text("rappelé")
    expect(page.locator(f"#rappel-{cb_id}")).to_contain_text("alice")
    with live_console.db.session() as s:
        cb = s.get(Callback, cb_id)
        saved = (cb.status, cb.assigned_to, cb.notes)
    assert saved == ("rappele", "alice", "Rappelée à 10 h, réservation confirmée")
    shot(page, "4-callback-done")
    assert not errors, errors
    context.close()


def test_live_updates_without_the_vendored_htmx(browser, live_console: ThreadServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.route("**/static/vendor/**", lambda route: route.fulfill(status=404, body="missing"))
    page = context.new_page()
    log_in(page, live_console)
    expect(page.locator("#etat-direct")).to_have_attribute("data-state", "live", timeout=10_000)
    queue_like_telephony(live_console, "CAnohtmx", "Signalement d'un lampadaire en panne")
    expect(page.locator("#appel-CAnohtmx")).to_be_visible(timeout=10_000)
    context.close()


def test_the_console_works_without_javascript(browser, live_console: ThreadServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 720}, java_script_enabled=False)
    page = context.new_page()
    queue_like_telephony(live_console, "CAnojs", "Inscription à la cantine")
    log_in(page, live_console)
    card = page.locator("#appel-CAnojs")
    expect(card).to_contain_text("Inscription à la cantine")
    assert page.locator('noscript').count() >= 1  # the page refreshes itself without JavaScript
    card.get_by_role("button", name=re.compile("Prendre l'appel")).click()
    expect(page.get_by_role("heading", name="Vous avez pris cet appel")).to_be_visible()
    shot(page, "5-no-javascript")
    context.close()


def test_keyboard_reaches_the_content_and_take_button(browser, live_console: ThreadServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    log_in(page, live_console)
    queue_like_telephony(live_console, "CAkeys", "Question sur les encombrants")
    expect(page.locator("#appel-CAkeys")).to_be_visible(timeout=10_000)
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "prendre-CAkeys":
            break
    else:
        pytest.fail("the take button is not reachable with the keyboard")
    # A live update while the agent is on the button must not move the keyboard focus away.
    queue_like_telephony(live_console, "CAkeys2", "Question sur le cimetière")
    expect(page.locator("#appel-CAkeys2")).to_be_visible(timeout=10_000)
    assert page.evaluate("document.activeElement.id") == "prendre-CAkeys"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Vous avez pris cet appel")).to_be_visible()
    context.close()


def test_a_long_callback_list_is_a_compact_table_that_works_without_javascript(  # noqa: ANN001
        browser, live_console: ThreadServer) -> None:
    from playwright.sync_api import expect

    with live_console.db.session() as s:
        for i in range(120):
            s.add(Callback(created_at=datetime.now(UTC) - timedelta(hours=200 - i), number=f"+3367770{i:04d}",
                           reason="Demande de rappel pour une question d'urbanisme", status="a_rappeler"))
    context = browser.new_context(viewport={"width": 1280, "height": 720}, java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_console)
    page.goto(live_console.url + "/agents/callbacks?numero=06+77+70")
    rows = page.locator("table.callbacks tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("+33677700000")  # waiting longest: first
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 6000, f"the list of 50 is {height} px tall"
    shot(page, "6-callbacks-table")
    page.get_by_role("navigation", name="Pages des rappels").get_by_role("link", name="Suivante »").click()
    expect(rows.first).to_contain_text("+33677700050")
    assert "numero=06+77+70" in page.url and "page=2" in page.url
    rows.first.get_by_role("link", name=re.compile("Traiter")).click()
    page.get_by_label("Notes").fill("Sans JavaScript")
    page.get_by_label("Statut").select_option(label="injoignable")
    page.get_by_role("button", name=re.compile("Enregistrer")).click()
    assert "page=2" in page.url and "numero=06+77+70" in page.url  # back where the agent was
    expect(page.get_by_role("status").filter(has_text="enregistré")).to_be_visible()
    with live_console.db.session() as s:
        saved = s.scalar(select(Callback.notes).where(Callback.number == "+33677700050"))
    assert saved == "Sans JavaScript"
    context.close()
