"""daily_rollups.purged: the anonymous figures of a day whose calls the retention purge deleted

Revision ID: 0009_purged_day_figures
Revises: 0008_audit_log

`callbot purge` builds the summaries of the days it is about to empty, then deletes their calls,
turns, callback requests and stored wordings, and sets `purged` on those days: their per-day
counts (daily_slices, no caller words) are final and never rebuilt from the (now empty) raw data,
whatever the triggers say about `stale` afterwards.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_purged_day_figures"
down_revision = "0008_audit_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER TABLE ADD COLUMN on both databases (no table copy on SQLite).
    purged = sa.Column("purged", sa.Boolean(), nullable=False, server_default=sa.false())
    op.add_column("daily_rollups", purged)


def downgrade() -> None:
    # Native DROP COLUMN (SQLite 3.35+): a batch table copy would trip over the triggers of
    # calls/turns/callbacks that name daily_rollups.
    op.execute("ALTER TABLE daily_rollups DROP COLUMN purged")
