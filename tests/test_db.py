"""The data layer on both engines: exact money, aware times, pragmas, migrations."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from tendero.db import Database, is_disconnect
from tendero.db.models import Product
from tendero.db.types import utcnow


async def test_money_round_trips_exactly(db: Database) -> None:
    prices = [Decimal("1249.50"), Decimal("0.10"), Decimal("99999999.99"), Decimal("0.0001")]
    async with db.session() as session:
        session.add_all(Product(name=f"p{i}", price=p, sku=f"S{i}") for i, p in enumerate(prices))
    async with db.read_session() as session:
        stored = (await session.scalars(sa.select(Product.price).order_by(Product.id))).all()
    assert stored == prices
    assert all(isinstance(p, Decimal) for p in stored)


async def test_times_are_stored_and_returned_as_aware_utc(db: Database) -> None:
    local = datetime(2026, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=-6)))
    async with db.session() as session:
        session.add(Product(name="x", price=Decimal(1), created_at=local))
    async with db.read_session() as session:
        created = await session.scalar(sa.select(Product.created_at))
    assert created == local
    assert created.tzinfo is not None and created.utcoffset() == timedelta(0)
    assert created.hour == 16


async def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        async with db.session() as session:
            session.add(Product(name="x", price=Decimal(1), created_at=datetime(2026, 1, 1)))


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        async with db.session() as session:
            mode = await session.scalar(sa.text("PRAGMA journal_mode"))
            fks = await session.scalar(sa.text("PRAGMA foreign_keys"))
            sync = await session.scalar(sa.text("PRAGMA synchronous"))
        assert (mode, fks, sync) == ("wal", 1, 1)  # synchronous=NORMAL is 1
    finally:
        await db.dispose()


def test_utcnow_is_aware() -> None:
    assert utcnow().tzinfo is UTC


def test_on_sqlite_only_a_held_lock_counts_as_the_database_being_away(tmp_path) -> None:
    """Work cut off by a lost connection or a lock held too long is done again later
    without counting as a failure; SQLite's other OperationalErrors ("no such table",
    a damaged file) are the work's own failure and must count."""
    path = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.commit()
            with pytest.raises(sa.exc.OperationalError) as missing:
                conn.exec_driver_sql("SELECT * FROM nope")
        holder.execute("BEGIN IMMEDIATE")
        with engine.connect() as conn, pytest.raises(sa.exc.OperationalError) as locked:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    finally:
        holder.close()
        engine.dispose()
    assert not is_disconnect(missing.value)
    assert is_disconnect(locked.value), locked.value
    assert is_disconnect(ConnectionResetError())
