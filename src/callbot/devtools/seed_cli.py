"""`callbot seed`: synthetic call history for demos and benchmarks."""

from __future__ import annotations

import typer


def seed(
    calls: int = typer.Option(..., "--calls", min=0, help="nombre d'appels synthétiques à créer"),
    days: int = typer.Option(
        365, "--days", min=1, help="répartis sur ce nombre de jours jusqu'à maintenant (jamais après)"
    ),
    seed_: int = typer.Option(1, "--seed", help="graine du générateur (même graine, même historique)"),
) -> None:
    """Fill the database with realistic synthetic calls (marked synthetic) for demos and benchmarks:
    the flows' own intents and topics, every call ended before now (CALLBOT_NOW pins it)."""
    from callbot.analytics.cli import open_database
    from callbot.config import get_settings
    from callbot.devtools.seed import seed as run_seed
    from callbot.dialog.flows import FlowError

    settings = get_settings()
    db = open_database()
    try:
        result = run_seed(db.engine, calls, days=days, seed=seed_, end=settings.clock(),
                          flows_dir=settings.flows)
    except (FlowError, ValueError) as e:
        typer.echo(f"Erreur : {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"{result.calls} appels synthétiques, {result.turns} tours de parole, "
        f"{result.callbacks} rappels créés en {result.seconds:.1f} s "
        f"(résumés quotidiens du tableau de bord : {result.rollup_seconds:.1f} s)."
    )


def register(app: typer.Typer) -> None:
    app.command("seed")(seed)
