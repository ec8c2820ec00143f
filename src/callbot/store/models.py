"""Database schema (SQLAlchemy 2). Migrations in ``migrations/`` must follow every change here."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from callbot.vocabulary import CallbackStatus, Outcome


class Base(DeclarativeBase):
    pass


# A call still waiting in a human queue: nobody took it and Twilio reported no queue result yet.
WAITING_SQL = "picked_up_at IS NULL AND queue_result IS NULL"


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    stream_sid: Mapped[str | None] = mapped_column(String(64))
    # GDPR minimisation: a keyed hash to count repeat callers, and a masked form for display.
    caller_hash: Mapped[str | None] = mapped_column(String(64))
    caller_masked: Mapped[str | None] = mapped_column(String(32))
    called_number: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(24), default=Outcome.IN_PROGRESS, index=True)
    topic: Mapped[str | None] = mapped_column(String(40))
    intent: Mapped[str | None] = mapped_column(String(80))
    service: Mapped[str | None] = mapped_column(String(60))
    summary: Mapped[str | None] = mapped_column(Text)
    transfer_kind: Mapped[str | None] = mapped_column(String(10))  # "queue" | "dial"
    transfer_target: Mapped[str | None] = mapped_column(String(80))
    transfer_reason: Mapped[str | None] = mapped_column(String(24))
    # Human queue lifecycle (filled by Twilio callbacks and the agents' console).
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    picked_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    picked_up_by: Mapped[str | None] = mapped_column(String(80))
    queue_result: Mapped[str | None] = mapped_column(String(24))  # bridged, hangup, ...
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)

    turns: Mapped[list[Turn]] = relationship(
        back_populates="call", order_by="Turn.seq", cascade="all, delete-orphan"
    )
    events: Mapped[list[CallEvent]] = relationship(
        back_populates="call", order_by="CallEvent.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_calls_outcome_started", "outcome", "started_at"),
        # Dashboard filters (migration 0003_dashboard).
        Index("ix_calls_service_started", "service", "started_at"),
        Index("ix_calls_topic_started", "topic", "started_at"),
        # The agents' waiting list (migration 0006_console_indexes): only calls still in a queue.
        Index("ix_calls_waiting", "queued_at", sqlite_where=text(WAITING_SQL),
              postgresql_where=text(WAITING_SQL)),
    )


class Turn(Base):
    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(8))  # "caller" | "bot"
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    intent: Mapped[str | None] = mapped_column(String(80))
    topic: Mapped[str | None] = mapped_column(String(40))
    confidence: Mapped[float | None] = mapped_column(Float)
    action: Mapped[str | None] = mapped_column(String(24))
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    # Caller turns: end of caller speech → first bot audio (ms), and recogniser time.
    response_ms: Mapped[float | None] = mapped_column(Float)
    asr_ms: Mapped[float | None] = mapped_column(Float)
    via_dtmf: Mapped[bool] = mapped_column(Boolean, default=False)

    call: Mapped[Call] = relationship(back_populates="turns")

    # Dashboard: latency and unrecognised utterances per period (migration 0003_dashboard).
    __table_args__ = (Index("ix_turns_at", "at"), Index("ix_turns_action_at", "action", "at"))


class CallEvent(Base):
    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict | None] = mapped_column(JSON)

    call: Mapped[Call] = relationship(back_populates="events")


class Callback(Base):
    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The one place a full number is kept: agents need it to call back. Erased by retention.
    number: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default=CallbackStatus.TODO, index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    assigned_to: Mapped[str | None] = mapped_column(String(80))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)

    # The agents' callbacks list: one status oldest first, or by number (migration 0006_console_indexes).
    __table_args__ = (
        Index("ix_callbacks_status_created", "status", "created_at"),
        Index("ix_callbacks_number", "number"),
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # "agent" | "manager"
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DailyRollup(Base):
    """State of one Paris calendar day's dashboard summaries (migrations 0004, 0005). Triggers on
    calls, turns and callbacks set `stale` when a row of that day changes; see analytics/rollups.py.
    `purged` (migration 0009): the retention purge emptied the day; its stored figures are final."""

    __tablename__ = "daily_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    utc_lo: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    utc_hi: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stale: Mapped[bool] = mapped_column(Boolean, default=True)
    built_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    format: Mapped[int | None] = mapped_column(Integer)  # of the summaries: another one is rebuilt
    purged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class _DayKey:
    """One local calendar day of the commune and filter key: service and topic NULL = all calls; one of
    them set = that service or topic; both = that pair."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    service: Mapped[str | None] = mapped_column(String(60))
    topic: Mapped[str | None] = mapped_column(String(40))


class DailySlice(_DayKey, Base):
    """Figures of one day for one filter key (0005_rollup_slices): service and topic NULL = all
    calls; one of them set = that service or topic; both = that pair. JSON: analytics/day_summary.py."""

    __tablename__ = "daily_slices"

    figures: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_daily_slices_key", "service", "topic", "day"),)


class DailyUtterance(_DayKey, Base):
    """Unrecognised caller wordings of one day and filter key (as DailySlice), grouped by
    lower(trim(text)) (0004_daily_rollups, 0005_rollup_slices)."""

    __tablename__ = "daily_utterances"

    text: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(String(24))
    intent: Mapped[str | None] = mapped_column(String(80))
    confidence_sum: Mapped[float | None] = mapped_column(Float)
    confidence_n: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_daily_utterances_key", "service", "topic", "day"),)


class ConsoleSession(Base):
    """One logged-in console session (0008_audit_log): the cookie carries a random token, the table
    its hash. Logout deletes the row; a password change or a disabled account deletes them all."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuditEntry(Base):
    """Who did what to personal data (0008_audit_log): store/audit.py writes and reads it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_log_actor_at", "actor", "at"),)


class LoginFailure(Base):
    """Failed console logins of one account name or client address (0008_audit_log), shared by
    every server process: web/throttle.py locks a key once it fails too often. Times are epoch
    seconds; rows idle for a day are dropped."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # sha256 of "u:name" / "ip:address"
    count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[float] = mapped_column(Float, default=0.0)
    last_failure: Mapped[float] = mapped_column(Float, index=True)
