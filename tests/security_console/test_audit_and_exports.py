"""Accountability: who opened a transcript, exported, changed a callback or erased data is on
record, for managers (page) and on the command line; CSV exports cannot smuggle formulas."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from callbot.cli import app as cli
from callbot.config import get_settings
from callbot.store.models import Call, Callback, Turn
from tests.agents.conftest import csrf_from, login, transferred_call
from tests.security_console.conftest import PASSWORD, browser


@pytest.fixture
def cli_env(secure_app: object, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("CALLBOT_DATABASE_URL", secure_app.state.db.url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def audit_json(runner: CliRunner, *args: str) -> list[dict]:
    result = runner.invoke(cli, ["audit", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_reading_exporting_and_changing_are_audited(secure_app: object, cli_env: CliRunner) -> None:
    db = secure_app.state.db
    transferred_call(db, "CAaudit1")
    with db.session() as s:
        callback = Callback(created_at=datetime.now(UTC), number="+33611112222", reason="rappeler svp")
        s.add(callback)
        s.flush()
        callback_id = callback.id
    agent = browser(secure_app)
    token = login(agent, ("chloe", PASSWORD))
    assert agent.get("/agents/calls/CAaudit1").status_code == 200
    saved = agent.post(f"/agents/callbacks/{callback_id}",
                       data={"csrf_token": token, "status": "rappele", "notes": "rappelée, RDV pris"},
                       follow_redirects=False)
    assert saved.status_code == 303
    manager = browser(secure_app)
    login(manager, ("marc", PASSWORD))
    assert manager.get("/dashboard/export/incompris.csv").status_code == 200

    chloe = audit_json(cli_env, "--user", "chloe")
    assert [(e["action"], e["target"]) for e in chloe] == [("callback.updated", str(callback_id)),
                                                          ("call.viewed", "CAaudit1")]
    assert chloe[0]["detail"]["status"] == "rappele"
    assert "rappelée" not in json.dumps(chloe)  # who changed what, not the words
    (export,) = [e for e in audit_json(cli_env, "--user", "marc") if e["action"] == "export.csv"]
    assert export["target"].startswith("callbot-incompris-")
    today = datetime.now(UTC).date()
    assert audit_json(cli_env, "--user", "chloe", "--from", (today + timedelta(days=2)).isoformat()) == []
    plain = cli_env.invoke(cli, ["audit", "--user", "chloe"]).output
    assert "call.viewed" in plain and "CAaudit1" in plain

    # Managers read the log in the console; agents may not.
    page = manager.get("/dashboard/audit?compte=chloe")
    assert page.status_code == 200
    assert "Transcription consultée" in page.text and "CAaudit1" in page.text
    assert agent.get("/dashboard/audit", follow_redirects=False).status_code == 403
    assert "Journal d'audit" not in agent.get("/agents").text


def test_erasing_and_account_changes_are_audited(secure_app: object, cli_env: CliRunner) -> None:
    added = cli_env.invoke(cli, ["users", "add", "nouvelle", "--role", "agent"],
                           input="motdepasse-nouvelle\n")
    assert added.exit_code == 0, added.output
    erased = cli_env.invoke(cli, ["erase", "+33699998888"])
    assert erased.exit_code == 0, erased.output
    actions = {e["action"]: e for e in audit_json(cli_env)}
    assert actions["user.added"]["target"] == "nouvelle"
    assert actions["user.added"]["actor"].startswith("cli")
    assert "data.erased" in actions
    assert "99998888" not in json.dumps(actions)  # the erased number is not kept in the log


def test_purge_is_audited_and_drops_audit_entries_past_their_retention(secure_app: object,
                                                                       cli_env: CliRunner) -> None:
    from callbot.store.models import AuditEntry

    db = secure_app.state.db
    with db.session() as s:
        s.add(AuditEntry(at=datetime.now(UTC) - timedelta(days=400), actor="ancien", action="call.viewed",
                         target="CAold"))
    purged = cli_env.invoke(cli, ["purge"])
    assert purged.exit_code == 0, purged.output
    assert audit_json(cli_env, "--user", "ancien") == []
    (purge,) = [e for e in audit_json(cli_env) if e["action"] == "data.purged"]
    assert purge["detail"]["audit_entries"] == 1 and purge["target"] == "90 jours"


def test_csv_cells_cannot_start_a_spreadsheet_formula(secure_app: object) -> None:
    """A caller's words land in the unrecognised-utterances export: none may run as a formula."""
    db = secure_app.state.db
    wordings = ['=HYPERLINK("http://evil.example","aide")', "+33 6 12 34 56 78", "-2+3 bonjour",
                "@SUM(A1:A9) merci", "\tcmd tabulation"]
    started = datetime.now(UTC) - timedelta(hours=1)
    with db.session() as s:
        call = Call(call_sid="CAcsvinj", started_at=started, ended_at=started + timedelta(minutes=2),
                    outcome="resolved")
        call.turns = [Turn(seq=i, speaker="caller", text=text, at=started + timedelta(seconds=10 + i),
                           action="fallback", fallback_reason="no intent") for i, text in enumerate(wordings)]
        s.add(call)
    manager = browser(secure_app)
    login(manager, ("marc", PASSWORD))
    export = manager.get("/dashboard/export/incompris.csv")
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff")), delimiter=";"))
    cells = [cell for row in rows[1:] for cell in row]
    phrases = " ".join(row[0] for row in rows[1:])
    for neutralised in ("'=hyperlink", "'+33 6 12", "'-2+3", "'@sum"):
        assert neutralised in phrases.lower(), neutralised
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    # Numbers stay numbers (a negative trend elsewhere is not text).
    assert any(cell.isdigit() for cell in cells)
    assert csrf_from(manager.get("/agents").text)
