"""dashboard indexes: period queries filtered by service or topic, caller turns by time and action

Revision ID: 0003_dashboard
Revises: 0002_console
"""

from alembic import op

revision = "0003_dashboard"
down_revision = "0002_console"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_calls_service_started", "calls", ["service", "started_at"]),
    ("ix_calls_topic_started", "calls", ["topic", "started_at"]),
    ("ix_turns_at", "turns", ["at"]),
    ("ix_turns_action_at", "turns", ["action", "at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
