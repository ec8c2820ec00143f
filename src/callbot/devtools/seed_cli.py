"""`callbot seed`: synthetic call history for demos and benchmarks."""

from __future__ import annotations

from datetime import datetime, timedelta

import typer


def seed(
    calls: int = typer.Option(..., "--calls", min=0, help="nombre d'appels synthétiques à créer"),
    days: int = typer.Option(
        365, "--days", min=1, help="répartis sur ce nombre de jours jusqu'à aujourd'hui"
    ),
    seed_: int = typer.Option(1, "--seed", help="graine du générateur (même graine, même historique)"),
) -> None:
    """Fill the database with realistic synthetic calls (marked synthetic) for demos and benchmarks."""
    from callbot.analytics.cli import open_database
    from callbot.config import get_settings
    from callbot.devtools.seed import seed as run_seed

    db = open_database()
    now = get_settings().clock()
    end = now if isinstance(now, datetime) else datetime.now() + timedelta(0)
    result = run_seed(db.engine, calls, days=days, seed=seed_, end=end)
    typer.echo(
        f"{result.calls} appels synthétiques, {result.turns} tours de parole, "
        f"{result.callbacks} rappels créés en {result.seconds:.1f} s "
        f"(résumés quotidiens du tableau de bord : {result.rollup_seconds:.1f} s)."
    )


def register(app: typer.Typer) -> None:
    app.command("seed")(seed)
