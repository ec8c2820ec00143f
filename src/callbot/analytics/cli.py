"""`callbot stats`: the dashboard's figures on the command line."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from callbot.store.db import Database


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"date attendue au format AAAA-MM-JJ, reçu {value!r}", param_hint=option
        ) from None


def open_database() -> Database:
    """The configured database, migrated."""
    from callbot.config import get_settings
    from callbot.store.db import Database

    db = Database(get_settings().database_url)
    db.migrate()
    return db


def stats(
    from_: str | None = typer.Option(
        None, "--from", help="premier jour (AAAA-MM-JJ, heure locale); défaut : le premier appel enregistré"
    ),
    to: str | None = typer.Option(
        None, "--to", help="dernier jour inclus (AAAA-MM-JJ); défaut : aujourd'hui"
    ),
    service: list[str] = typer.Option([], "--service", help="ne compter que ce service (répétable)"),
    topic: list[str] = typer.Option([], "--topic", help="ne compter que ce sujet (répétable)"),
    as_json: bool = typer.Option(False, "--json", help="sortie JSON"),
) -> None:
    """Statistics of the calls for a period, the same figures as the managers' dashboard."""
    from callbot.analytics.exports import as_json as figures_json
    from callbot.analytics.figures import REASON_LABELS, compute, first_call_day
    from callbot.analytics.periods import Period, local_day
    from callbot.config import get_settings

    db = open_database()
    today = local_day(get_settings().clock())
    end = _day(to, "--to") or today
    with db.session() as s:
        start = _day(from_, "--from") or first_call_day(s) or end
        try:
            period = Period(start, end, tuple(service), tuple(topic))
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--from/--to") from None
        figures = compute(s, period, today)
    data = figures_json(figures)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    pct = f"{data['containment'] * 100:.1f} %" if data["containment"] is not None else "—"
    lines = [
        f"Période du {period.start:%d/%m/%Y} au {period.end:%d/%m/%Y}",
        f"Appels : {data['calls']}",
        f"Résolus par le bot : {data['resolved_by_bot']} ({pct})",
        f"Orientés vers un autre organisme : {data['oriented']}",
        *(f"  - {k} : {v}" for k, v in data["oriented_by_kind"].items()),
        f"Transférés : {data['transferred']}",
        *(f"  - {REASON_LABELS.get(k, k)} : {v}" for k, v in data["transfers_by_reason"].items()),
        f"Rappels demandés : {data['callbacks']}",
        f"Abandonnés : {data['abandoned']} (avant réponse {data['abandoned_before_answer']}, "
        f"en file d'attente {data['abandoned_in_queue']})",
        f"Pic d'appels simultanés : {data['peak_simultaneous']}",
        "Sujets les plus fréquents :",
        *(f"  - {t['topic']} : {t['calls']}" for t in data["top_topics"][:10]),
    ]
    typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)
