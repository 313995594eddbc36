"""Shared pytest fixtures."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, make_url, text

from bot.store import Database

# --------------------------------------------------------------------------- databases
#
# `database_url` / `database` run each test once per backend: a SQLite file in tmp_path, and
# PostgreSQL when WALLETBOT_TEST_POSTGRES_URL is set (otherwise that variant does not exist,
# rather than being skipped). Each PostgreSQL test gets its own schema, dropped afterwards, so
# tests can run in parallel processes (pytest -n) against one server.

POSTGRES_URL_ENV = "WALLETBOT_TEST_POSTGRES_URL"
DATABASE_BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(POSTGRES_URL_ENV) else [])


@contextmanager
def _empty_database_url(backend: str, folder: os.PathLike[str]) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{os.path.join(folder, 'store', 'walletbot.db')}"
        return

    base = make_url(os.environ[POSTGRES_URL_ENV])
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=DATABASE_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    """URL of an empty database (not migrated); the folder of the SQLite file does not exist yet."""
    with _empty_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated, empty database, disposed after the test."""
    db = Database(database_url)
    db.migrate()
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture(scope="module", params=DATABASE_BACKENDS)
def module_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated database of each backend shared by the tests of one module (for slow set-ups)."""
    with _empty_database_url(request.param, tmp_path_factory.mktemp("db")) as url:
        db = Database(url)
        db.migrate()
        try:
            yield db
        finally:
            db.dispose()


# Engine fixtures (trained model, assistant, chat driver) live in their own module.
from engine_fixtures import assistant, chat, runtime, settings, trained_models_dir  # noqa: E402,F401
