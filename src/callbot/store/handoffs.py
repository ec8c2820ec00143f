"""Calls handed to people: who is waiting in which queue, pickup, queue results, history search.

All functions are synchronous (run them in a thread from async code) and read or write the
database only; the caller publishes the live event that tells pages to look again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from callbot.store.db import Database
from callbot.store.models import Call, CallEvent
from callbot.store.paging import Page, in_key_order, read_page
from callbot.vocabulary import Outcome, local_tz, topic_label, topic_labels

LOCAL_TZ = local_tz()  # the commune's (flows/), read once at import

REASON_LABELS = {
    "asked_agent": "a demandé un agent",
    "misunderstanding": "le robot n'a pas compris",
    "no_input": "pas de réponse de l'appelant",
    "out_of_scope": "demande hors du champ du robot",
    "emergency": "urgence",
    "topic": "sujet traité par un agent",
    "bot_fault": "incident du robot, transféré par sécurité",
    "time_limit": "durée maximale de l'appel atteinte",
    "overload": "robot saturé ou en arrêt, transféré directement",
}

OUTCOME_LABELS = {
    Outcome.IN_PROGRESS: "en cours",
    Outcome.RESOLVED: "résolu par le robot",
    Outcome.TRANSFERRED: "transféré",
    Outcome.CALLBACK: "rappel demandé",
    Outcome.ENDED_NO_AGENT: "fin sans agent disponible",
    Outcome.ABANDONED: "abandonné",
    Outcome.INTERRUPTED: "interrompu (arrêt du serveur)",
}

QUEUE_RESULT_LABELS = {
    "bridged": "mis en relation",
    "bridging-in-process": "mise en relation en cours",
    "hangup": "a raccroché en attente",
    "queue-full": "file pleine",
    "system-error": "erreur du système",
    "error": "erreur",
    "redirected": "redirigé",
    "leave": "sorti de la file",
}
QUEUE_RESULTS = tuple(QUEUE_RESULT_LABELS)


@dataclass
class TurnLine:
    speaker: str  # "caller" | "bot"
    text: str
    at: datetime


@dataclass
class HandoffView:
    """One transferred call as an agent sees it."""

    call_sid: str
    queue: str | None
    started_at: datetime
    queued_at: datetime | None
    picked_up_at: datetime | None
    picked_up_by: str | None
    queue_result: str | None
    outcome: str
    topic: str | None
    intent: str | None
    summary: str | None
    reason: str | None
    caller_masked: str | None
    turns: list[TurnLine] = field(default_factory=list)

    @property
    def topic_label(self) -> str | None:
        return topic_label(self.topic)

    @property
    def reason_label(self) -> str | None:
        return REASON_LABELS.get(self.reason or "", self.reason)

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome, self.outcome)

    @property
    def queue_result_label(self) -> str | None:
        return QUEUE_RESULT_LABELS.get(self.queue_result or "", self.queue_result)

    def wait_secs(self, now: datetime) -> float | None:
        if self.queued_at is None:
            return None
        end = self.picked_up_at or now
        return max(0.0, (end - self.queued_at).total_seconds())

    @property
    def headline(self) -> str:
        """The subject as a title: "Demande de passeport"."""
        s = self.subject
        return s[:1].upper() + s[1:]

    @property
    def subject(self) -> str:
        """What the call is about, as a short French phrase ("demande de passeport")."""
        return subject_of(self.summary, self.topic, self.reason)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; everything is stored as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def subject_of(summary: str | None, topic: str | None, reason: str | None) -> str:
    if summary:
        first = summary.strip().split(". ")[0].rstrip(".")
        if len(first) > 90:
            first = first[:87].rsplit(" ", 1)[0] + "…"
        # "Demande de passeport" → "demande de passeport" inside a sentence (keep acronyms).
        if len(first) > 1 and first[0].isupper() and not first[1].isupper():
            first = first[0].lower() + first[1:]
        return first
    if topic and topic in topic_labels():
        return topic_labels()[topic]
    if reason and reason in REASON_LABELS:
        return REASON_LABELS[reason]
    return "demande non précisée"


def _view(call: Call, *, with_turns: bool) -> HandoffView:
    turns = [TurnLine(t.speaker, t.text, _aware(t.at)) for t in call.turns] if with_turns else []
    return HandoffView(
        call_sid=call.call_sid, queue=call.transfer_target if call.transfer_kind == "queue" else None,
        started_at=_aware(call.started_at), queued_at=_aware(call.queued_at),
        picked_up_at=_aware(call.picked_up_at), picked_up_by=call.picked_up_by,
        queue_result=call.queue_result,
        outcome=call.outcome, topic=call.topic, intent=call.intent, summary=call.summary,
        reason=call.transfer_reason, caller_masked=call.caller_masked, turns=turns,
    )


def _waiting_filter():  # noqa: ANN202
    return (
        (Call.outcome == Outcome.TRANSFERRED) & (Call.transfer_kind == "queue") & Call.queued_at.is_not(None)
        & Call.picked_up_at.is_(None) & Call.queue_result.is_(None)
    )


def waiting_calls(db: Database) -> list[HandoffView]:
    """Calls waiting in a human queue, longest wait first, with their transcripts."""
    with db.session() as s:
        calls = s.scalars(select(Call).where(_waiting_filter()).options(selectinload(Call.turns))
                          .order_by(Call.queued_at, Call.id)).all()
        return [_view(c, with_turns=True) for c in calls]


def recent_handled(db: Database, limit: int = 10) -> list[HandoffView]:
    """Queued calls that left the queue (taken, bridged or abandoned), most recent first."""
    with db.session() as s:
        calls = s.scalars(
            select(Call).where((Call.transfer_kind == "queue") & Call.queued_at.is_not(None)
                               & (Call.picked_up_at.is_not(None) | Call.queue_result.is_not(None)))
            .order_by(Call.queued_at.desc(), Call.id.desc()).limit(limit)
        ).all()
        return [_view(c, with_turns=False) for c in calls]


def get_handoff(db: Database, call_sid: str) -> HandoffView | None:
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == call_sid).options(selectinload(Call.turns)))
        return _view(call, with_turns=True) if call is not None else None


@dataclass
class TakeResult:
    found: bool
    taken_by: str | None = None  # who has it now
    newly_taken: bool = False
    view: HandoffView | None = None


def take_call(db: Database, call_sid: str, agent: str, *, at: datetime | None = None) -> TakeResult:
    """Mark a call as taken by `agent`. The first taker wins; later attempts report who has it."""
    now = at or datetime.now(UTC)
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == call_sid).with_for_update())
        if call is None:
            return TakeResult(found=False)
        if call.picked_up_at is not None:
            return TakeResult(found=True, taken_by=call.picked_up_by, view=_view(call, with_turns=False))
        call.picked_up_at = now
        call.picked_up_by = agent[:80]
        s.add(CallEvent(call_id=call.id, at=now, kind="queue.taken", data={"by": agent[:80]}))
        return TakeResult(found=True, taken_by=call.picked_up_by, newly_taken=True,
                          view=_view(call, with_turns=False))


def release_call(db: Database, call_sid: str, agent: str, *, force: bool = False) -> bool:
    """Put a call taken by mistake back in the waiting list (its taker, or `force` for a manager).

    Only while the caller is still in the queue (no queue result yet). True if released."""
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == call_sid).with_for_update())
        if call is None or call.picked_up_at is None or call.queue_result is not None:
            return False
        if call.picked_up_by != agent and not force:
            return False
        call.picked_up_at = None
        call.picked_up_by = None
        s.add(CallEvent(call_id=call.id, at=datetime.now(UTC), kind="queue.released",
                        data={"by": agent[:80]}))
        return True


def record_queue_result(db: Database, call_sid: str, result: str, queue_time_secs: int | None) -> bool:
    """Store how the caller left the queue (Twilio's QueueResult / QueueTime). False if unknown call."""
    now = datetime.now(UTC)
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == call_sid))
        if call is None:
            return False
        call.queue_result = result[:24]
        if call.queued_at is None and queue_time_secs is not None:
            call.queued_at = now - timedelta(seconds=queue_time_secs)
        if result == "bridged" and call.picked_up_at is None:
            # No whisper reached us: the bridge happened QueueTime seconds after queuing.
            queued = _aware(call.queued_at)
            call.picked_up_at = queued + timedelta(seconds=queue_time_secs or 0) if queued else now
        if call.ended_at is None or result == "hangup":
            call.ended_at = call.ended_at or now
        s.add(CallEvent(call_id=call.id, at=now, kind="queue.result",
                        data={"result": result[:24], "queue_time": queue_time_secs}))
        return True


def queue_position(db: Database, call_sid: str) -> int | None:
    """1-based position among the calls waiting in the same queue (None if not waiting)."""
    with db.session() as s:
        call = s.scalar(select(Call).where(Call.call_sid == call_sid))
        if call is None or call.queued_at is None:
            return None
        ahead = s.scalars(select(Call.id).where(
            _waiting_filter() & (Call.transfer_target == call.transfer_target)
            & ((Call.queued_at < call.queued_at) | ((Call.queued_at == call.queued_at) & (Call.id < call.id)))
        )).all()
        return len(ahead) + 1


@dataclass
class SearchFilters:
    day_from: date | None = None
    day_to: date | None = None
    topic: str | None = None
    only_transferred: bool = False


def _utc_midnight(day: date) -> datetime:
    # Compared in UTC: SQLite keeps the wall-clock digits of what was stored (always UTC here).
    return datetime.combine(day, time(), LOCAL_TZ).astimezone(UTC)


HISTORY_COUNT_CAP = 10_000  # beyond this the agent narrows by dates: counting a million rows costs


def search_calls(db: Database, filters: SearchFilters, *, page: int = 1, size: int = 50) -> Page[HandoffView]:
    """One page of calls between two days (local time, inclusive) on a topic, most recent first;
    counted up to HISTORY_COUNT_CAP."""
    keys = select(Call.id)
    if filters.day_from:
        keys = keys.where(Call.started_at >= _utc_midnight(filters.day_from))
    if filters.day_to:
        keys = keys.where(Call.started_at < _utc_midnight(filters.day_to + timedelta(days=1)))
    if filters.topic:
        keys = keys.where(Call.topic == filters.topic)
    if filters.only_transferred:
        keys = keys.where(Call.outcome == Outcome.TRANSFERRED)
    keys = keys.order_by(Call.started_at.desc(), Call.id.desc())
    with db.session() as s:
        ids, number, total, more = read_page(s, keys, page, size, HISTORY_COUNT_CAP)
        calls = s.scalars(select(Call).where(Call.id.in_(ids))).all() if ids else []
        items = [_view(call, with_turns=False) for call in in_key_order(ids, calls, lambda c: c.id)]
        return Page(items, number, size, total, more)
