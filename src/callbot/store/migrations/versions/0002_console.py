"""agents' console (users, callbacks, pickup) — owned by the console work

Revision ID: 0002_console
Revises: 0001_initial
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0002_console"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
