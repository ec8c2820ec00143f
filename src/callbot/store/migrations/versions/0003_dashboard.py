"""dashboard indexes — owned by the dashboard work

Revision ID: 0003_dashboard
Revises: 0002_console
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0003_dashboard"
down_revision = "0002_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
