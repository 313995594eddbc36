"""Console users (support agents and admins) and their passwords.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile);
hashes made with older parameters are upgraded at the next successful sign-in.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.errors import StoreError, UserExists
from bot.store.models import ConsoleUser, Role, coerce_enum, utcnow

MIN_PASSWORD_LENGTH = 8

# Stateless and thread-safe: holds only the hashing parameters.
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verified against when the name is unknown, so that a wrong name costs as much time as
    # a wrong password and sign-in timing does not reveal which names exist.
    return _hasher.hash("walletbot-no-such-user")


def create_user(s: Session, name: str, role: Role | str, password: str) -> ConsoleUser:
    """Add a console user.

    Raises:
        UserExists: the name is taken.
        StoreError: empty name, unknown role, or a password shorter than 8 characters.
    """
    name = (name or "").strip()
    if not name:
        raise StoreError("A console user needs a name: pass a non-empty name such as 'alice'.")
    if len(name) > 64:
        raise StoreError(f"Console user name {name!r} is too long: use at most 64 characters.")
    checked_role = coerce_enum(Role, role, "console role")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        # Quote the length, never the password.
        raise StoreError(
            f"Password for console user '{name}' is too short ({len(password or '')} "
            f"characters): use at least {MIN_PASSWORD_LENGTH}."
        )
    if get_user(s, name) is not None:
        raise UserExists(name)
    user = ConsoleUser(name=name, role=checked_role, password_hash=_hasher.hash(password), created_at=utcnow())
    try:
        with s.begin_nested():  # another admin may create the same name at the same moment
            s.add(user)
            s.flush()
    except IntegrityError:
        raise UserExists(name) from None
    return user


def authenticate(s: Session, name: str, password: str) -> ConsoleUser | None:
    """The user if the name and password match, else None (no hint which one was wrong).

    Records the sign-in time and upgrades an outdated hash.
    """
    user = get_user(s, (name or "").strip())
    if user is None:
        _verify(_dummy_hash(), password)
        return None
    if not _verify(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    s.flush()
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def get_user(s: Session, name: str) -> ConsoleUser | None:
    """The console user with this exact name, or None."""
    return s.scalars(select(ConsoleUser).where(ConsoleUser.name == name)).one_or_none()


def list_users(s: Session) -> list[ConsoleUser]:
    """All console users by name."""
    return list(s.scalars(select(ConsoleUser).order_by(ConsoleUser.name)))
