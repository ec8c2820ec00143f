"""What callers said that the bot did not understand well enough: caller turns answered by a
fallback, a confirmation or a clarification, grouped by text, then by similarity so that the
wordings of one need end up together (the manager adds them as examples to an intent in flows/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from callbot.analytics import rollups
from callbot.analytics.periods import Period, local_today

UNRECOGNISED_LIMIT = 400  # distinct texts fetched, most frequent first, before fuzzy grouping
SIMILARITY_THRESHOLD = 75.0  # rapidfuzz token-sort ratio from which two wordings are one group


@dataclass
class UtteranceGroup:
    text: str  # the most frequent wording, shown as the group's name
    count: int
    variants: list[tuple[str, int]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    confidence: float | None = None
    intent: str | None = None  # the intent the recogniser leaned to, if any


def unrecognised(
    s: Session,
    period: Period,
    *,
    threshold: float = SIMILARITY_THRESHOLD,
    limit: int = UNRECOGNISED_LIMIT,
    today: date | None = None,
) -> list[UtteranceGroup]:
    """The unrecognised utterances of the period, grouped: read from the daily summaries
    (analytics/rollups.py) plus today's turns."""
    key = (period.services, period.topics)
    rows = rollups.utterance_query(s, period.start, period.end, today or local_today(), limit, key)
    return group_utterances(rows, threshold)


def group_utterances(rows, threshold: float = SIMILARITY_THRESHOLD) -> list[UtteranceGroup]:  # noqa: ANN001
    """Rows (text, count, reason, action, mean confidence, intent), most frequent first, grouped
    by similarity (rapidfuzz token-sort ratio >= threshold)."""
    from rapidfuzz import fuzz

    groups: list[UtteranceGroup] = []
    weights: list[float] = []
    for t, n, reason, action, conf, intent in rows:
        n = int(n)
        for g in groups:
            if fuzz.token_sort_ratio(t, g.text) >= threshold:
                break
        else:
            g = UtteranceGroup(text=t, count=0)
            groups.append(g)
            weights.append(0.0)
        i = groups.index(g)
        g.count += n
        g.variants.append((t, n))
        if reason and reason not in g.reasons:
            g.reasons.append(reason)
        if action and action not in g.actions:
            g.actions.append(action)
        if intent and not g.intent:
            g.intent = intent
        if conf is not None:
            weights[i] += float(conf) * n
            g.confidence = weights[i] / g.count
    groups.sort(key=lambda g: (-g.count, g.text))
    return groups
