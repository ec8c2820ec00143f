"""`callbot purge` and `callbot erase`: retention limits and erasure requests (GDPR)."""

from __future__ import annotations

import typer

from callbot.config import get_settings, server_secret
from callbot.store.audit import cli_actor, prune, record
from callbot.store.db import Database
from callbot.store.retention import erase_caller, purge_older_than


def purge(days: int | None = typer.Option(None, help="keep this many days (CALLBOT_RETENTION_DAYS)")) -> None:
    """Delete calls, transcripts and callback requests older than the retention period."""
    settings = get_settings()
    db = Database(settings.database_url)
    db.migrate()
    keep = days or settings.retention_days
    erased = purge_older_than(db, keep)
    record(db, cli_actor(), "data.purged", f"{keep} jours", calls=erased.calls, callbacks=erased.callbacks,
           audit_entries=prune(db, settings.audit_retention_days))
    typer.echo(f"{erased.calls} appels et {erased.callbacks} demandes de rappel "
               f"de plus de {keep} jours supprimés")


def erase(number: str = typer.Argument(..., help="the resident's number, as Twilio sends it (+33…)")) -> None:
    """Erase every call and callback request of one phone number (right to erasure)."""
    settings = get_settings()
    db = Database(settings.database_url)
    db.migrate()
    erased = erase_caller(db, server_secret(settings), number.strip())
    record(db, cli_actor(), "data.erased", None, calls=erased.calls, callbacks=erased.callbacks)
    typer.echo(f"{erased.calls} appels et {erased.callbacks} demandes de rappel supprimés pour ce numéro")
