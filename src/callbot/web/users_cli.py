"""`callbot users add|passwd|list|disable|enable`: console accounts from the command line.

Passwords are read from stdin (first line) so scripts can pipe them; on a terminal they are
asked twice without echo.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from callbot.store.audit import cli_actor, record
from callbot.web.accounts import ROLES, AccountError, create_user, list_users, set_active, set_password

users_app = typer.Typer(help="Comptes de la console : agents et responsables.", no_args_is_help=True)


def _db():  # noqa: ANN202
    from callbot.config import get_settings
    from callbot.store.db import Database

    db = Database(get_settings().database_url)
    db.migrate()
    return db


def _read_password() -> str:
    if sys.stdin.isatty():
        first = typer.prompt("Mot de passe", hide_input=True)
        second = typer.prompt("Confirmer le mot de passe", hide_input=True)
        if first != second:
            typer.echo("Les deux saisies diffèrent.", err=True)
            raise typer.Exit(1)
        return first
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _fail(error: AccountError) -> None:
    typer.echo(f"Erreur : {error}", err=True)
    raise typer.Exit(1)


@contextmanager
def _refusals() -> Iterator[None]:
    """A refused account operation ends the command with its French message (exit status 1)."""
    try:
        yield
    except AccountError as error:
        _fail(error)


@users_app.command("add")
def add(name: str = typer.Argument(..., help="identifiant de connexion"),
        role: str = typer.Option("agent", "--role", help=f"rôle : {' ou '.join(ROLES)}")) -> None:
    """Créer un compte (mot de passe lu sur l'entrée standard)."""
    if role not in ROLES:
        _fail(AccountError(f"Rôle inconnu « {role} » : choisir parmi {', '.join(ROLES)}."))
    password = _read_password()
    db = _db()
    with _refusals():
        account = create_user(db, name, password, role)
    record(db, cli_actor(), "user.added", account.username, role=account.role)
    typer.echo(f"Compte « {account.username} » créé (rôle {account.role}).")


@users_app.command("passwd")
def passwd(name: str = typer.Argument(..., help="identifiant de connexion")) -> None:
    """Changer le mot de passe d'un compte (ses sessions ouvertes sont fermées)."""
    password = _read_password()
    db = _db()
    with _refusals():
        set_password(db, name, password)
    record(db, cli_actor(), "user.password", name)
    typer.echo(f"Mot de passe de « {name} » changé.")


@users_app.command("list")
def list_(json_output: bool = typer.Option(False, "--json", help="sortie JSON")) -> None:
    """Lister les comptes."""
    accounts = list_users(_db())
    if json_output:
        import json

        rows = [{"username": a.username, "role": a.role, "active": a.active,
                 "created_at": a.created_at.isoformat()} for a in accounts]
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not accounts:
        typer.echo("Aucun compte. Créez-en un : callbot users add NOM --role manager")
        return
    width = max(len(a.username) for a in accounts)
    for a in accounts:
        state = "actif" if a.active else "désactivé"
        typer.echo(f"{a.username:<{width}}  {a.role:<8}  {state}")


def _set_active(name: str, active: bool) -> None:
    db = _db()
    with _refusals():
        set_active(db, name, active)
    record(db, cli_actor(), "user.enabled" if active else "user.disabled", name)
    typer.echo(f"Compte « {name} » {'réactivé' if active else 'désactivé'}.")


@users_app.command("disable")
def disable(name: str) -> None:
    """Désactiver un compte (il ne peut plus se connecter)."""
    _set_active(name, False)


@users_app.command("enable")
def enable(name: str) -> None:
    """Réactiver un compte."""
    _set_active(name, True)
