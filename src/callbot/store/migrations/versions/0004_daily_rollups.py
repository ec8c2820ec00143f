"""daily rollups for the dashboard: one summary per Paris day, marked stale by triggers

Revision ID: 0004_daily_rollups
Revises: 0003_dashboard

Any insert, update or delete of a call (started_at), a turn (at) or a callback (created_at) marks
the summary of that row's Paris day stale, whoever writes (live calls, queue results arriving
later, the console, retention purges, `callbot seed`, hand-written SQL). The dashboard rebuilds a
stale or missing past day when a page asks for it (src/callbot/analytics/rollups.py).

PostgreSQL: statement-level triggers with transition tables (one statement per COPY batch or ORM
flush, not one per row) upsert the day's row with stale = true. The upsert takes the row lock the
rollup builder also takes (SELECT ... FOR UPDATE), so a build never commits a summary that misses
a change made by a transaction still open while it read.
SQLite: row triggers mark the day whose UTC range holds the row; SQLite has a single writer and the
builder writes first (holding the write lock while it reads), so no change can slip in between.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_daily_rollups"
down_revision = "0003_dashboard"
branch_labels = None
depends_on = None

WATCHED = (("calls", "started_at"), ("turns", "at"), ("callbacks", "created_at"))
OPS = ("insert", "update", "delete")


def _pg_function(table: str, column: str) -> str:
    upsert = (
        "INSERT INTO daily_rollups (day, stale) "
        "SELECT DISTINCT (r.{col} AT TIME ZONE 'Europe/Paris')::date, true FROM {rows} r "
        "WHERE r.{col} IS NOT NULL ORDER BY 1 "
        "ON CONFLICT (day) DO UPDATE SET stale = true WHERE daily_rollups.stale = false;"
    )
    return f"""
CREATE OR REPLACE FUNCTION callbot_rollup_stale_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {upsert.format(col=column, rows="new_rows")}
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {upsert.format(col=column, rows="old_rows")}
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


def _sqlite_trigger(table: str, column: str, kind: str) -> str:
    mark = (
        "UPDATE daily_rollups SET stale = 1 WHERE stale = 0 AND utc_hi > {row}.{col} AND utc_lo = "
        "(SELECT max(utc_lo) FROM daily_rollups WHERE utc_lo <= {row}.{col});"
    )
    rows = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}[kind]
    body = " ".join(mark.format(row=r, col=column) for r in rows)
    return f"CREATE TRIGGER {table}_rollup_{kind} AFTER {kind.upper()} ON {table} BEGIN {body} END"


def upgrade() -> None:
    op.create_table(
        "daily_rollups",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("utc_lo", sa.DateTime(timezone=True), nullable=True),
        sa.Column("utc_hi", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stale", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("figures", sa.Text(), nullable=True),
        sa.Column("topics", sa.Text(), nullable=True),
    )
    op.create_index("ix_daily_rollups_utc_lo", "daily_rollups", ["utc_lo"])
    op.create_table(
        "daily_utterances",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("action", sa.String(24), nullable=True),
        sa.Column("intent", sa.String(80), nullable=True),
        sa.Column("confidence_sum", sa.Float(), nullable=True),
        sa.Column("confidence_n", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_daily_utterances_day", "daily_utterances", ["day"])
    if op.get_bind().dialect.name == "postgresql":
        for table, column in WATCHED:
            op.execute(_pg_function(table, column))
            for kind in OPS:
                op.execute(_pg_trigger(table, kind))
    else:
        for table, column in WATCHED:
            for kind in OPS:
                op.execute(_sqlite_trigger(table, column, kind))


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for table, _ in WATCHED:
        for kind in OPS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_rollup_{kind}" + (f" ON {table}" if pg else ""))
        if pg:
            op.execute(f"DROP FUNCTION IF EXISTS callbot_rollup_stale_{table}()")
    op.drop_index("ix_daily_utterances_day", table_name="daily_utterances")
    op.drop_table("daily_utterances")
    op.drop_index("ix_daily_rollups_utc_lo", table_name="daily_rollups")
    op.drop_table("daily_rollups")
