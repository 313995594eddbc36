"""Alembic environment for the store's migrations.

``Database.migrate()`` builds the Alembic Config in code and hands over an open connection
(``config.attributes["connection"]``) inside its transaction, so no alembic.ini is needed.

To write a new revision, compare the models with a migrated scratch database::

    from alembic import command
    from bot.store import Database
    db = Database("sqlite:///scratch.db"); db.migrate()
    command.revision(db.alembic_config(), message="add x", autogenerate=True)

then read and edit the generated file in ``versions/`` (name it ``0002_add_x.py``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from bot.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: later revisions use batch mode (copy and move).
        render_as_batch=connection.dialect.name == "sqlite",
        # Our SQLite engine emits a real BEGIN, so its DDL is transactional too.
        transactional_ddl=True,
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return

    # Called from the alembic command API with only a URL (e.g. command.revision above).
    from bot.store.db import Database

    db = Database(config.get_main_option("sqlalchemy.url") or "")
    try:
        with db.engine.begin() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        db.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
