"""audit log, server-side console sessions, login failures

Revision ID: 0008_audit_log
Revises: 0007_redact_stored_words

- `audit_log`: who opened which call transcript, exported what, changed a callback, erased or
  purged what, added or disabled an account (store/audit.py).
- `console_sessions`: one row per logged-in session (the hash of the cookie's token), so logout,
  a password change or a disabled account end sessions on the server, not only in the browser.
- `login_failures`: failed logins per account name and client address, shared by every server
  process, so that login throttling holds whichever process answers.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_audit_log"
down_revision = "0007_redact_stored_words"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(200)),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor", "at"])
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])
    op.create_index("ix_console_sessions_created_at", "console_sessions", ["created_at"])
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.Float, nullable=False),
        sa.Column("last_failure", sa.Float, nullable=False),
    )
    op.create_index("ix_login_failures_last_failure", "login_failures", ["last_failure"])


def downgrade() -> None:
    op.drop_table("login_failures")
    op.drop_table("console_sessions")
    op.drop_table("audit_log")
