"""`callbot flows check|test`: tools for the people who write a commune's flows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import typer

from callbot.dialog.flows import FlowError, Flows, load_flows

# Set by the `callbot` command (cli.py) to speech.durations.configured_voice_seconds: dialog/ may
# not load a voice itself. Returns (voice name, text → seconds); raises when the voice cannot load.
voice_clock: Callable[[], tuple[str, Callable[[str], float]]] | None = None

_TIMING_HELP = "durées de chaque appel avec la voix configurée (CALLBOT_TTS_VOICE) : première réponse, appel"

flows_app = typer.Typer(help="Vérifier et tester les fichiers de flows d'une commune.", no_args_is_help=True)


def _default_dir() -> Path:
    from callbot.config import get_settings

    return get_settings().flows


@flows_app.command("check")
def check(directory: Path | None = typer.Argument(None, help="répertoire des flows (CALLBOT_FLOWS)")) -> None:
    """Valide les flows : affiche OK et les comptes, ou chaque erreur (fichier:ligne: champ: message)."""
    directory = directory or _default_dir()
    try:
        flows = load_flows(directory)
    except FlowError as e:
        for err in e.errors:
            typer.echo(err, err=True)
        typer.echo(f"ERREUR : {len(e.errors)} problème(s) dans {directory}", err=True)
        raise typer.Exit(1) from None
    topics = Counter(i.topic for i in flows.intents if i.topic)
    examples = sum(len(i.examples) for i in flows.intents)
    typer.echo(f"OK {directory} : commune {flows.commune.name}, {len(flows.files)} fichiers, "
               f"{len(flows.intents)} intentions, {len(topics)} thèmes, {examples} exemples, "
               f"{len(flows.commune.services)} services, {len(flows.slot_types)} types de slots")
    _warn_long_texts(flows)


def _warn_long_texts(flows: Flows) -> None:
    """Texts too long for a phone call, at the voice's speaking rate (settings.speech)."""
    from callbot.dialog.answer_length import flows_renderer, too_long
    from callbot.dialog.hours import Hours

    speech = flows.settings.speech
    # Live variables are rendered for a weekday morning (the commune's longest usual hours).
    now = Hours(flows.commune).local(datetime.now(UTC)).replace(hour=10, minute=0)
    long_texts = too_long(flows, flows_renderer(flows, now))
    for spoken, secs in long_texts:
        typer.echo(f"ATTENTION {spoken.where} : environ {secs:.1f} s à {speech.words_per_second:g} mots/s "
                   f"(limite {spoken.limit_secs:g} s)")
    if long_texts:
        typer.echo("  Une réponse trop longue est coupée après ce qui tient, suivie de "
                   f"« {flows.prompts.more_detail} » : mieux vaut une réponse courte et un follow_up.")


@flows_app.command("test")
def test(
    directory: Path | None = typer.Argument(None, help="répertoire des flows (CALLBOT_FLOWS)"),
    tests: Path | None = typer.Option(None, "--tests", help="fichier ou répertoire de tests (DIR/tests)"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="affiche la conversation des tests en échec"),
    timing: bool = typer.Option(False, "--timing", help=_TIMING_HELP),
) -> None:
    """Joue les conversations de flows/tests/*.yaml ; code de sortie 1 si un test échoue."""
    from callbot.dialog.flowtests import run_flow_tests

    directory = directory or _default_dir()
    seconds_of, voice_rate = None, None
    if timing:
        seconds_of, voice_rate = _voice_seconds()
    try:
        results = run_flow_tests(directory, tests, seconds_of)
    except FlowError as e:
        for err in e.errors:
            typer.echo(err, err=True)
        raise typer.Exit(1) from None
    if not results:
        typer.echo(f"ERREUR : aucun test dans {tests or directory / 'tests'}", err=True)
        raise typer.Exit(1)
    failed = 0
    for r in results:
        typer.echo(f"{'OK   ' if r.ok else 'ÉCHEC'} {r.file} : {r.name}")
        if timing:
            first = f"{r.first_answer_secs:.1f} s" if r.first_answer_secs is not None else "aucune"
            typer.echo(f"      première réponse : {first}, appel : {r.call_secs:.1f} s")
        for f in r.failures:
            typer.echo(f"      {f}")
        if not r.ok:
            failed += 1
            if verbose:
                for line in r.transcript:
                    typer.echo(f"        {line}")
    if voice_rate is not None:
        typer.echo(voice_rate())
    typer.echo(f"{len(results) - failed}/{len(results)} tests réussis")
    if failed:
        raise typer.Exit(1)


def _voice_seconds() -> tuple[Callable[[str], float], Callable[[], str]]:
    """(text → seconds with the configured voice, the rate it spoke at as a line to print)."""
    from callbot.dialog.answer_length import word_count

    if voice_clock is None:
        typer.echo("ERREUR : --timing a besoin de la commande `callbot` (voix Piper)", err=True)
        raise typer.Exit(1)
    try:
        name, seconds = voice_clock()
    except Exception as e:  # a missing or broken voice: say which, do not crash
        typer.echo(f"ERREUR : voix non chargée ({e})", err=True)
        raise typer.Exit(1) from None
    spoken: dict[str, float] = {}

    def timed(text: str) -> float:
        spoken[text] = seconds(text)
        return spoken[text]

    def rate() -> str:
        words, secs = sum(word_count(t) for t in spoken), sum(spoken.values())
        per_second = words / secs if secs else 0.0
        return (f"voix {name} : {per_second:.2f} mots/s sur {secs:.0f} s de parole "
                f"(à reporter dans settings.speech.words_per_second)")

    return timed, rate
