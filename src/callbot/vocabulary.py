"""The words every room shares: call outcomes, transfer reasons, callback statuses, topics and the
commune's time zone.

This module is neutral ground: the dialog, the database, analytics and the consoles all import
it, and it imports nothing else from callbot. Outcomes and reasons are stored as their string
values, so the enums compare equal to what the database holds.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The repository's flows/ (an editable install, the tests); CALLBOT_FLOWS points elsewhere.
_REPO_FLOWS = Path(__file__).resolve().parents[2] / "flows"
TOPICS_FILE = "topics.yaml"


class Outcome(StrEnum):
    """How a call ended (``calls.outcome``)."""

    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"  # answered by the bot, caller said goodbye or hung up after an answer
    TRANSFERRED = "transferred"  # handed to a queue or a service number
    CALLBACK = "callback"  # a callback request was left (outside opening hours)
    ENDED_NO_AGENT = "ended_no_agent"  # transfer needed but nobody on duty: ended politely
    ABANDONED = "abandoned"  # socket died or caller hung up before any resolution
    INTERRUPTED = "interrupted"  # the server stopped (crash, kill) while the call was in progress


class TransferReason(StrEnum):
    """Why the bot handed a call to people (``calls.transfer_reason``)."""

    ASKED_AGENT = "asked_agent"
    MISUNDERSTANDING = "misunderstanding"
    NO_INPUT = "no_input"
    OUT_OF_SCOPE = "out_of_scope"
    EMERGENCY = "emergency"
    TOPIC = "topic"  # the flow routes this topic to a person
    BOT_FAULT = "bot_fault"  # the bot failed (dialog error, stream ended undecided): people take over
    TIME_LIMIT = "time_limit"  # the call or the caller's speech went past its limit
    OVERLOAD = "overload"  # no room for another bot call (capacity, shutdown): straight to people


class CallbackStatus(StrEnum):
    """Where a callback request stands (``callbacks.status``, French: agents filter by it in URLs)."""

    TODO = "a_rappeler"
    DONE = "rappele"
    UNREACHABLE = "injoignable"
    CLOSED = "clos"


class TopicsError(ValueError):
    """topics.yaml is missing or malformed."""


def topics_file(flows_dir: Path | None = None) -> Path:
    """The topics file of the configured flows (CALLBOT_FLOWS), else the repository's."""
    for path in (_flows_dir(flows_dir), _REPO_FLOWS):
        if (path / TOPICS_FILE).is_file():
            return path / TOPICS_FILE
    raise TopicsError(f"{TOPICS_FILE} introuvable (dans CALLBOT_FLOWS ou {_REPO_FLOWS})")


@lru_cache
def _read(path: Path) -> dict[str, str]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as e:
        raise TopicsError(f"{path}: illisible: {e}") from None
    topics = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(topics, dict) or not topics or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in topics.items()):
        raise TopicsError(f"{path}: attendu `topics:` suivi de lignes `identifiant: libellé`")
    return dict(topics)


def topic_labels(flows_dir: Path | None = None) -> dict[str, str]:
    """Topic id → label, in the file's order."""
    return _read(topics_file(flows_dir))


def topic_ids(flows_dir: Path | None = None) -> tuple[str, ...]:
    return tuple(topic_labels(flows_dir))


def topic_label(topic: str | None, flows_dir: Path | None = None) -> str | None:
    """The label of a topic id (the id itself if unknown, None for no topic)."""
    if not topic:
        return None
    return topic_labels(flows_dir).get(topic, topic)


DEFAULT_TIMEZONE = "Europe/Paris"


def _flows_dir(flows_dir: Path | None) -> Path:
    for base in (flows_dir, os.environ.get("CALLBOT_FLOWS")):
        if base:
            path = Path(base)
            return path if path.is_dir() else path.parent
    return _REPO_FLOWS


@lru_cache
def _timezone_of(flows: Path) -> ZoneInfo:
    """`commune.timezone` of the first top-level flow file that declares a commune."""
    for path in sorted(flows.glob("*.y*ml")):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        except (OSError, yaml.YAMLError):
            continue  # the flow loader reports broken files with their line
        commune = data.get("commune") if isinstance(data, dict) else None
        if isinstance(commune, dict):
            name = commune.get("timezone") or DEFAULT_TIMEZONE
            try:
                return ZoneInfo(str(name))
            except (ZoneInfoNotFoundError, ValueError):
                raise TopicsError(f"{path}: commune.timezone: fuseau horaire inconnu {name!r}") from None
    return ZoneInfo(DEFAULT_TIMEZONE)


def local_tz(flows_dir: Path | None = None) -> ZoneInfo:
    """The commune's time zone (``commune.timezone`` in flows/): days, hours and charts use it."""
    return _timezone_of(_flows_dir(flows_dir))
