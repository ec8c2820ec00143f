"""The dashboard's figures computed straight from the calls: the reference the daily summaries
(callbot.analytics) are tested against. Independent on purpose: aggregate SQL over the calls and
turns of the period, no stored summary.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from callbot.analytics.figures import Breakdown, DayRow, Figures, Ranked, TimeSeries, peak_simultaneous
from callbot.analytics.histograms import DURATION_BUCKET_S, LATENCY_BUCKET_MS, Distribution, distribution
from callbot.analytics.periods import LOCAL_TZ, Period
from callbot.analytics.sql_expressions import (
    UNSURE_ACTIONS,
    bucket_start,
    call_filters,
    floor_div,
    hour_bucket,
    seconds_between,
)
from callbot.analytics.utterances import UNRECOGNISED_LIMIT, UtteranceGroup, group_utterances
from callbot.store.models import Call, Callback, Turn
from callbot.vocabulary import Outcome


def _is(outcome: str):  # noqa: ANN202
    return func.sum(case((Call.outcome == outcome, 1), else_=0))


def callbacks_requested(s: Session, period: Period) -> int:
    lo, hi = period.bounds()
    q = select(func.count()).select_from(Callback).where(Callback.created_at >= lo, Callback.created_at < hi)
    if period.topics:
        q = q.where(Callback.topic.in_(period.topics))
    if period.services:
        q = q.join(Call, Call.id == Callback.call_id).where(Call.service.in_(period.services))
    return int(s.scalar(q) or 0)


def breakdown(s: Session, period: Period) -> Breakdown:
    hung_up = case((Call.queue_result == "hangup", 1), else_=0).label("hung_up")
    q = (
        select(Call.outcome, Call.transfer_reason, hung_up, Call.satisfaction, func.count())
        .where(*call_filters(period))
        .group_by(Call.outcome, Call.transfer_reason, hung_up, Call.satisfaction)
    )
    return Breakdown(
        [(o, r, bool(h), None if sat is None else int(sat), int(n)) for o, r, h, sat, n in s.execute(q)]
    )


def ranked_topics_and_intents(
    s: Session, period: Period, topic_limit: int = 20, intent_limit: int = 30
) -> tuple[list[Ranked], list[Ranked]]:
    """Topics and intents with their count in this period and the previous one, in one scan."""
    prev_lo, _ = period.previous().bounds()
    lo, _ = period.bounds()
    current = func.sum(case((Call.started_at >= lo, 1), else_=0))
    previous = func.sum(case((Call.started_at < lo, 1), else_=0))
    rows = s.execute(
        select(Call.topic, Call.intent, current, previous)
        .where(*call_filters(period, start=prev_lo), Call.topic.is_not(None) | Call.intent.is_not(None))
        .group_by(Call.topic, Call.intent)
    ).all()
    topics: dict[str, list[int]] = {}
    intents: dict[str, list] = {}
    for topic, intent, cur, prev in rows:
        cur, prev = int(cur or 0), int(prev or 0)
        if topic is not None:
            t = topics.setdefault(topic, [0, 0])
            t[0] += cur
            t[1] += prev
        if intent is not None:
            i = intents.setdefault(intent, [topic, 0, 0])
            i[1] += cur
            i[2] += prev
    ranked_t = sorted((Ranked(k, k, c, p) for k, (c, p) in topics.items()), key=lambda r: (-r.count, r.key))
    ranked_i = sorted(
        (Ranked(k, t, c, p) for k, (t, c, p) in intents.items()), key=lambda r: (-r.count, r.key)
    )
    return ranked_t[:topic_limit], ranked_i[:intent_limit]


def time_series(s: Session, period: Period) -> TimeSeries:
    """Calls per local day and per hour of the week: SQL groups by UTC hour, Python re-labels the
    (at most 24 per day) buckets in local time, which is exact across daylight-saving changes."""
    bucket = hour_bucket(s).label("bucket")
    rows = s.execute(
        select(bucket, func.count(), _is(Outcome.RESOLVED), _is(Outcome.TRANSFERRED), _is(Outcome.ABANDONED))
        .where(*call_filters(period))
        .group_by(bucket)
    ).all()
    days = {
        period.start + timedelta(days=i): DayRow(period.start + timedelta(days=i)) for i in range(period.days)
    }
    heat = [[0] * 24 for _ in range(7)]
    for b, n, res, tr, ab in rows:
        local = bucket_start(b).astimezone(LOCAL_TZ)
        row = days.get(local.date())
        if row is None:
            continue
        row.calls += int(n)
        row.resolved += int(res or 0)
        row.transferred += int(tr or 0)
        row.abandoned += int(ab or 0)
        heat[local.weekday()][local.hour] += int(n)
    return TimeSeries(days=list(days.values()), heatmap=heat)


def _histogram_distribution(s: Session, value, width: float, where: list, join=None) -> Distribution:  # noqa: ANN001
    bucket = floor_div(s, value, width).label("b")
    q = select(bucket, func.count(), func.sum(value)).where(*where, value.is_not(None), value >= 0)
    if join is not None:
        q = q.select_from(join)
    rows = sorted((int(b), int(n), float(total or 0)) for b, n, total in s.execute(q.group_by(bucket)))
    return distribution(rows)


def call_durations(s: Session, period: Period) -> Distribution:
    return _histogram_distribution(
        s, seconds_between(s, Call.started_at, Call.ended_at), DURATION_BUCKET_S, call_filters(period)
    )


def queue_waits(s: Session, period: Period) -> Distribution:
    """Time in the human queue before an agent picked up (calls that were picked up)."""
    return _histogram_distribution(
        s, seconds_between(s, Call.queued_at, Call.picked_up_at), DURATION_BUCKET_S, call_filters(period)
    )


def _turn_filters(period: Period) -> tuple[list, bool]:
    """Caller turns of the period; joins the call only when service/topic filters need it."""
    lo, hi = period.bounds()
    where = [Turn.at >= lo, Turn.at < hi, Turn.speaker == "caller"]
    needs_call = bool(period.services or period.topics)
    if period.services:
        where.append(Call.service.in_(period.services))
    if period.topics:
        where.append(Call.topic.in_(period.topics))
    return where, needs_call


def response_latency(s: Session, period: Period) -> Distribution:
    where, needs_call = _turn_filters(period)
    join = Turn.__table__.join(Call.__table__, Call.id == Turn.call_id) if needs_call else Turn.__table__
    return _histogram_distribution(s, Turn.response_ms, LATENCY_BUCKET_MS, where, join=join)


def unrecognised_live(
    s: Session, period: Period, *, threshold: float = 75.0, limit: int = UNRECOGNISED_LIMIT
) -> list[UtteranceGroup]:
    """The live query over the turns of the period (filters join the calls)."""
    where, needs_call = _turn_filters(period)
    text = func.lower(func.trim(Turn.text)).label("t")
    q = (
        select(
            text,
            func.count(),
            func.max(Turn.fallback_reason),
            func.max(Turn.action),
            func.avg(Turn.confidence),
            func.max(Turn.intent),
        )
        .where(*where, Turn.action.in_(UNSURE_ACTIONS), func.length(func.trim(Turn.text)) > 0)
        .group_by(text)
        .order_by(func.count().desc(), text)
        .limit(limit)
    )
    if needs_call:
        q = q.select_from(Turn.__table__.join(Call.__table__, Call.id == Turn.call_id))
    return group_utterances(s.execute(q), threshold)


def oriented_calls(s: Session, period: Period) -> tuple[int, list[tuple[str, int]]]:
    """Resolved calls of the period with a caller turn that got an outside body's answer (action
    orient or out_of_scope, an intent of topic hors_mairie): in all, and per intent. Walked in Python
    over the calls' turns, not grouped in SQL as the summaries are."""
    rows = s.execute(
        select(Call.id, Call.outcome, Turn.speaker, Turn.action, Turn.topic, Turn.intent)
        .join(Turn, Turn.call_id == Call.id)
        .where(*call_filters(period))
    ).all()
    kinds_of: dict[int, set[str]] = {}
    for call_id, outcome, speaker, action, topic, intent in rows:
        if (outcome == Outcome.RESOLVED and speaker == "caller" and action in ("orient", "out_of_scope")
                and topic == "hors_mairie" and intent):
            kinds_of.setdefault(call_id, set()).add(intent)
    counts: dict[str, int] = {}
    for kinds in kinds_of.values():
        for k in kinds:
            counts[k] = counts.get(k, 0) + 1
    return len(kinds_of), sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def compute_live(s: Session, period: Period) -> Figures:
    """Every figure straight from the calls, in as few scans as possible: one grouped query yields
    the totals, outcomes, transfer reasons and satisfaction; one yields topics and intents with
    their trend. The reference the daily summaries are tested against."""
    b = breakdown(s, period)
    topics, intents = ranked_topics_and_intents(s, period)
    totals = b.totals(callbacks_requested(s, period))
    totals.oriented, kinds = oriented_calls(s, period)
    return Figures(
        period=period,
        totals=totals,
        outcomes=b.outcomes(),
        transfers=b.transfers(),
        series=time_series(s, period),
        peak=peak_simultaneous(s, period),
        topics=topics,
        intents=intents,
        unrecognised=unrecognised_live(s, period),
        durations=call_durations(s, period),
        queue_waits=queue_waits(s, period),
        latency=response_latency(s, period),
        satisfaction=b.satisfaction(),
        oriented_kinds=kinds,
    )

