"""`callbot audit`: the audit log on the command line (who opened, exported, changed, erased what)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

import typer

from callbot.vocabulary import local_tz


def _day_start(value: str | None, option: str, *, next_day: bool = False) -> datetime | None:
    """Midnight of a local day of the commune (the next one for an inclusive end), as aware time."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"date attendue au format AAAA-MM-JJ, reçu {value!r}",
                                 param_hint=option) from None
    if next_day:
        day += timedelta(days=1)
    return datetime.combine(day, time(), tzinfo=local_tz())


def audit(
    from_: str | None = typer.Option(None, "--from", help="premier jour (AAAA-MM-JJ, heure locale)"),
    to: str | None = typer.Option(None, "--to", help="dernier jour inclus (AAAA-MM-JJ)"),
    user: str | None = typer.Option(None, "--user", help="seulement ce compte (ou cli:NOM)"),
    limit: int = typer.Option(1000, min=1, max=100_000, help="nombre maximal d'entrées"),
    as_json: bool = typer.Option(False, "--json", help="sortie JSON (une liste)"),
) -> None:
    """Journal d'audit : consultations de transcriptions, exports, rappels modifiés, effacements."""
    from callbot.config import get_settings
    from callbot.store.audit import entries
    from callbot.store.db import Database

    since = _day_start(from_, "--from")
    until = _day_start(to, "--to", next_day=True)
    db = Database(get_settings().database_url)
    db.migrate()
    rows = entries(db, since=since, until=until, actor=user, limit=limit)
    if as_json:
        typer.echo(json.dumps([e.as_json() for e in rows], ensure_ascii=False))
        return
    if not rows:
        typer.echo("Aucune entrée dans le journal d'audit pour ces critères.")
        return
    tz = local_tz()
    for e in rows:
        at = e.as_json()["at"]
        local = datetime.fromisoformat(at).astimezone(tz).strftime("%d/%m/%Y %H:%M:%S")
        detail = " ".join(f"{k}={v}" for k, v in sorted(e.detail.items()))
        typer.echo(f"{local}  {e.actor:<16}  {e.action:<17}  {e.target or '-'}  {detail}".rstrip())


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
