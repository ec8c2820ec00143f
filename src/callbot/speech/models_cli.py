"""`callbot models …`: list, download and verify the speech models."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from callbot.speech.errors import DownloadError

models_app = typer.Typer(help="Modèles vocaux (Vosk, Piper) : liste, téléchargement, vérification.",
                         no_args_is_help=True)

DEST_HELP = "dossier des modèles (défaut : CALLBOT_MODELS_DIR, ./models)"
BASE_URL_HELP = "remplace l'adresse des serveurs officiels (miroir local) ; aussi CALLBOT_MODELS_BASE_URL"
STATE_FR = {"absent": "absent", "incomplete": "incomplet", "present": "présent (non vérifié)",
            "verified": "vérifié", "corrupt": "CORROMPU"}


def _models_dir(dest: Path | None) -> Path:
    if dest is not None:
        return dest
    from callbot.config import get_settings

    return get_settings().models_dir


def _manifest(path: Path | None):  # noqa: ANN202
    from callbot.speech.models import load_manifest

    try:
        return load_manifest(path)
    except ValueError as e:
        typer.echo(f"Erreur : {e}", err=True)
        raise typer.Exit(2) from e


def _select(manifest, only: str | None):  # noqa: ANN001, ANN202
    try:
        return manifest.select(only)
    except KeyError as e:
        typer.echo(f"Erreur : {e.args[0]}", err=True)
        raise typer.Exit(2) from e


class _Progress:
    """One line per file, rewritten at most every half second."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, name: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last < 0.5 and (total is None or done < total):
            return
        self._last = now
        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} Mo" if total else f"{done / 1e6:.1f} Mo"
        typer.echo(f"\r  {name} : {size}", nl=total is not None and done >= total, err=True)


@models_app.command("list")
def list_models(
    dest: Path | None = typer.Option(None, "--dest", help=DEST_HELP),
    manifest: Path | None = typer.Option(None, "--manifest", help="manifeste à utiliser (tests)"),
) -> None:
    """Modèles connus, et s'ils sont présents (tailles seulement ; `verify` calcule les sommes)."""
    from callbot.speech.models import model_status

    m = _manifest(manifest)
    root = _models_dir(dest)
    typer.echo(f"Dossier : {root}")
    for spec in m.models.values():
        status = model_status(spec, root, deep=False)
        typer.echo(f"{spec.name:28} {spec.kind:6} {STATE_FR[status.state]:22} {spec.description}")
        for problem in status.problems if status.state != "absent" else []:
            typer.echo(f"    {problem}")


@models_app.command()
def verify(
    dest: Path | None = typer.Option(None, "--dest", help=DEST_HELP),
    only: str | None = typer.Option(None, "--only", help="un seul modèle (nom du manifeste)"),
    manifest: Path | None = typer.Option(None, "--manifest", help="manifeste à utiliser (tests)"),
) -> None:
    """Calcule les sommes de contrôle ; code de sortie 1 si un modèle manque ou est incorrect."""
    from callbot.speech.models import model_status

    m = _manifest(manifest)
    root = _models_dir(dest)
    ok = True
    for spec in _select(m, only):
        status = model_status(spec, root, deep=True)
        typer.echo(f"{spec.name:28} {STATE_FR[status.state]}")
        for problem in status.problems:
            typer.echo(f"    {problem}")
        ok &= status.state == "verified"
    raise typer.Exit(0 if ok else 1)


@models_app.command()
def download(
    dest: Path | None = typer.Option(None, "--dest", help=DEST_HELP),
    only: str | None = typer.Option(None, "--only", help="un seul modèle (nom du manifeste)"),
    base_url: str | None = typer.Option(None, "--base-url", help=BASE_URL_HELP),
    manifest: Path | None = typer.Option(None, "--manifest", help="manifeste à utiliser (tests)"),
) -> None:
    """Télécharge les modèles manquants (reprise après coupure), puis vérifie chaque fichier."""
    from callbot.speech.models import download_model

    m = _manifest(manifest)
    root = _models_dir(dest)
    failed = 0
    for spec in _select(m, only):
        typer.echo(f"{spec.name} → {spec.root(root)}")
        try:
            download_model(m, spec, root, base_url=base_url,
                           progress=_Progress() if sys.stderr.isatty() else None)
        except DownloadError as e:
            typer.echo(f"Erreur : {e}", err=True)
            failed += 1
            continue
        typer.echo(f"{spec.name} : vérifié")
    raise typer.Exit(1 if failed else 0)
