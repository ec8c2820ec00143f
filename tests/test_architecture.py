"""The house rules of ARCHITECTURE.md, checked on the source: which room may import which, no
import cycle between rooms, no module over 500 lines without a written reason.

Imports are read with `ast` (function-level imports included: a lazy import is still a
dependency), so the rules hold for code paths no other test happens to run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "callbot"
MAX_LINES = 500
# A module may be longer when its docstring says why, with these words.
LONG_REASON = "Longer than 500 lines because"

# Room → the rooms it may import (besides itself). The top-level assembly (app, runtime, cli)
# may import every room; no room imports the assembly, except `config`/`logs`, which are leaves.
ALLOWED: dict[str, set[str]] = {
    "vocabulary": set(),
    "config": set(),
    "logs": set(),
    "metrics": set(),
    "speech": {"config", "vocabulary"},
    "dialog": {"config", "vocabulary"},
    "store": {"config", "vocabulary"},
    "analytics": {"config", "store", "vocabulary"},
    "pipeline": {"config", "dialog", "speech", "store", "vocabulary", "runtime", "metrics"},
    "telephony": {"config", "pipeline", "store", "vocabulary", "runtime", "app_deps", "metrics"},
    "web": {"config", "analytics", "store", "vocabulary", "runtime", "app_deps"},
    "app_deps": {"config", "runtime", "store"},
    "devtools": {"config", "dialog", "speech", "store", "analytics", "vocabulary"},
    "runtime": {"config", "dialog", "speech", "store", "vocabulary", "devtools"},
    "app": {"*"},
    "cli": {"*"},
}
# Third-party packages a room must not touch: the dialog decides, it neither carries audio nor
# stores rows; the store and analytics know nothing of calls in progress.
FORBIDDEN_PACKAGES: dict[str, set[str]] = {
    "dialog": {"pipecat", "sqlalchemy", "fastapi", "twilio"},
    "store": {"pipecat", "fastapi"},
    "analytics": {"pipecat", "fastapi"},
    "speech": {"fastapi", "sqlalchemy", "twilio"},
    "vocabulary": {"pipecat", "sqlalchemy", "fastapi"},
}
# The one named test seam production code may reach in devtools/ (CALLBOT_ASR_SCRIPT).
SEAMS = {("runtime", "callbot.devtools.scripted_recognizer")}


def room_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        if ".migrations." in name:
            continue  # Alembic's scripts: frozen history, run by Alembic only
        out[name] = path
    return out


def imports_of(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            # `from callbot.x import y` may name a submodule y
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def room_graph() -> dict[str, dict[str, set[str]]]:
    """room → imported room → the modules that make the edge (for the failure message)."""
    graph: dict[str, dict[str, set[str]]] = {}
    mods = modules()
    for name, path in mods.items():
        src_room = room_of(name)
        for imported in imports_of(name, path):
            if not imported.startswith("callbot."):
                continue
            if imported not in mods and imported.rsplit(".", 1)[0] not in mods:
                continue
            dst_room = room_of(imported if imported in mods else imported.rsplit(".", 1)[0])
            if dst_room != src_room:
                graph.setdefault(src_room, {}).setdefault(dst_room, set()).add(f"{name} → {imported}")
    return graph


def test_every_room_imports_only_what_it_may() -> None:
    bad = []
    for src_room, edges in room_graph().items():
        allowed = ALLOWED.get(src_room)
        assert allowed is not None, f"room {src_room!r} is not declared in ARCHITECTURE.md / this test"
        if "*" in allowed:
            continue
        for dst_room, why in edges.items():
            why = {w for w in why if (src_room, w.split(" → ")[1]) not in SEAMS}
            if why and dst_room not in allowed:
                bad.append(f"{src_room} may not import {dst_room}: {sorted(why)}")
    assert not bad, "\n".join(bad)


def test_no_import_cycle_between_rooms() -> None:
    graph = {room: set(edges) for room, edges in room_graph().items()}
    for room in ("app", "cli"):  # the assembly sits above every room
        graph.pop(room, None)
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycles.append(" → ".join(path[path.index(nxt):] + [nxt]))
            elif len(path) < 12:
                visit(nxt, path + [nxt])

    for room in sorted(graph):
        visit(room, [room])
    assert not cycles, "import cycles between rooms:\n" + "\n".join(sorted(set(cycles)))


def test_no_room_imports_another_rooms_private_names() -> None:
    bad = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("callbot."):
                if room_of(node.module) == room_of(name):
                    continue
                bad += [f"{name} imports {node.module}.{a.name}" for a in node.names
                        if a.name.startswith("_") and not a.name.startswith("__")]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("room", sorted(FORBIDDEN_PACKAGES))
def test_rooms_keep_out_of_other_trades(room: str) -> None:
    bad = []
    for name, path in modules().items():
        if room_of(name) != room:
            continue
        for imported in imports_of(name, path):
            if imported.split(".")[0] in FORBIDDEN_PACKAGES[room]:
                bad.append(f"{name} imports {imported}")
    assert not bad, "\n".join(sorted(set(bad)))


def test_no_module_over_500_lines_without_a_reason() -> None:
    long = []
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_LINES and LONG_REASON not in (ast.get_docstring(ast.parse(text)) or ""):
            long.append(f"{name}: {lines} lines")
    assert not long, "split these modules or say why at their top:\n" + "\n".join(long)


def test_the_rule_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: a dialog module importing the database is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from callbot.store.models import Call\n    return Call\n")
    assert "callbot.store.models" in imports_of("callbot.dialog.bad", bad)
    assert room_of("callbot.store.models") == "store" not in ALLOWED["dialog"]
