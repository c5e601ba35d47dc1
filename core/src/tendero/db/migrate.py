"""Run alembic migrations programmatically (``tendero db upgrade`` and ``serve``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# What lives in the database without a model, which autogenerate must not offer to drop:
# the search indexes made by hand in migration 0003, and the agent's LangGraph
# checkpoint tables (their saver creates them in the app's PostgreSQL database).
UNMODELLED = ("orders_search", "ix_orders_search_text_trgm", "checkpoint")


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's filter of what the models describe (the hand-made indexes are not)."""
    return not (reflected and name is not None and name.startswith(UNMODELLED))


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision``; idempotent. Call outside an event loop."""
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """:func:`upgrade` from inside a running event loop (alembic runs its own loop)."""
    await asyncio.to_thread(upgrade, database_url, revision)


def downgrade(database_url: str, revision: str) -> None:
    """Take the database back to ``revision`` (``base`` empties it). Call outside an
    event loop."""
    command.downgrade(alembic_config(database_url), revision)
