"""The Orders page header counters and the 30-day chart, on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from tendero.db import Database
from tendero.db.models import Order
from tendero.orders import (
    OrderFilter,
    change_payment_status,
    change_status,
    daily_by_channel,
    order_counters,
)

from .conftest import add_product, make_store, place

MX = "America/Mexico_City"  # UTC-6 all year (no DST since 2022)


async def test_counters_follow_the_filter(db: Database) -> None:
    choc = await add_product(db, "Proteína Chocolate", "100", stock=None, sku="PRO-CHO")
    creatine = await add_product(db, "Creatina", "250.50", stock=None, sku="CRE-300")
    store = make_store(free_threshold=None)  # flat 99 shipping on every order
    when = datetime(2026, 3, 2, 18, tzinfo=UTC)
    await place(db, store, [(choc, 1)], now=when)  # 1001: 199.00
    await place(db, store, [(creatine, 2)], now=when, channel="facebook")  # 1002: 600.00
    await place(db, store, [(choc, 3)], method="pickup", now=when + timedelta(days=2))  # 1003
    await place(db, make_store(currency="USD"), [(choc, 1)], now=when + timedelta(days=3))
    async with db.session() as session:
        await change_status(session, 1001, "cancelled", "merchant")
        await change_payment_status(session, 1002, "proof_received", "agent")
        await change_status(session, 1002, "processing", "merchant")

    async with db.read_session() as session:
        everything = await order_counters(session)
        assert everything.new_orders == 2  # 1003, 1004
        assert everything.payments_to_verify == 1
        assert everything.revenue == {"MXN": Decimal("900.0000"), "USD": Decimal("199.0000")}

        facebook = await order_counters(session, OrderFilter(channel="facebook"))
        assert (facebook.new_orders, facebook.payments_to_verify) == (0, 1)
        assert facebook.revenue == {"MXN": Decimal("600.0000")}

        march_2 = OrderFilter(since=date(2026, 3, 2), until=date(2026, 3, 2), timezone=MX)
        day = await order_counters(session, march_2)
        assert (day.new_orders, day.payments_to_verify) == (0, 1)
        assert day.revenue == {"MXN": Decimal("600.0000")}  # 1001 is cancelled

        cancelled = await order_counters(session, OrderFilter(status="cancelled"))
        assert (cancelled.new_orders, cancelled.payments_to_verify) == (0, 0)
        assert cancelled.revenue == {}

        searched = await order_counters(session, OrderFilter(search="creatina"))
        assert (searched.new_orders, searched.payments_to_verify) == (0, 1)
        assert searched.revenue == {"MXN": Decimal("600.0000")}

        pickup_new = await order_counters(
            session, OrderFilter(status=("new", "processing"), delivery_method="pickup")
        )
        assert pickup_new.new_orders == 1
        assert pickup_new.revenue == {"MXN": Decimal("300.0000")}


async def test_chart_days_follow_the_store_time_zone(db: Database) -> None:
    choc = await add_product(db, "Proteína Chocolate", "100", stock=None)
    store = make_store(free_threshold=None)
    # 2026-03-10 05:59 UTC is still March 9 in Mexico City; 06:00 is March 10.
    await place(db, store, [(choc, 1)], now=datetime(2026, 3, 10, 5, 59, tzinfo=UTC))
    await place(db, store, [(choc, 2)], now=datetime(2026, 3, 10, 6, 0, tzinfo=UTC))
    await place(
        db, store, [(choc, 1)], now=datetime(2026, 3, 10, 20, tzinfo=UTC), channel="instagram"
    )
    await place(db, store, [(choc, 1)], now=datetime(2026, 3, 11, 5, 59, 59, tzinfo=UTC))
    # Outside the window: before its first day and after its last.
    await place(db, store, [(choc, 1)], now=datetime(2026, 3, 4, 5, 59, tzinfo=UTC))
    await place(db, store, [(choc, 1)], now=datetime(2026, 3, 11, 6, 0, tzinfo=UTC))
    async with db.session() as session:
        await change_status(session, 1003, "cancelled", "merchant")

    async with db.read_session() as session:
        chart = await daily_by_channel(session, days=7, timezone=MX, today=date(2026, 3, 10))
    assert len(chart) == 7 * 3
    assert [row.day for row in chart[::3]] == [date(2026, 3, 4) + timedelta(d) for d in range(7)]
    assert [row.channel for row in chart[:3]] == ["whatsapp", "facebook", "instagram"]
    by_key = {(row.day, row.channel): row for row in chart}
    march_9 = by_key[date(2026, 3, 9), "whatsapp"]
    assert (march_9.orders, march_9.revenue) == (1, {"MXN": Decimal("199.0000")})
    march_10 = by_key[date(2026, 3, 10), "whatsapp"]
    # 1002 (299.00) and 1004 (199.00, 05:59:59 UTC on the 11th = 23:59:59 on the 10th).
    assert (march_10.orders, march_10.revenue) == (2, {"MXN": Decimal("498.0000")})
    instagram = by_key[date(2026, 3, 10), "instagram"]
    assert (instagram.orders, instagram.revenue) == (1, {"MXN": Decimal("0.0000")})  # cancelled
    empty = by_key[date(2026, 3, 4), "facebook"]
    assert (empty.orders, empty.revenue) == (0, {"MXN": Decimal("0.0000")})
    assert sum(row.orders for row in chart) == 4

    # The same orders seen from UTC: the 05:59 order falls on March 10.
    async with db.read_session() as session:
        utc = await daily_by_channel(session, days=2, timezone="UTC", today=date(2026, 3, 11))
    assert [(r.day.day, r.channel, r.orders) for r in utc if r.orders] == [
        (10, "whatsapp", 2),
        (10, "instagram", 1),
        (11, "whatsapp", 2),
    ]


async def test_chart_days_across_a_dst_change(db: Database) -> None:
    """New York springs forward on 2026-03-08: that day has 23 hours."""
    choc = await add_product(db, "Proteína Chocolate", "100", stock=None)
    store = make_store(free_threshold=None)
    times = [
        datetime(2026, 3, 8, 4, 59, tzinfo=UTC),  # Mar 7 23:59 EST
        datetime(2026, 3, 8, 5, 0, tzinfo=UTC),  # Mar 8 00:00 EST
        datetime(2026, 3, 9, 3, 59, tzinfo=UTC),  # Mar 8 23:59 EDT
        datetime(2026, 3, 9, 4, 0, tzinfo=UTC),  # Mar 9 00:00 EDT
    ]
    for when in times:
        await place(db, store, [(choc, 1)], now=when, channel="facebook")
    async with db.read_session() as session:
        chart = await daily_by_channel(
            session, days=3, timezone="America/New_York", today=date(2026, 3, 9)
        )
    assert [(r.day.day, r.orders) for r in chart if r.channel == "facebook"] == [
        (7, 1),
        (8, 2),
        (9, 1),
    ]


async def test_chart_lists_other_channels_and_currencies(db: Database) -> None:
    choc = await add_product(db, "Proteína Chocolate", "100", stock=None)
    when = datetime(2026, 3, 10, 18, tzinfo=UTC)
    await place(db, make_store(free_threshold=None), [(choc, 1)], now=when)
    await place(db, make_store(currency="USD", free_threshold=None), [(choc, 1)], now=when)
    async with db.session() as session:  # a channel a third-party plugin added
        await session.execute(sa.update(Order).where(Order.number == 1002).values(channel="sms"))
    async with db.read_session() as session:
        chart = await daily_by_channel(session, days=1, timezone=MX, today=date(2026, 3, 10))
    assert [(r.channel, r.orders, r.revenue) for r in chart] == [
        ("whatsapp", 1, {"MXN": Decimal("199.0000"), "USD": Decimal("0.0000")}),
        ("facebook", 0, {"MXN": Decimal("0.0000"), "USD": Decimal("0.0000")}),
        ("instagram", 0, {"MXN": Decimal("0.0000"), "USD": Decimal("0.0000")}),
        ("sms", 1, {"MXN": Decimal("0.0000"), "USD": Decimal("199.0000")}),
    ]
