"""`callbot nlu [TEXT]`: understanding only, offline (contract.md).

With TEXT: one JSON object. Without: JSONL over stdin, one output line per input line, in order,
flushed after each line; empty lines and undecodable bytes still get their line of output.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path

import typer

from callbot.dialog.types import Action, Understanding


def _load_nlu(flows_dir: Path | None):  # noqa: ANN202 - lazy import keeps `callbot --help` fast
    from callbot.config import get_settings
    from callbot.dialog.flows import FlowError, load_flows
    from callbot.dialog.nlu import Nlu

    settings = get_settings()
    path = flows_dir or settings.flows
    try:
        nlu = Nlu.from_flows(load_flows(path))
    except (FlowError, ValueError) as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from e
    today = settings.now.date() if settings.now else None
    return nlu, today


def _read(nlu, text: str, today: date | None) -> dict:  # noqa: ANN001
    try:
        u = nlu.understand(text, today=today)
    except Exception as e:  # noqa: BLE001 - one bad line must not end the stream
        u = Understanding(text, None, None, 0.0, Action.FALLBACK, fallback_reason=f"error: {e}")
    return u.to_json()


def nlu(
    text: str | None = typer.Argument(None, help="une phrase ; sans elle, une phrase par ligne sur stdin"),
    flows: Path | None = typer.Option(None, "--flows", help="répertoire des flows (CALLBOT_FLOWS)"),
    thresholds: bool = typer.Option(False, "--thresholds",
                                    help="affiche les seuils en vigueur (avec nlu_thresholds)"),
) -> None:
    """Compréhension seule : intention, thème, confiance, action et champs, en JSON."""
    engine, today = _load_nlu(flows)
    if thresholds:
        typer.echo(json.dumps(asdict(engine.thresholds), indent=2))
        return
    if text is not None:
        typer.echo(json.dumps(_read(engine, text, today), ensure_ascii=False))
        return
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline=None)
    out = sys.stdout
    for line in stdin:
        out.write(json.dumps(_read(engine, line.rstrip("\r\n"), today), ensure_ascii=False) + "\n")
        out.flush()


def nlu_data(
    out: Path | None = typer.Option(None, "--out", help="écrit aussi les lignes (text, topic…) en JSONL"),
    flows: Path | None = typer.Option(None, "--flows", help="répertoire des flows (CALLBOT_FLOWS)"),
) -> None:
    """Données réelles : fiches « Vos droits et démarches » (npm) → lignes étiquetées, et le modèle de
    thèmes construit et mis en cache (var/nlu/). Code 2 si le paquet manque ou a changé de format."""
    import time
    from collections import Counter

    from callbot.config import get_settings
    from callbot.dialog.flows import FlowError, load_flows
    from callbot.dialog.nlu_data import FichesError, fiches_rows, find_package
    from callbot.dialog.topic_model import load_or_build, split_label

    try:
        rows = fiches_rows()
        loaded = load_flows(flows or get_settings().flows)
    except (FichesError, FlowError) as e:
        typer.echo(f"erreur : {e}", err=True)
        raise typer.Exit(2) from e
    counts = Counter(r.label for r in rows)
    typer.echo(f"{find_package()}: {len(rows)} lignes de {len({r.sheet for r in rows})} fiches")
    for label, n in counts.most_common():
        typer.echo(f"  {n:5d}  {label}")
    if out is not None:
        with out.open("w", encoding="utf-8") as f:
            for r in rows:
                topic, sub = split_label(r.label)
                f.write(json.dumps({"text": r.text, "topic": topic, "subkind": sub, "sheet": r.sheet,
                                    "kind": r.kind}, ensure_ascii=False) + "\n")
        typer.echo(f"lignes écrites dans {out}")
    t0 = time.perf_counter()
    model, mode = load_or_build(loaded.intents)
    if model is None:
        typer.echo(f"erreur : {mode}", err=True)
        raise typer.Exit(2)
    typer.echo(f"modèle de thèmes prêt en {time.perf_counter() - t0:.1f} s "
               f"({model.rows} lignes d'entraînement, construit en {model.build_secs:.1f} s)")
    from callbot.dialog import emergency_model

    t0 = time.perf_counter()
    emergency, why = emergency_model.load_or_build(loaded.intents)
    if emergency is None:
        typer.echo(f"classifieur d'urgences indisponible ({why}) : les motifs seuls", err=True)
    else:
        typer.echo(f"classifieur d'urgences prêt en {time.perf_counter() - t0:.1f} s "
                   f"({emergency.rows} lignes, seuil {emergency.threshold:.2f})")


def register(app: typer.Typer) -> None:
    app.command(name="nlu")(nlu)
    app.command(name="nlu-data")(nlu_data)
