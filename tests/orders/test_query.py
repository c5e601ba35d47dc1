"""Order JSON (the contract) and the streaming, filtered listing on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from tendero.db import Database
from tendero.errors import ValidationFailed
from tendero.orders import (
    OrderCursor,
    OrderFilter,
    change_status,
    count_orders,
    fetch_orders_page,
    get_order,
    iter_orders,
    order_to_json,
)

from .conftest import ADDRESS, CUSTOMER, add_product, make_store, place

CONTRACT_KEYS = {
    "number",
    "created_at",
    "channel",
    "customer",
    "items",
    "subtotal",
    "shipping_cost",
    "deposit_amount",
    "total",
    "currency",
    "delivery_method",
    "shipping_address",
    "pickup_location",
    "ready_at",
    "payment_status",
    "status",
}
EXTRA_KEYS = {"id", "lead_id", "conversation_id", "updated_at"}


async def collect(
    db: Database, order_filter: OrderFilter | None = None, batch_size: int = 2
) -> list[dict[str, Any]]:
    return [o async for o in iter_orders(db, order_filter, batch_size=batch_size)]


async def test_order_json_matches_the_contract(db: Database) -> None:
    choc = await add_product(db, "Proteína Chocolate", "1249.5", stock=3, sku="PRO-CHO")
    when = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    await place(db, make_store(free_threshold=None), [(choc, 1)], now=when, channel="instagram")
    await place(
        db,
        make_store(advance_percent=30, preparation_minutes=60),
        [(choc, 2)],
        method="pickup",
        now=when,
    )
    async with db.read_session() as session:
        shipped = order_to_json(await get_order(session, 1001))
        picked = order_to_json(await get_order(session, 1002))

    assert set(shipped) == CONTRACT_KEYS | EXTRA_KEYS
    assert shipped == shipped | {
        "number": 1001,
        "created_at": "2026-03-01T16:30:00+00:00",
        "channel": "instagram",
        "customer": CUSTOMER,
        "items": [
            {
                "sku": "PRO-CHO",
                "name": "Proteína Chocolate",
                "quantity": 1,
                "unit_price": "1249.50",
                "line_total": "1249.50",
            },
        ],
        "subtotal": "1249.50",
        "shipping_cost": "99.00",
        "deposit_amount": "0.00",
        "total": "1348.50",
        "currency": "MXN",
        "delivery_method": "shipping",
        "shipping_address": ADDRESS,
        "pickup_location": None,
        "ready_at": None,
        "payment_status": "awaiting_payment",
        "status": "new",
    }
    assert list(shipped["shipping_address"]) == [
        "street",
        "house_number",
        "interior",
        "neighborhood",
        "postal_code",
        "city",
        "state",
        "references",
    ]
    assert (
        picked
        | {
            "delivery_method": "pickup",
            "shipping_address": None,
            "pickup_location": {"name": "Centro", "address": "Madero 10, Centro, CDMX"},
            "ready_at": "2026-03-01T17:30:00+00:00",
            "shipping_cost": "0.00",
            "subtotal": "2499.00",
            "deposit_amount": "749.70",
            "total": "2499.00",
        }
        == picked
    )
    # The streaming query produces exactly the same dicts as the ORM serializer.
    streamed = await collect(db)
    assert streamed == [picked, shipped]


async def test_jpy_amounts_have_no_decimals(db: Database) -> None:
    pid = await add_product(db, price="1200")
    await place(db, make_store(currency="JPY", flat_rate="500", free_threshold=None), [(pid, 2)])
    [order] = await collect(db)
    assert (
        order["subtotal"],
        order["shipping_cost"],
        order["total"],
        order["items"][0]["unit_price"],
    ) == (
        "2400",
        "500",
        "2900",
        "1200",
    )


async def test_streams_newest_first_across_batches_even_with_equal_times(db: Database) -> None:
    pid = await add_product(db, stock=None)
    store = make_store()
    base = datetime(2026, 1, 1, 12, tzinfo=UTC)
    times = [base + timedelta(hours=h) for h in (3, 1, 1, 1, 2, 0, 1)]
    for when in times:
        await place(db, store, [(pid, 1)], now=when)
    expected = [n for _, n in sorted(((t, 1001 + i) for i, t in enumerate(times)), reverse=True)]
    for batch_size in (1, 2, 3, 7, 100):
        assert [o["number"] for o in await collect(db, batch_size=batch_size)] == expected


async def test_filters(db: Database) -> None:
    choc = await add_product(db, "Proteína Chocolate", "100", stock=None, sku="PRO-CHO")
    creatine = await add_product(db, "Creatina", "200", stock=None, sku="CRE-300")
    store = make_store()
    # 2026-03-02 05:30 UTC is still March 1st in Mexico City (UTC-6).
    late_march_1 = datetime(2026, 3, 2, 5, 30, tzinfo=UTC)
    await place(db, store, [(choc, 1)], now=late_march_1)  # 1001
    await place(
        db,
        store,
        [(creatine, 1)],
        now=late_march_1 + timedelta(hours=1),
        channel="facebook",
        customer={"name": "Bob Stone", "email": "bob@x.io"},
    )  # 1002 (Mar 2 local)
    await place(
        db,
        store,
        [(choc, 1), (creatine, 1)],
        method="pickup",
        pickup_location="Roma",
        now=late_march_1 + timedelta(days=3),
    )  # 1003
    await place(
        db, store, [(choc, 1)], method="pickup", now=late_march_1 + timedelta(days=4)
    )  # 1004
    async with db.session() as session:
        await change_status(session, 1001, "cancelled", "merchant")

    async def numbers(**kwargs: Any) -> list[int]:
        order_filter = OrderFilter(**kwargs)
        found = [o["number"] for o in await collect(db, order_filter)]
        async with db.read_session() as session:
            assert await count_orders(session, order_filter) == len(found)
        return found

    assert await numbers() == [1004, 1003, 1002, 1001]
    assert await numbers(status="cancelled") == [1001]
    assert await numbers(status=("new", "cancelled"), channel="whatsapp") == [1004, 1003, 1001]
    assert await numbers(payment_status="not_required") == [1004, 1003]
    assert await numbers(channel="facebook") == [1002]
    assert await numbers(delivery_method="pickup", pickup_location="Roma") == [1003]
    assert await numbers(pickup_location="Centro") == [1004]
    mx = "America/Mexico_City"
    assert await numbers(since=date(2026, 3, 1), until=date(2026, 3, 1), timezone=mx) == [1001]
    assert await numbers(since=date(2026, 3, 2), until=date(2026, 3, 2), timezone=mx) == [1002]
    assert await numbers(since=date(2026, 3, 2), timezone="UTC") == [1004, 1003, 1002, 1001]
    assert await numbers(until=date(2026, 3, 3), timezone=mx) == [1002, 1001]
    assert await numbers(until=date(2026, 3, 4), timezone=mx) == [1003, 1002, 1001]  # 23:30 local
    assert await numbers(until=date(2026, 3, 4), timezone="UTC") == [1002, 1001]
    assert await numbers(search="NUÑEZ") == [1004, 1003, 1001]
    assert await numbers(search="proteina") == [1004, 1003, 1001]
    assert await numbers(search="cre-300") == [1003, 1002]
    assert await numbers(search="#1002") == [1002]
    assert await numbers(search="bob@x.io") == [1002]
    assert await numbers(search="ana creatina") == [1003]
    assert await numbers(search="100%") == []


def test_filter_values_are_validated() -> None:
    with pytest.raises(ValidationFailed, match="unknown order status 'sent'"):
        OrderFilter(status="sent")
    with pytest.raises(ValidationFailed, match="unknown payment status"):
        OrderFilter(payment_status=("paid", "maybe"))
    with pytest.raises(ValidationFailed, match="unknown time zone"):
        OrderFilter(timezone="Mars/Olympus")
    with pytest.raises(ValidationFailed, match="ends"):
        OrderFilter(since=date(2026, 2, 1), until=date(2026, 1, 1))


async def test_pages_and_cursors(db: Database) -> None:
    pid = await add_product(db, stock=None)
    for _ in range(5):
        await place(db, make_store(), [(pid, 1)])
    async with db.read_session() as session:
        first, cursor = await fetch_orders_page(session, limit=3)
        assert cursor is not None
        token = cursor.encode()
        second, end = await fetch_orders_page(session, limit=3, after=OrderCursor.decode(token))
    assert [o["number"] for o in first + second] == [1005, 1004, 1003, 1002, 1001]
    assert end is None
    with pytest.raises(ValidationFailed, match="invalid cursor"):
        OrderCursor.decode("not-a-cursor")
