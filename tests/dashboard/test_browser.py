"""The dashboard in Chromium: login, figures, sort by clicking a header, CSV download, agent refused."""

from __future__ import annotations

import csv
import io
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from tests.conftest import free_port
from tests.dashboard.conftest import FROM, PASSWORD, TO, add_users, make_settings

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture()
def server(sqlite_db):  # noqa: ANN001, ANN201
    from callbot.app import create_app

    add_users(sqlite_db)
    port = free_port()
    app = create_app(make_settings(sqlite_db.url, port), speech=False)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def _login(page, base: str, username: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_dashboard_in_chromium(server: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720}, accept_downloads=True)
            # The Content-Security-Policy allows no inline code: the charts and scripts need none.
            refused = []
            page.on("console", lambda m: refused.append(m.text) if "Security Policy" in m.text else None)
            _login(page, server, "marie")
            page.goto(f"{server}/dashboard?du={FROM}&au={TO}")
            assert page.locator("h1").inner_text() == "Tableau de bord"
            assert page.locator("#kpi-appels").inner_text() == "6"
            assert page.locator("#kpi-pic").inner_text().startswith("3")
            assert page.locator("svg.chart").count() >= 4
            # The heat map's busiest cell is Monday 9h (3 calls), labelled for screen readers.
            assert page.locator("svg.chart rect title", has_text="lundi 9h–10h : 3 appels").count() == 1
            page.screenshot(path=str(ARTIFACTS / "dashboard-month.png"), full_page=True)

            # Keyboard: the skip link is the first focus stop and leads to the content.
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.textContent").strip() == "Aller au contenu"

            # Sort the topics table by name, then reverse it, by clicking its header.
            header = page.locator("#t-sujets th a", has_text="Sujet")
            with page.expect_navigation():
                header.click()
            names = page.locator("#t-sujets tbody tr td:first-child").all_inner_texts()
            assert names == sorted(names, reverse=True)
            with page.expect_navigation():
                page.locator("#t-sujets th a", has_text="Sujet").click()
            assert page.locator("#t-sujets tbody tr td:first-child").all_inner_texts() == sorted(names)
            assert page.locator("#t-sujets th[aria-sort]").get_attribute("aria-sort") == "ascending"

            # Filter by service with the form.
            page.select_option("#service", "Urbanisme")
            with page.expect_navigation():
                page.click("button:has-text('Afficher')")
            assert page.locator("#kpi-appels").inner_text() == "1"
            page.screenshot(path=str(ARTIFACTS / "dashboard-filtered.png"), full_page=True)

            # CSV download, parsed back.
            page.goto(f"{server}/dashboard?du={FROM}&au={TO}")
            with page.expect_download() as dl:
                page.locator("#t-transferts a.export").click()
            rows = list(
                csv.DictReader(io.StringIO(Path(dl.value.path()).read_text("utf-8-sig")), delimiter=";")
            )
            assert {r["Code"]: r["Transferts"] for r in rows} == {"asked_agent": "1", "misunderstanding": "1"}
            # The export is on record in the managers' audit log.
            page.get_by_role("link", name="Journal d'audit").click()
            assert page.locator("table.audit tbody tr", has_text="Export CSV").count() == 1
            assert not refused, refused

            agent = browser.new_page(viewport={"width": 1280, "height": 720})
            _login(agent, server, "paul")
            response = agent.goto(f"{server}/dashboard")
            assert response.status == 403
            agent.screenshot(path=str(ARTIFACTS / "dashboard-agent-403.png"))
        finally:
            browser.close()
