"""The migrations build exactly the schema the models describe, and undo cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from tendero.db.migrate import downgrade, include_object, upgrade_async
from tendero.db.models import Base


def _differences(connection: sa.Connection) -> list[object]:
    context = MigrationContext.configure(
        connection,
        opts={"include_object": include_object, "compare_type": True},
    )
    return compare_metadata(context, Base.metadata)


async def test_head_matches_the_models(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []


async def test_downgrade_to_base_and_up_again(sqlite_url: str) -> None:
    import asyncio

    await asyncio.to_thread(downgrade, sqlite_url, "base")
    engine = create_async_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert set(tables) <= {"alembic_version"}
    finally:
        await engine.dispose()
    await upgrade_async(sqlite_url)
    engine = create_async_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()
