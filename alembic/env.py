"""Alembic environment: async engine, URL from the same place `creatoros` finds it."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import context
from app.db.models import Base

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from app.db.engine import resolve_database_url
    from app.settings import Settings

    settings = Settings()
    if context.is_offline_mode() and not settings.database_url:
        # Offline SQL needs only the dialect, never a running server.
        return "postgresql+asyncpg://"
    return resolve_database_url(settings)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # Production's database holds other programs' tables: they are not ours to
    # drop, so autogenerate only compares the tables the models declare.
    return not (type_ == "table" and reflected and compare_to is None)


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        include_object=include_object,
        compare_type=True,
        # Table comments mark what the baseline created (see 0001); they are
        # bookkeeping of the migrations, not part of the model.
        autogenerate_plugins=["alembic.autogenerate.*", "~alembic.autogenerate.comments"],
        # One transaction per revision: a revision that must run outside a
        # transaction (CREATE INDEX CONCURRENTLY) uses an autocommit block.
        transaction_per_migration=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    from app.db.migrations import migration_lock

    # One process at a time per database; the others wait, then find it at head.
    with migration_lock(connection):
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


async def run_migrations_online() -> None:
    from app.db.engine import connect_args
    from app.settings import Settings

    # The same connection options as the service's engine: behind a
    # transaction pooler (DB_POOLER_MODE) no named prepared statement is
    # left on a server connection, where the next process would clash with it.
    settings = config.attributes.get("settings") or Settings()
    engine = create_async_engine(
        _database_url(), poolclass=pool.NullPool, connect_args=connect_args(settings)
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
