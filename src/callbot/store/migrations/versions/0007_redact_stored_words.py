"""redact stored words: what was stored before redaction existed is masked like what comes now

Revision ID: 0007_redact_stored_words
Revises: 0006_console_indexes

Issue 12: caller turns, the bot turns of callbacks (they repeat the number), call summaries,
callback reasons and the dashboard's stored unrecognised wordings are passed through
`callbot.store.redaction.redact`; callback numbers are written in E.164 so that `callbot erase`
finds them whatever form they were dictated in. Days whose wordings changed are marked stale
(rebuilt, regrouped, on the next dashboard read). Data only: no schema change; no downgrade
(masked words cannot be unmasked).
"""

import sqlalchemy as sa
from alembic import op

from callbot.store.phone import to_e164
from callbot.store.redaction import redact

revision = "0007_redact_stored_words"
down_revision = "0006_console_indexes"
branch_labels = None
depends_on = None

BATCH = 2000


def _rewrite(conn: sa.Connection, select_sql: str, update_sql: str, fix) -> list:  # noqa: ANN001
    """Read (id, value, …) rows in id order, batch by batch; write back those `fix` changes."""
    changed_rows = []
    last = 0
    while True:
        rows = conn.execute(sa.text(select_sql), {"last": last, "n": BATCH}).all()
        if not rows:
            return changed_rows
        last = rows[-1][0]
        fixed = [(r, fix(r[1])) for r in rows if r[1] is not None]
        changed = [(r, v) for r, v in fixed if v != r[1]]
        if changed:
            conn.execute(sa.text(update_sql), [{"id": r[0], "v": v} for r, v in changed])
            changed_rows += [r for r, _ in changed]


def upgrade() -> None:
    conn = op.get_bind()
    _rewrite(conn, "SELECT id, text FROM turns WHERE id > :last "
                   "AND (speaker = 'caller' OR action = 'callback') ORDER BY id LIMIT :n",
             "UPDATE turns SET text = :v WHERE id = :id", redact)
    _rewrite(conn, "SELECT id, summary FROM calls WHERE id > :last ORDER BY id LIMIT :n",
             "UPDATE calls SET summary = :v WHERE id = :id", redact)
    _rewrite(conn, "SELECT id, reason FROM callbacks WHERE id > :last ORDER BY id LIMIT :n",
             "UPDATE callbacks SET reason = :v WHERE id = :id", redact)
    _rewrite(conn, "SELECT id, number FROM callbacks WHERE id > :last ORDER BY id LIMIT :n",
             "UPDATE callbacks SET number = :v WHERE id = :id", lambda n: to_e164(n) or n)
    days = {row[2] for row in _rewrite(
        conn, "SELECT id, text, day FROM daily_utterances WHERE id > :last ORDER BY id LIMIT :n",
        "UPDATE daily_utterances SET text = :v WHERE id = :id", redact)}
    if days:
        conn.execute(sa.text("UPDATE daily_rollups SET stale = :t WHERE day = :d"),
                     [{"t": True, "d": d} for d in days])


def downgrade() -> None:
    pass  # masked words cannot be unmasked
