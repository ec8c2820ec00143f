"""Fixtures of the dialog tests: the demo flows and the real NLU, built once per session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callbot.dialog.engine import DialogEngine, make_nlu
from callbot.dialog.flows import Flows, load_flows

REPO = Path(__file__).resolve().parents[2]
FLOWS_DIR = REPO / "flows"
PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


@pytest.fixture(scope="session")
def demo_flows() -> Flows:
    return load_flows(FLOWS_DIR)


@pytest.fixture(scope="session")
def demo_nlu(demo_flows: Flows):  # noqa: ANN201
    return make_nlu(demo_flows)


@pytest.fixture
def engine_at(demo_flows: Flows, demo_nlu) -> Callable[[str], DialogEngine]:  # noqa: ANN001
    """An engine of the demo commune whose clock is pinned at an ISO local time."""

    def make(when: str) -> DialogEngine:
        now = at(when)
        return DialogEngine(demo_flows, demo_nlu, lambda: now)

    return make
