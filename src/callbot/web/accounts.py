"""Console accounts: agents and managers, argon2-hashed passwords, in the ``users`` table."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from callbot.store.db import Database
from callbot.store.models import User
from callbot.store.sessions import close_all

ROLES = ("agent", "manager")
MIN_PASSWORD_LENGTH = 8
MAX_USERNAME_LENGTH = 80

_hasher = PasswordHasher()
# Checked when the name is unknown, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash("callbot-dummy-password")


class AccountError(ValueError):
    """A refused account operation; the message is French and shown as is."""


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    role: str
    active: bool
    created_at: datetime
    # Changes whenever the password does: sessions opened with the old one stop working.
    password_version: str

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"


def password_version(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _account(user: User) -> Account:
    return Account(id=user.id, username=user.username, role=user.role, active=user.active,
                   created_at=user.created_at, password_version=password_version(user.password_hash))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Le mot de passe doit comporter au moins {MIN_PASSWORD_LENGTH} caractères.")


def _check_username(username: str) -> str:
    name = username.strip()
    if not name or len(name) > MAX_USERNAME_LENGTH or any(c.isspace() for c in name):
        raise AccountError("Identifiant invalide : un seul mot, 80 caractères au plus.")
    return name


def create_user(db: Database, username: str, password: str, role: str) -> Account:
    name = _check_username(username)
    if role not in ROLES:
        raise AccountError(f"Rôle inconnu « {role} » : choisir parmi {', '.join(ROLES)}.")
    _check_password(password)
    with db.session() as s:
        if s.scalar(select(User.id).where(User.username == name)) is not None:
            raise AccountError(f"L'utilisateur « {name} » existe déjà.")
        user = User(username=name, password_hash=_hasher.hash(password), role=role, active=True,
                    created_at=datetime.now(UTC))
        s.add(user)
        s.flush()
        return _account(user)


def set_password(db: Database, username: str, password: str) -> Account:
    _check_password(password)
    with db.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise AccountError(f"Utilisateur « {username} » introuvable.")
        user.password_hash = _hasher.hash(password)
        close_all(s, user.id)  # every open session of this account ends now
        return _account(user)


def list_users(db: Database) -> list[Account]:
    with db.session() as s:
        return [_account(u) for u in s.scalars(select(User).order_by(User.username))]


def get_account(db: Database, user_id: int) -> Account | None:
    with db.session() as s:
        user = s.get(User, user_id)
        return _account(user) if user is not None else None


def account_exists(db: Database, username: str) -> bool:
    with db.session() as s:
        return s.scalar(select(User.id).where(User.username == username.strip())) is not None


def authenticate(db: Database, username: str, password: str) -> Account | None:
    """The account if the name and password match an active user, else None (constant-ish time)."""
    with db.session() as s:
        user = s.scalar(select(User).where(User.username == username.strip()))
        if user is None or not user.active:
            with contextlib.suppress(VerificationError):
                _hasher.verify(_DUMMY_HASH, password)
            return None
        try:
            _hasher.verify(user.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        return _account(user)


def set_active(db: Database, username: str, active: bool) -> Account:
    """Disable an account (a colleague leaving) without losing who handled which call."""
    with db.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise AccountError(f"Utilisateur « {username} » introuvable.")
        user.active = active
        if not active:
            close_all(s, user.id)
        return _account(user)
