"""`callbot purge`: delete the personal data older than the retention period, keep the anonymous
per-day figures of the dashboard.

GDPR requires deleting calls, transcripts, callback requests and the caller's words (including
the stored unrecognised wordings, daily_utterances), not the anonymous per-day counts: managers
keep their history (year-on-year comparisons). So the purge works on whole local days:
1. the days it is about to empty are summarised (missing or stale ones rebuilt, as a page would);
2. in one transaction: those days are marked `purged` (final figures, never rebuilt from the raw
   data, which is gone) and their wordings deleted, then the calls, turns, events and callback
   requests are deleted (store/retention.py).
A day that could not be summarised (a lock timeout) is not marked: it is recomputed from what is
left, as before. Slices (daily_slices) hold counts by service and topic id, never caller words.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import typer
from loguru import logger as log
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from callbot.analytics.periods import aware, day_bounds, local_day
from callbot.analytics.rollups import FORMAT, ensure_fresh
from callbot.store.db import Database
from callbot.store.models import Call, Callback, DailyRollup, DailyUtterance
from callbot.store.retention import Erased, KeepFigures, purge_before


def last_purged_day(now: datetime, days: int) -> date:
    """The last local day emptied: the day of the instant `days` days ago, whole (a purge never
    leaves half a day, whose figures would then be rebuilt from the half that is left)."""
    return local_day(aware(now) - timedelta(days=max(days, 1)))


def _first_day(s: Session, cutoff: datetime) -> date | None:
    firsts = [aware(d) for d in (s.scalar(select(func.min(Call.started_at))),
                                 s.scalar(select(func.min(Callback.created_at)))) if d is not None]
    first = min(firsts, default=None)
    return local_day(first) if first is not None and first < cutoff else None


def _keep_figures(first: date | None, last: date) -> KeepFigures:
    def keep(s: Session) -> int:
        # First statement writes: SQLite takes its single write lock, PostgreSQL locks these rows
        # (a concurrent change's trigger waits for the purge, and the day's figures stay final).
        s.execute(delete(DailyUtterance).where(DailyUtterance.day <= last))
        if first is None:  # nothing older than the retention period
            return 0
        kept = s.execute(
            update(DailyRollup)
            .where(DailyRollup.day.between(first, last), DailyRollup.stale.is_(False),
                   DailyRollup.format == FORMAT, DailyRollup.purged.is_(False))
            .values(purged=True)
        ).rowcount or 0
        lost = s.scalar(select(func.count()).select_from(DailyRollup).where(
            DailyRollup.day.between(first, last), DailyRollup.purged.is_(False)))
        if lost:
            log.warning("purge : {} jours n'ont pas pu être résumés, leurs chiffres seront perdus", lost)
        return kept

    return keep


def purge_days(db: Database, days: int, now: datetime) -> Erased:
    """Purge the whole local days of `days` days ago and before, keeping their figures."""
    last = last_purged_day(now, days)
    cutoff = day_bounds(last)[1]
    with db.session() as s:
        first = _first_day(s, cutoff)
        if first is not None:
            ensure_fresh(s, first, last)
    return purge_before(db, cutoff, _keep_figures(first, last))


def purge(days: int | None = typer.Option(None, help="keep this many days (CALLBOT_RETENTION_DAYS)")) -> None:
    """Delete calls, transcripts and callback requests older than the retention period, keeping
    the dashboard's anonymous daily figures."""
    from callbot.analytics.cli import open_database
    from callbot.config import get_settings
    from callbot.store.audit import cli_actor, prune, record

    settings = get_settings()
    db = open_database()
    keep = days or settings.retention_days
    erased = purge_days(db, keep, settings.clock())
    record(db, cli_actor(), "data.purged", f"{keep} jours", calls=erased.calls, callbacks=erased.callbacks,
           audit_entries=prune(db, settings.audit_retention_days))
    typer.echo(f"{erased.calls} appels et {erased.callbacks} demandes de rappel "
               f"de plus de {keep} jours supprimés")
    if erased.utterance_days:
        typer.echo(f"statistiques anonymes de {erased.utterance_days} jours conservées "
                   "(sans les formulations des appelants)")
