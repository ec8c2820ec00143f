"""`callbot chat`: talk to the dialog engine in a terminal, no speech models needed.

One caller turn per line on stdin: text is what the caller says; a line starting with `#` presses
keys (`#0` agent, `#1` menu or "oui", `#0612345678#` a number); an empty line is a silence.
Works with piped stdin, so flow authors and tests can script a call.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import typer

from callbot.dialog.types import Reply


def _say(reply: Reply, debug: bool) -> None:
    u = reply.understanding
    if debug and u is not None:
        typer.echo(f"  [{u.action} intent={u.intent} topic={u.topic} confiance={u.confidence:.2f}"
                   f"{' slots=' + str(u.slots) if u.slots else ''}"
                   f"{' raison=' + u.fallback_reason if u.fallback_reason else ''}]")
    for p in reply.prompts:
        typer.echo(f"bot> {p.text}")
    if reply.end:
        detail = ""
        if reply.transfer:
            t = reply.transfer
            detail = f" → {t.kind} {t.target} (motif {t.reason})"
        if reply.callback:
            detail = f" → rappel au {reply.callback.number} (motif : {reply.callback.reason or '-'})"
        typer.echo(f"[fin de l'appel : {reply.end}{detail}, issue {reply.outcome}]")


def chat(
    flows: Path | None = typer.Option(None, "--flows", help="répertoire des flows (CALLBOT_FLOWS)"),
    now: str | None = typer.Option(None, "--now", help="date-heure ISO simulée, ex. 2026-07-14T10:00"),
    caller: str | None = typer.Option(None, "--caller", help="numéro de l'appelant"),
    debug: bool = typer.Option(False, "--debug", help="affiche ce que le bot a compris"),
) -> None:
    """Conversation texte avec le bot (une ligne = un tour ; #touches ; ligne vide = silence)."""
    from callbot.config import get_settings
    from callbot.dialog.engine import DialogEngine
    from callbot.dialog.flows import FlowError

    settings = get_settings()
    if now:
        try:
            pinned = datetime.fromisoformat(now)
        except ValueError:
            typer.echo(f"--now invalide : {now!r} (attendu : 2026-07-14T10:00)", err=True)
            raise typer.Exit(2) from None

        def clock() -> datetime:
            return pinned  # a naive time is read in the commune's timezone
    else:
        clock = settings.clock
    try:
        engine = DialogEngine.load(flows or settings.flows, clock)
    except FlowError as e:
        for err in e.errors:
            typer.echo(err, err=True)
        raise typer.Exit(1) from None
    conv = engine.new_conversation(caller=caller)
    interactive = sys.stdin.isatty()
    reply = conv.start()
    _say(reply, debug)
    while reply.end is None:
        if interactive:
            typer.echo("vous> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            break  # end of input: the caller hung up
        line = line.strip()
        if line.startswith("#") and len(line) > 1:
            for key in line[1:]:
                reply = conv.dtmf(key)
                if reply.prompts or reply.end:
                    _say(reply, debug)
                if reply.end:
                    break
            continue
        reply = conv.hear(line) if line else conv.silence()
        _say(reply, debug)
    if reply.end is None:
        typer.echo("[l'appelant a raccroché]")
    typer.echo(f"[résumé : {conv.summary or '-'} | thème {conv.topic or '-'}]")
