"""dashboard summaries per filter: one row per (day, service, topic) key, so filtered pages read summaries

Revision ID: 0005_rollup_slices
Revises: 0004_daily_rollups

A key is what a page can filter on: all calls (service and topic NULL), one service (topic NULL),
one topic (service NULL) or one (service, topic) pair; filters never match a NULL service or topic
(`IN` never does), so NULL is free to mean "any". `daily_slices` holds each key's figures of a day,
`daily_utterances` its unrecognised wordings; `daily_rollups` keeps one row per day: stale flag,
build time and the format the summaries were written in. The 0004 summaries are dropped: pages
rebuild them in the new format (as they rebuild any missing day).

The stale-marking triggers of 0004 are replaced, to cover what the keys add:
- turns and callbacks count under their call's service and topic: changing a call's service or
  topic marks the days of its turns and callbacks (they may fall on another day, after midnight);
- a day's peak counts the previous day's calls still running after midnight: a call marks the next
  day too while it has no end or ends after midnight (0004 missed a late change of such an end).
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0005_rollup_slices"
down_revision = "0004_daily_rollups"
branch_labels = None
depends_on = None

WATCHED = (("calls", "started_at"), ("turns", "at"), ("callbacks", "created_at"))
OPS = ("insert", "update", "delete")


def _day(expr: str) -> str:
    return f"(({expr}) AT TIME ZONE 'Europe/Paris')::date"


def _pg_sources(table: str, column: str, rows: str) -> list[str]:
    """SELECTs of the days a statement's transition table `rows` touches."""
    out = [f"SELECT {_day(f'r.{column}')} FROM {rows} r"]
    if table == "calls":
        out.append(
            f"SELECT {_day('r.started_at')} + 1 FROM {rows} r "
            f"WHERE r.ended_at IS NULL OR {_day('r.ended_at')} > {_day('r.started_at')}"
        )
    return out


def _pg_key_sources() -> list[str]:
    """Days of the turns and callbacks of calls whose service or topic changed (UPDATE only)."""
    changed = (
        "FROM new_rows n JOIN old_rows o ON o.id = n.id {join} "
        "WHERE (n.service, n.topic) IS DISTINCT FROM (o.service, o.topic)"
    )
    return [
        f"SELECT {_day('t.at')} " + changed.format(join="JOIN turns t ON t.call_id = n.id"),
        f"SELECT {_day('c.created_at')} " + changed.format(join="JOIN callbacks c ON c.call_id = n.id"),
    ]


def _pg_upsert(sources: list[str]) -> str:
    # One statement, days in order: concurrent writers lock the days' rows in the same order.
    return (
        "INSERT INTO daily_rollups (day, stale) SELECT DISTINCT d, true FROM ("
        + " UNION ALL ".join(sources)
        + ") AS src(d) WHERE d IS NOT NULL ORDER BY 1 "
        "ON CONFLICT (day) DO UPDATE SET stale = true WHERE daily_rollups.stale = false;"
    )


def _pg_function(table: str, column: str) -> str:
    insert = _pg_upsert(_pg_sources(table, column, "new_rows"))
    update = _pg_sources(table, column, "new_rows") + _pg_sources(table, column, "old_rows")
    if table == "calls":
        update += _pg_key_sources()
    delete = _pg_upsert(_pg_sources(table, column, "old_rows"))
    return f"""
CREATE OR REPLACE FUNCTION callbot_rollup_stale_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {insert}
  ELSIF TG_OP = 'UPDATE' THEN
    {_pg_upsert(update)}
  ELSE
    {delete}
  END IF;
  RETURN NULL;
END $$;
"""


def _pg_trigger(table: str, kind: str) -> str:
    referencing = {
        "insert": "NEW TABLE AS new_rows",
        "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "OLD TABLE AS old_rows",
    }[kind]
    return (
        f"CREATE TRIGGER {table}_rollup_{kind} AFTER {kind.upper()} ON {table} "
        f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION callbot_rollup_stale_{table}()"
    )


# SQLite: a day's row is found by its UTC range (utc_lo, utc_hi); timestamps are UTC text that
# compares in time order. Only stored days are marked: a missing day is built anyway.
_SQLITE_DAY = "(SELECT max(utc_lo) FROM daily_rollups WHERE utc_lo <= {at})"


def _sqlite_mark(at: str) -> str:
    return (
        f"UPDATE daily_rollups SET stale = 1 WHERE stale = 0 AND utc_hi > {at} "
        f"AND utc_lo = {_SQLITE_DAY.format(at=at)};"
    )


def _sqlite_mark_next(row: str) -> str:
    """The day after the call's own, when the call runs past its midnight (or has no end)."""
    return (
        "UPDATE daily_rollups SET stale = 1 WHERE stale = 0 "
        f"AND utc_lo = (SELECT min(utc_lo) FROM daily_rollups WHERE utc_lo > {row}.started_at) "
        f"AND utc_lo <= datetime({row}.started_at, '+25 hours') "
        f"AND ({row}.ended_at IS NULL OR {row}.ended_at >= utc_lo);"
    )


def _sqlite_trigger(table: str, column: str, kind: str) -> str:
    rows = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}[kind]
    body = [_sqlite_mark(f"{r}.{column}") for r in rows]
    if table == "calls":
        body += [_sqlite_mark_next(r) for r in rows]
    return f"CREATE TRIGGER {table}_rollup_{kind} AFTER {kind.upper()} ON {table} BEGIN {' '.join(body)} END"


def _sqlite_key_trigger() -> str:
    """A call's new service or topic: the days of its turns and callbacks."""
    days = (
        "SELECT r.day FROM {t} x, daily_rollups r WHERE x.call_id = NEW.id "
        "AND r.utc_lo = " + _SQLITE_DAY.format(at="x.{col}") + " AND r.utc_hi > x.{col}"
    )
    return (
        "CREATE TRIGGER calls_rollup_keys AFTER UPDATE OF service, topic ON calls "
        "WHEN OLD.service IS NOT NEW.service OR OLD.topic IS NOT NEW.topic BEGIN "
        "UPDATE daily_rollups SET stale = 1 WHERE stale = 0 AND day IN ("
        + days.format(t="turns", col="at")
        + " UNION "
        + days.format(t="callbacks", col="created_at")
        + "); END"
    )


def _drop_triggers(pg: bool) -> None:
    for table, _ in WATCHED:
        for kind in OPS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_rollup_{kind}" + (f" ON {table}" if pg else ""))
        if pg:
            op.execute(f"DROP FUNCTION IF EXISTS callbot_rollup_stale_{table}()")
    if not pg:
        op.execute("DROP TRIGGER IF EXISTS calls_rollup_keys")


def _drop_summaries() -> None:
    op.drop_table("daily_utterances")
    op.drop_table("daily_rollups")


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    _drop_triggers(pg)
    _drop_summaries()
    op.create_table(
        "daily_rollups",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("utc_lo", sa.DateTime(timezone=True), nullable=True),
        sa.Column("utc_hi", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stale", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("format", sa.Integer(), nullable=True),
    )
    op.create_index("ix_daily_rollups_utc_lo", "daily_rollups", ["utc_lo"])
    op.create_table(
        "daily_slices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("service", sa.String(60), nullable=True),
        sa.Column("topic", sa.String(40), nullable=True),
        sa.Column("figures", sa.Text(), nullable=False),
    )
    op.create_index("ix_daily_slices_day", "daily_slices", ["day"])
    op.create_index("ix_daily_slices_key", "daily_slices", ["service", "topic", "day"])
    op.create_table(
        "daily_utterances",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("service", sa.String(60), nullable=True),
        sa.Column("topic", sa.String(40), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("action", sa.String(24), nullable=True),
        sa.Column("intent", sa.String(80), nullable=True),
        sa.Column("confidence_sum", sa.Float(), nullable=True),
        sa.Column("confidence_n", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_daily_utterances_day", "daily_utterances", ["day"])
    op.create_index("ix_daily_utterances_key", "daily_utterances", ["service", "topic", "day"])
    if pg:
        for table, column in WATCHED:
            op.execute(_pg_function(table, column))
            for kind in OPS:
                op.execute(_pg_trigger(table, kind))
    else:
        for table, column in WATCHED:
            for kind in OPS:
                op.execute(_sqlite_trigger(table, column, kind))
        op.execute(_sqlite_key_trigger())


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    _drop_triggers(pg)
    op.drop_table("daily_slices")
    _drop_summaries()
    # Back to 0004's empty summary tables and triggers (its code rebuilds the days it needs).
    path = Path(__file__).with_name("0004_daily_rollups.py")
    spec = importlib.util.spec_from_file_location("callbot_migration_0004", path)
    m0004 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m0004)
    m0004.upgrade()
