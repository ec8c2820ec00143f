"""`callbot purge`, `erase` and `access`: retention limits, erasure and access requests (GDPR)."""

from __future__ import annotations

import json

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
    _say_recomputed(erased.utterance_days)


def _say_recomputed(days: int) -> None:
    if days:
        typer.echo(f"{days} jours de statistiques seront recalculés sans ces données à la prochaine lecture")


def erase(number: str = typer.Argument(..., help="the resident's number, in any written form "
                                                 "(+33612345678, 0612345678, 06 12 34 56 78)")) -> None:
    """Erase every call, transcript, callback request and stored utterance of one phone number."""
    settings = get_settings()
    db = Database(settings.database_url)
    db.migrate()
    erased = erase_caller(db, server_secret(settings), number.strip())
    record(db, cli_actor(), "data.erased", None, calls=erased.calls, callbacks=erased.callbacks)
    typer.echo(f"{erased.calls} appels et {erased.callbacks} demandes de rappel supprimés pour ce numéro")
    _say_recomputed(erased.utterance_days)


def access(number: str = typer.Argument(..., help="the resident's number, in any written form")) -> None:
    """Print, as JSON, everything stored about one phone number (right of access, portability)."""
    from callbot.store.subject_access import personal_data

    settings = get_settings()
    db = Database(settings.database_url)
    db.migrate()
    data = personal_data(db, server_secret(settings), number.strip())
    # Who read a resident's data is itself accountable; the number stays out of the audit log.
    record(db, cli_actor(), "data.accessed", None, calls=len(data.get("calls", [])))
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
