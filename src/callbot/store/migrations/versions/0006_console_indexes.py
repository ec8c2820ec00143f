"""console indexes: the calls still waiting in a queue, callbacks by status and age, by number

Revision ID: 0006_console_indexes
Revises: 0005_rollup_slices

- `ix_calls_waiting`: a partial index over the few calls still in a human queue (no pickup, no
  queue result), in queue order: the agents' home reads it on every refresh, and at a million
  calls the other indexes made it walk every transferred call.
- `ix_callbacks_status_created`: the callbacks list of one status (default "à rappeler"), oldest
  first, is read straight from the index instead of sorting that status's rows.
- `ix_callbacks_number`: the list sorted by number, and erasing one caller's requests.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_console_indexes"
down_revision = "0005_rollup_slices"
branch_labels = None
depends_on = None

WAITING = sa.text("picked_up_at IS NULL AND queue_result IS NULL")


def upgrade() -> None:
    op.create_index("ix_calls_waiting", "calls", ["queued_at"], sqlite_where=WAITING,
                    postgresql_where=WAITING)
    op.create_index("ix_callbacks_status_created", "callbacks", ["status", "created_at"])
    op.create_index("ix_callbacks_number", "callbacks", ["number"])


def downgrade() -> None:
    op.drop_index("ix_callbacks_number", table_name="callbacks")
    op.drop_index("ix_callbacks_status_created", table_name="callbacks")
    op.drop_index("ix_calls_waiting", table_name="calls")
