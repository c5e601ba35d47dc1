"""Alembic environment: async engines, SQLite batch mode, URL from Tendero settings."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection
from tendero.db.engine import make_engine
from tendero.db.locks import JOBS, MIGRATE_JOB
from tendero.db.migrate import include_object
from tendero.db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from tendero.settings import load_settings

    return load_settings().effective_database_url


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        include_object=include_object,
        render_as_batch=True,  # SQLite cannot ALTER most things in place
        compare_type=True,
        compare_server_default=True,
    )


def run_migrations_offline() -> None:
    _configure(url=_url())
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several processes or machines may start at once: one migrates, the others
            # wait for it and then find the database at head.
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:classid, :objid)"),
                {"classid": JOBS, "objid": MIGRATE_JOB},
            )
        context.run_migrations()


async def _run_async() -> None:
    engine = make_engine(_url(), writer=True)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
