"""The precomputed ``order_sales`` table: kept exact by the triggers of migration 0005
through every kind of write, filled by the migration from existing orders, and giving
the Orders page's counters and chart the same figures the orders themselves give."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from tendero.db import Database
from tendero.db.migrate import downgrade, upgrade
from tendero.db.models import Order, OrderSales, Product
from tendero.orders import (
    Actor,
    OrderFilter,
    allowed_payment_moves,
    allowed_status_moves,
    change_payment_status,
    change_status,
    daily_by_channel,
    expire_unpaid_orders,
    order_counters,
)
from tendero.orders.stats import sales_conditions

from tests.conftest import fresh_postgres_database

from .conftest import add_product, make_store, place

# Zones whose days do not start on the hour, or whose DST moves by 30 minutes, or both.
ZONES = (
    "America/New_York",  # DST: 23- and 25-hour days
    "Europe/Madrid",
    "Asia/Kathmandu",  # +05:45
    "Asia/Kolkata",  # +05:30
    "Australia/Lord_Howe",  # +10:30 / +11:00: a 30-minute DST jump
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Mexico_City",
)
# Instants near which orders are placed: DST changes of 2026 and odd-offset midnights.
ANCHORS = (
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # New York springs forward
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # Madrid springs forward
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # Lord Howe falls back 30 minutes
    datetime(2026, 4, 4, 14, 0, tzinfo=UTC),  # Chatham falls back
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # Madrid falls back
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),  # New York falls back
    datetime(2026, 6, 10, 18, 15, tzinfo=UTC),  # midnight in Kathmandu
    datetime(2026, 6, 10, 18, 30, tzinfo=UTC),  # midnight in Kolkata
)
CHANNELS = ("whatsapp", "facebook", "instagram", "tiktok")

_KEY = ("bucket", "channel", "currency", "status", "payment_status", "delivery_method")


def _bucket_of(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


async def _sales_rows(session: Any) -> dict[tuple[Any, ...], tuple[int, int]]:
    rows = await session.execute(sa.select(OrderSales.__table__).where(OrderSales.orders != 0))
    return {tuple(getattr(r, k) for k in _KEY): (r.orders, r.total_units) for r in rows}


async def _sums_of_orders(session: Any) -> dict[tuple[Any, ...], tuple[int, int]]:
    """What ``order_sales`` must hold, computed here in Python from every order."""
    orders: Counter[tuple[Any, ...]] = Counter()
    units: Counter[tuple[Any, ...]] = Counter()
    for order in await session.scalars(sa.select(Order)):
        key = (
            _bucket_of(order.created_at),
            order.channel,
            order.currency,
            order.status,
            order.payment_status,
            order.delivery_method,
        )
        orders[key] += 1
        units[key] += int(order.total * 10_000)
    return {key: (orders[key], units[key]) for key in orders}


async def assert_sales_are_exact(db: Database) -> None:
    async with db.read_session() as session:
        assert await _sales_rows(session) == await _sums_of_orders(session)


# --- the property: any history, same answers ---------------------------------------------

_move = st.tuples(st.sampled_from(("status", "payment", "total", "delete")), st.integers(0, 99))


@st.composite
def _instants(draw: st.DrawFn) -> datetime:
    """Near an anchor, or right at (or just around) a local midnight of one of the zones,
    where a bucket off by one would show."""
    anchor = draw(st.sampled_from(ANCHORS))
    if draw(st.booleans()):
        return anchor + timedelta(minutes=draw(st.integers(-36 * 60, 36 * 60)), seconds=7)
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    day = anchor.astimezone(zone).date() + timedelta(days=draw(st.integers(-1, 1)))
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    return midnight + timedelta(seconds=draw(st.sampled_from((-60, -1, 0, 1, 899, 900))))


_order = st.tuples(
    _instants(),
    st.sampled_from(CHANNELS),
    st.sampled_from(("MXN", "USD")),
    st.sampled_from(("shipping", "pickup")),
    st.integers(1, 3),
)
_filter = st.fixed_dictionaries(
    {
        "status": st.lists(st.sampled_from(("new", "processing", "cancelled", "delivered"))),
        "payment_status": st.lists(
            st.sampled_from(("awaiting_payment", "proof_received", "paid", "not_required"))
        ),
        "channel": st.lists(st.sampled_from(CHANNELS), max_size=2),
        "delivery_method": st.lists(st.sampled_from(("shipping", "pickup")), max_size=1),
        "days": st.one_of(st.none(), st.tuples(st.sampled_from(ANCHORS), st.integers(-2, 1))),
        "span": st.integers(0, 3),
        "timezone": st.sampled_from(ZONES),
    }
)


def _order_filter(spec: dict[str, Any]) -> OrderFilter:
    since = until = None
    if spec["days"] is not None:
        anchor, shift = spec["days"]
        since = anchor.astimezone(ZoneInfo(spec["timezone"])).date() + timedelta(days=shift)
        until = since + timedelta(days=spec["span"])
    return OrderFilter(
        status=tuple(spec["status"]),
        payment_status=tuple(spec["payment_status"]),
        channel=tuple(spec["channel"]),
        delivery_method=tuple(spec["delivery_method"]),
        since=since,
        until=until,
        timezone=spec["timezone"],
    )


@settings(
    max_examples=12,
    deadline=None,
    # Examples share the database (each adds to one longer history), so a shrunk
    # example would not replay the same state: report the first failure as it is.
    phases=[Phase.explicit, Phase.generate],
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    orders=st.lists(_order, min_size=1, max_size=6),
    moves=st.lists(_move, max_size=10),
    expire_at=st.one_of(st.none(), st.sampled_from(ANCHORS)),
    filters=st.lists(_filter, min_size=1, max_size=3),
)
async def test_precomputed_answers_equal_the_live_queries(
    db: Database,
    orders: list[tuple[Any, ...]],
    moves: list[tuple[str, int]],
    expire_at: datetime | None,
    filters: list[dict[str, Any]],
) -> None:
    # The database keeps what earlier examples wrote: each one adds to a longer history.
    async with db.read_session() as session:
        product = await session.scalar(sa.select(Product.id).limit(1))
    if product is None:
        product = await add_product(db, "Proteína", "123.45", stock=None, sku="PRO-1")
    stores = {
        "MXN": make_store(free_threshold="300", advance_percent=30),
        "USD": make_store(currency="USD", free_threshold=None),
    }
    for when, channel, currency, method, quantity in orders:
        await place(
            db, stores[currency], [(product, quantity)], method=method, now=when, channel=channel
        )

    async with db.read_session() as session:
        numbers = list(await session.scalars(sa.select(Order.number).order_by(Order.number)))
    for kind, pick in moves:
        if not numbers:
            break
        number = numbers[pick % len(numbers)]
        async with db.session() as session:
            order = await session.scalar(sa.select(Order).where(Order.number == number))
            assert order is not None
            if kind == "status":
                allowed = sorted(
                    allowed_status_moves(order.status, order.delivery_method, Actor.MERCHANT)
                )
                if allowed:
                    await change_status(session, number, allowed[pick % len(allowed)], "merchant")
            elif kind == "payment":
                allowed = sorted(allowed_payment_moves(order, Actor.MERCHANT))
                if allowed:
                    target = allowed[pick % len(allowed)]
                    await change_payment_status(session, number, target, "merchant")
            elif kind == "total":  # a script correcting an amount, outside the service
                await session.execute(
                    sa.update(Order.__table__)
                    .where(Order.number == number)
                    .values(total=Order.total + Decimal("0.0125"))
                )
            else:
                await session.delete(order)
                numbers.remove(number)
    if expire_at is not None:
        async with db.session() as session:
            await expire_unpaid_orders(session, stores["MXN"], now=expire_at)

    await assert_sales_are_exact(db)
    async with db.read_session() as session:
        for spec in filters:
            order_filter = _order_filter(spec)
            assert sales_conditions(order_filter) is not None  # the table answers it
            live = await order_counters(session, order_filter, precomputed=False)
            assert await order_counters(session, order_filter) == live
        for zone in ZONES:
            for anchor in ANCHORS[:6]:
                today = anchor.astimezone(ZoneInfo(zone)).date() + timedelta(days=2)
                options = {"days": 5, "timezone": zone, "today": today}
                live_days = await daily_by_channel(session, **options, precomputed=False)
                assert await daily_by_channel(session, **options) == live_days


# --- cases the property does not pick on its own ---------------------------------------------


def test_days_off_the_quarter_hour_read_the_orders() -> None:
    # Before 1942 Kolkata kept +05:53:20-type offsets: its midnights were off the quarter hour.
    old = OrderFilter(since=date(1900, 1, 1), until=date(1900, 1, 2), timezone="Asia/Kolkata")
    assert sales_conditions(old) is None
    assert sales_conditions(OrderFilter(search="ana")) is None
    assert sales_conditions(OrderFilter(pickup_location="Centro")) is None
    today = OrderFilter(since=date(2026, 6, 10), timezone="Asia/Kathmandu")
    assert sales_conditions(today) is not None


async def test_counters_read_the_table_not_the_orders(db: Database) -> None:
    """The page's figures come from ``order_sales`` when it can answer: a row written
    there alone (no order behind it) shows up in them."""
    product = await add_product(db, "Creatina", "250", stock=None)
    store = make_store(free_threshold=None)
    when = datetime(2026, 5, 5, 18, 7, tzinfo=UTC)
    await place(db, store, [(product, 1)], now=when)
    async with db.session() as session:
        await session.execute(
            sa.insert(OrderSales.__table__).values(
                bucket=datetime(2026, 5, 5, 18, 0, tzinfo=UTC),
                channel="whatsapp",
                currency="MXN",
                status="new",
                payment_status="proof_received",
                delivery_method="shipping",
                orders=2,
                total_units=1_000_000,
            )
        )
    day = OrderFilter(
        since=date(2026, 5, 5), until=date(2026, 5, 5), timezone="America/Mexico_City"
    )
    async with db.read_session() as session:
        table = await order_counters(session, day)
        live = await order_counters(session, day, precomputed=False)
        chart = await daily_by_channel(session, days=1, today=date(2026, 5, 5))
    assert (live.new_orders, live.payments_to_verify) == (1, 0)
    assert live.revenue == {"MXN": Decimal("349.0000")}
    assert (table.new_orders, table.payments_to_verify) == (3, 2)
    assert table.revenue == {"MXN": Decimal("449.0000")}
    assert [row.orders for row in chart if row.channel == "whatsapp"] == [3]


async def test_concurrent_writers_keep_the_table_exact(db: Database) -> None:
    """Orders placed and moved at once from many tasks, all in the same bucket rows."""
    product = await add_product(db, "Proteína", "100", stock=None)
    store = make_store(free_threshold=None)
    when = datetime(2026, 7, 1, 12, 1, tzinfo=UTC)

    async def place_and_move(k: int) -> None:
        order = await place(db, store, [(product, 1 + k % 3)], now=when + timedelta(seconds=k))
        async with db.session() as session:
            await change_status(session, order.number, "processing", "merchant")

    await asyncio.gather(*(place_and_move(k) for k in range(16)))
    await assert_sales_are_exact(db)
    async with db.read_session() as session:
        counters = await order_counters(session)
    assert counters.new_orders == 0
    assert counters.revenue == {"MXN": Decimal(16 * 99 + 100 * sum(1 + k % 3 for k in range(16)))}


# --- the migration fills the table from the orders already there --------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of our own (this test takes the schema down and up again)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'sales.db'}"
        upgrade(url)
        yield url
    else:
        with fresh_postgres_database("h_orders_sales") as url:
            yield url


async def test_migration_fills_the_table_from_existing_orders(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        product = await add_product(db, "Proteína", "99.90", stock=None)
        store = make_store(free_threshold="200")
        for k in range(40):
            when = datetime(2026, 3, 7, 23, tzinfo=UTC) + timedelta(minutes=37 * k)
            channel = CHANNELS[k % 4]
            await place(db, store, [(product, 1 + k % 4)], now=when, channel=channel)
        async with db.session() as session:
            await change_status(session, 1003, "cancelled", "merchant")
            await change_payment_status(session, 1004, "proof_received", "agent")
        async with db.read_session() as session:
            kept = await _sales_rows(session)
        await db.dispose()

        await asyncio.to_thread(downgrade, empty_url, "0004")
        await asyncio.to_thread(upgrade, empty_url)

        async with db.read_session() as session:
            assert await _sales_rows(session) == kept == await _sums_of_orders(session)
        # ... and the triggers are back.
        await place(db, store, [(product, 2)], now=datetime(2026, 3, 8, 9, tzinfo=UTC))
        await assert_sales_are_exact(db)
    finally:
        await db.dispose()


# --- a search's revenue stops at a cap and says so -------------------------------------------


async def test_a_search_sums_revenue_up_to_the_cap(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tendero.orders import stats

    product = await add_product(db, "Proteína", "100", stock=None, sku="PRO-1")
    other = await add_product(db, "Creatina", "300", stock=None, sku="CRE-1")
    store = make_store(free_threshold=None)
    when = datetime(2026, 8, 3, 17, tzinfo=UTC)
    for k in range(4):
        await place(db, store, [(product, 1 + k)], now=when + timedelta(hours=k))
    await place(db, store, [(other, 1)], now=when)
    async with db.session() as session:
        await change_status(session, 1001, "cancelled", "merchant")
    searched = OrderFilter(search="proteina", timezone="America/Mexico_City")

    monkeypatch.setattr(stats, "SEARCH_REVENUE_ORDERS", 3)  # 3 matches are not cancelled
    async with db.read_session() as session:
        counters = await order_counters(session, searched)
    assert counters.revenue == {"MXN": Decimal(299 + 399 + 499)}
    assert counters.revenue_over is None

    monkeypatch.setattr(stats, "SEARCH_REVENUE_ORDERS", 2)
    async with db.read_session() as session:
        capped = await order_counters(session, searched)
    assert (capped.revenue, capped.revenue_over) == ({}, 2)
    # The counts stay exact whatever the cap.
    assert (capped.new_orders, capped.payments_to_verify) == (3, 0)


async def test_the_bulk_demo_loader_fills_the_table(db: Database) -> None:
    """``tendero demo --orders`` writes with ``executemany`` (SQLite) and ``COPY``
    (PostgreSQL), in several statements per transaction: the triggers sum them all."""
    from tendero.demo import generate_orders, load_demo_store

    await load_demo_store(db)
    await generate_orders(db, 250, seed=5, batch_size=40, batches_per_transaction=3)
    await assert_sales_are_exact(db)
    async with db.read_session() as session:
        total = await session.scalar(sa.select(sa.func.sum(OrderSales.orders)))
    assert total == 250
