"""compose.yaml as the tests read it: the YAML itself, and Compose's `${VAR}` interpolation."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.conftest import REPO

COMPOSE = REPO / "compose.yaml"
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error} (Compose's forms).
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def variables(text: str) -> set[str]:
    return {m["name"] for m in VARIABLE.finditer(text)}


def interpolate(value: str, env: dict[str, str]) -> str:
    """What Compose puts in the container for `value`, given the .env file's `env`."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m["name"], m["op"], m["arg"]
        have = env.get(name)
        if op and op.endswith("?") and (have is None or (op == ":?" and have == "")):
            raise KeyError(f"{name}: {arg}")
        if op and op.endswith("-") and (have is None or (op == ":-" and have == "")):
            return arg
        return have or ""

    return VARIABLE.sub(one, value)


def service_environment(service: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {k: interpolate(str(v), env) for k, v in raw.items()}
