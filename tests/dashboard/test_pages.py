"""The dashboard over HTTP: access rules, figures on the page, sort links, CSV and YAML exports."""

from __future__ import annotations

import csv
import io
import re

import yaml
from tests.dashboard.conftest import FROM, TO, login

PERIOD_QS = f"du={FROM}&au={TO}"


def test_anonymous_is_sent_to_login_and_agent_is_refused(app_client) -> None:  # noqa: ANN001
    r = app_client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert app_client.get("/dashboard/export/sujets.csv", follow_redirects=False).status_code in (303, 401)
    login(app_client, "paul")
    assert app_client.get("/dashboard").status_code == 403
    assert app_client.get("/dashboard/export/sujets.csv").status_code == 403
    assert app_client.get("/dashboard/export/incompris.yaml").status_code == 403


def test_manager_sees_the_figures_in_french(app_client) -> None:  # noqa: ANN001
    login(app_client, "marie")
    r = app_client.get(f"/dashboard?{PERIOD_QS}")
    assert r.status_code == 200
    html = r.text
    assert "Tableau de bord" in html and "Du 02/11/2026 au 08/11/2026" in html
    kpi = lambda name: re.search(rf'id="kpi-{name}">([^<]+)', html).group(1).strip()  # noqa: E731
    assert kpi("appels") == "6"
    assert kpi("resolution") == "33.3 %"
    assert (kpi("transferts"), kpi("rappels"), kpi("abandons"), kpi("pic")) == ("2", "1", "2", "3")
    assert html.count("<svg") >= 4 and "Incompréhensions répétées" in html
    for heading in ("Issue des appels et transferts", "Sujets et intentions", "Durées et satisfaction"):
        assert f">{heading}</h2>" in html
    assert "euh c&#39;est pour le truc" in html
    assert "+33612345678" not in html  # the callback's number never reaches the dashboard


def test_filters_by_service_and_bad_dates(app_client) -> None:  # noqa: ANN001
    login(app_client, "marie")
    r = app_client.get(f"/dashboard?{PERIOD_QS}&service=Urbanisme")
    assert re.search(r'id="kpi-appels">1<', r.text)
    bad = app_client.get("/dashboard?du=hier&au=2026-11-08")
    assert bad.status_code == 400 and "Période invalide" in bad.text and "30 derniers jours" in bad.text


def test_sort_links_sort_server_side(app_client) -> None:  # noqa: ANN001
    login(app_client, "marie")
    page = app_client.get(f"/dashboard?{PERIOD_QS}").text
    link = re.search(r'href="(/dashboard\?[^"]*tri_sujets=sujet[^"]*)"', page).group(1).replace("&amp;", "&")
    first = _table_first_column(app_client.get(link).text, "sujets")
    assert first == sorted(first, reverse=True)  # first click on a column: descending
    asc = link.replace("ordre_sujets=desc", "ordre_sujets=asc")
    assert _table_first_column(app_client.get(asc).text, "sujets") == sorted(first)


def _table_first_column(html: str, table: str) -> list[str]:
    block = html.split(f'id="t-{table}"', 1)[1].split("</table>", 1)[0]
    body = block.split("<tbody>", 1)[1]
    return re.findall(r"<tr><td[^>]*>([^<]*)</td>", body)


def test_every_table_exports_as_csv_without_numbers(app_client) -> None:  # noqa: ANN001
    from callbot.web.dashboard_tables import TABLES

    login(app_client, "marie")
    for name, table in TABLES.items():
        r = app_client.get(f"/dashboard/export/{name}.csv?{PERIOD_QS}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
        assert rows[0] == [c.label for c in table.columns]
        assert not re.search(r"\+?\d[\d ]{8,}\d", r.text.replace(FROM, "").replace(TO, "")), name
    topics = list(
        csv.DictReader(
            io.StringIO(
                app_client.get(f"/dashboard/export/sujets.csv?{PERIOD_QS}").content.decode("utf-8-sig")
            ),
            delimiter=";",
        )
    )
    assert {r["Sujet"]: (r["Appels"], r["Période précédente"]) for r in topics} == {
        "identite": ("2", "1"),
        "parler_agent": ("1", "0"),
        "urbanisme": ("1", "1"),
        "horaires_contact": ("1", "0"),
    }
    days = list(
        csv.reader(
            io.StringIO(
                app_client.get(f"/dashboard/export/jours.csv?{PERIOD_QS}").content.decode("utf-8-sig")
            ),
            delimiter=";",
        )
    )
    assert days[1][:2] == ["2026-11-02", "4"] and len(days) == 8
    assert app_client.get("/dashboard/export/inconnue.csv").status_code == 404


def test_yaml_snippet_of_picked_groups(app_client) -> None:  # noqa: ANN001
    login(app_client, "marie")
    r = app_client.get(f"/dashboard/export/incompris.yaml?{PERIOD_QS}&groupe=1&intention=identite.perte")
    assert r.status_code == 200
    assert yaml.safe_load(r.text) == {
        "intents": {"identite.perte": {"examples": ["euh c'est pour le truc", "euh c'est pour le truc là"]}}
    }
