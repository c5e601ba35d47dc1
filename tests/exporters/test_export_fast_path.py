"""The export's fast path (``iter_orders`` reading the driver's values) writes the very
bytes the ORM path writes: orders loaded as ``Order`` objects through their column
types and turned into JSON by ``order_to_json``. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from tendero.db import Database
from tendero.db.models import Order
from tendero.demo import generate_orders, load_demo_store
from tendero.orders import OrderFilter, change_payment_status, change_status, iter_orders
from tendero.orders.serialize import order_to_json

from tests.orders.conftest import add_product, make_store, place

NOW = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)


async def _orm_orders(db: Database, order_filter: OrderFilter) -> AsyncIterator[dict[str, Any]]:
    """The reference: ORM objects, newest first, through ``order_to_json``."""
    async with db.read_session() as session:
        orders = await session.scalars(
            sa.select(Order)
            .where(*order_filter.conditions())
            .order_by(Order.created_at.desc(), Order.id.desc())
            .options(selectinload(Order.items))
        )
        for order in orders:
            yield order_to_json(order)


async def _odd_orders(db: Database) -> None:
    """Orders the generator does not make: amounts at zero and with cents everywhere,
    text that looks like a formula, a time on the whole second, a USD store."""
    free = await add_product(db, "Muestra gratis", "0", stock=None)
    cents = await add_product(db, '=Cápsulas, "edición"\n100', "0.05", stock=None, sku="+C-1")
    store = make_store(free_threshold="0.01", advance_percent=33)
    customer = {"name": "@Ana\tÑúñez", "phone": "-52 55", "email": "", "platform_id": "0012"}
    await place(db, store, [(free, 1)], now=datetime(2026, 11, 19, 12, tzinfo=UTC))
    await place(db, store, [(cents, 7), (free, 2)], now=NOW, customer=customer, channel="instagram")
    await place(db, store, [(cents, 3)], method="pickup", pickup_location="Roma", now=NOW)
    usd = make_store(currency="USD", free_threshold=None, flat_rate="4.99")
    await place(db, usd, [(cents, 1)], now=datetime(2026, 11, 18, 23, 59, 59, 999999, tzinfo=UTC))
    async with db.session() as session:
        await change_status(session, 1000 + 300 + 2, "cancelled", "merchant")
        await change_payment_status(session, 1000 + 300 + 3, "proof_received", "agent")


@pytest.fixture
async def seeded(db: Database) -> Database:
    await load_demo_store(db)
    await generate_orders(db, 300, seed=3, now=NOW)
    await _odd_orders(db)
    return db


async def _export(exporter: Any, orders: AsyncIterator[dict[str, Any]], rows: str) -> bytes:
    out = io.BytesIO()
    await exporter.write(orders, rows, out)
    return out.getvalue()


@pytest.mark.parametrize("rows", ["orders", "items"])
async def test_fast_path_writes_the_bytes_of_the_orm_path(
    seeded: Database, exporters: dict[str, Any], rows: str
) -> None:
    everything = OrderFilter(timezone="America/Mexico_City")
    async with seeded.read_session() as session:
        total = await session.scalar(sa.select(sa.func.count()).select_from(Order))
    assert total == 304
    for name in ("csv", "json"):
        # Batches of 7: many keyset pages, and the last one short.
        fast = await _export(exporters[name], iter_orders(seeded, everything, 7), rows)
        reference = await _export(exporters[name], _orm_orders(seeded, everything), rows)
        assert fast == reference, name
    assert len(fast.splitlines()) == 304  # the JSON lines: one per order, none lost


async def test_fast_path_gives_the_orm_dicts_for_a_filter(seeded: Database) -> None:
    shipped = OrderFilter(delivery_method="shipping", channel=("instagram", "facebook"))
    fast = [order async for order in iter_orders(seeded, shipped, 10)]
    reference = [order async for order in _orm_orders(seeded, shipped)]
    assert fast == reference
    assert {order["channel"] for order in fast} == {"instagram", "facebook"}
    odd = next(order for order in fast if order["number"] == 1302)
    assert odd["status"] == "cancelled"
    assert odd["customer"]["name"] == "@Ana\tÑúñez"
    assert [Decimal(item["unit_price"]) for item in odd["items"]] in (
        [Decimal("0.05"), 0],
        [0, Decimal("0.05")],
    )
