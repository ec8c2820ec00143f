"""dialog/ decides what to say; it knows neither pipecat, nor the database, nor the rooms above it."""

from __future__ import annotations

import ast

from tests.conftest import REPO

FORBIDDEN = ("pipecat", "sqlalchemy", "alembic", "fastapi", "callbot.store", "callbot.pipeline",
             "callbot.telephony", "callbot.web", "callbot.analytics", "callbot.devtools", "callbot.speech",
             "callbot.runtime", "callbot.app")


def imported_modules(path):  # noqa: ANN001, ANN201
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_dialog_imports_nothing_from_the_call_machinery_or_the_database():
    offences = [f"{path.relative_to(REPO)}: {module}"
                for path in sorted((REPO / "src/callbot/dialog").rglob("*.py"))
                for module in imported_modules(path)
                if any(module == f or module.startswith(f + ".") for f in FORBIDDEN)]
    assert offences == []
