"""``tendero demo`` as a process."""

from __future__ import annotations

import sqlalchemy as sa
from tendero.db import Database
from tendero.db.models import Order, Product

from tests.conftest import CLI


async def _count(url: str, model: type) -> int:
    db = Database(url)
    try:
        async with db.read_session() as session:
            return int(await session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)
    finally:
        await db.dispose()


async def test_demo_loads_once(cli: CLI, database_url: str) -> None:
    first = cli("demo", check=True)
    assert "Tienda Fit Roma" in first.stderr
    assert first.stdout == ""
    assert await _count(database_url, Product) == 32
    assert await _count(database_url, Order) == 0

    again = cli("demo")
    assert again.returncode == 1
    assert "not empty" in again.stderr


async def test_if_empty_loads_then_skips(cli: CLI, database_url: str) -> None:
    cli("demo", "--if-empty", check=True)
    second = cli("demo", "--if-empty", check=True)
    assert "already loaded" in second.stderr
    assert await _count(database_url, Product) == 32


async def test_demo_with_orders(cli: CLI, database_url: str) -> None:
    result = cli("demo", "--orders", "300", "--seed", "3", check=True)
    assert "Generated 300 orders (#1001–#1300)" in result.stderr
    assert "orders/s" in result.stderr
    if database_url.startswith("sqlite"):
        assert "Database size:" in result.stderr
    assert await _count(database_url, Order) == 300

    # On the demo store, --orders adds more orders.
    more = cli("demo", "--orders", "20", check=True)
    assert "adding 20 orders" in more.stderr
    assert "#1301–#1320" in more.stderr
    assert await _count(database_url, Order) == 320


def test_demo_help(cli: CLI) -> None:
    result = cli("demo", "--help", check=True)
    assert "--orders" in result.stdout and "--if-empty" in result.stdout
