"""bot.store.users: console users, argon2id passwords, sign-in."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from bot.store import (
    Database,
    Role,
    StoreError,
    UserExists,
    authenticate,
    create_user,
    get_user,
    list_users,
)


def test_create_and_authenticate(database: Database) -> None:
    with database.session() as s:
        user = create_user(s, " alice ", "agent", "correct horse")
    assert (user.name, user.role, user.last_login_at) == ("alice", Role.AGENT, None)
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert user.password_hash not in repr(user)

    with database.session() as s:
        signed_in = authenticate(s, "alice", "correct horse")
    assert signed_in is not None and signed_in.id == user.id
    assert signed_in.last_login_at is not None

    with database.session() as s:
        assert authenticate(s, "alice", "Correct horse") is None
        assert authenticate(s, "alice", "") is None
        assert authenticate(s, "mallory", "correct horse") is None
        stored = get_user(s, "alice")
        assert stored is not None and stored.last_login_at == signed_in.last_login_at


def test_duplicate_name_is_refused(database: Database) -> None:
    with database.session() as s:
        create_user(s, "alice", Role.ADMIN, "correct horse")
    with pytest.raises(UserExists) as info:
        with database.session() as s:
            create_user(s, "alice", "agent", "another password")
    assert str(info.value) == (
        "A console user named 'alice' already exists: choose another name, "
        "or change the existing user's password instead."
    )
    assert isinstance(info.value, StoreError)


def test_short_password_is_refused_without_quoting_it(database: Database) -> None:
    with database.session() as s:
        with pytest.raises(StoreError) as info:
            create_user(s, "bob", "agent", "1234567")
        assert str(info.value) == ("Password for console user 'bob' is too short (7 characters): use at least 8.")
        with pytest.raises(StoreError, match=r"too short \(0 characters\)"):
            create_user(s, "bob", "agent", "")
        assert get_user(s, "bob") is None


def test_bad_name_and_role_are_refused(database: Database) -> None:
    with database.session() as s:
        with pytest.raises(StoreError) as info:
            create_user(s, "  ", "agent", "correct horse")
        assert str(info.value) == "A console user needs a name: pass a non-empty name such as 'alice'."
        with pytest.raises(StoreError) as info:
            create_user(s, "bob", "root", "correct horse")
        assert str(info.value) == "Unknown console role 'root': use one of 'agent', 'admin'."


def test_outdated_hash_is_upgraded_at_sign_in(database: Database) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with database.session() as s:
        user = create_user(s, "carol", "agent", "correct horse")
        user.password_hash = weak.hash("correct horse")
    with database.session() as s:
        assert authenticate(s, "carol", "correct horse") is not None
    with database.session() as s:
        stored = get_user(s, "carol")
        assert stored is not None
        assert not PasswordHasher().check_needs_rehash(stored.password_hash)
        assert authenticate(s, "carol", "correct horse") is not None


def test_list_users_by_name(database: Database) -> None:
    with database.session() as s:
        create_user(s, "zoe", "admin", "correct horse")
        create_user(s, "adam", "agent", "correct horse")
    with database.session() as s:
        assert [(u.name, u.role) for u in list_users(s)] == [("adam", "agent"), ("zoe", "admin")]
