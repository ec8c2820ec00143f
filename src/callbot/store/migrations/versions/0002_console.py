"""agents' console: index the human queue (waiting calls are looked up on every live update)

Revision ID: 0002_console
Revises: 0001_initial
"""
from alembic import op

revision = "0002_console"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_queued_at"), ["queued_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_queued_at"))
