"""The Orders search through the trigram index (SQLite FTS5 / PostgreSQL pg_trgm) finds
exactly what the plain ``LIKE '%word%'`` scan finds, pages and counts included, and
follows orders written after the index was built."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from tendero.db import Database
from tendero.db.models import Order
from tendero.orders import (
    OrderCursor,
    OrderFilter,
    change_status,
    count_orders,
    fetch_orders_page,
    plan_conditions,
)
from tendero.orders import query as order_query

from .conftest import add_product, make_store, place

CUSTOMERS = [
    {"name": "Ana Núñez", "phone": "+52 55 1234 5678", "email": "ana@example.com"},
    {"name": "María José Pérez", "phone": "+52 33 9876 5432", "email": "mjose_perez@correo.mx"},
    {"name": "Bob Stone", "platform_id": "psid-778899", "email": "bob@x.io"},
    {"name": "ANA maría López", "phone": "+1 (415) 555-0100", "email": "lopez.ana@gmail.com"},
    {"name": 'José "Pepe" O\'Neil', "platform_id": "ig_1234", "email": "pepe+shop@x.io"},
    {"name": "Zoë 100% Real", "phone": "5512345678", "email": "zoe_real@x.io"},
]
SEARCHES = [
    "ana",
    "ANA",
    "Nuñez",
    "maría",
    "maria jose",
    "jose maria",
    "perez mjose",
    "lopez ana",
    "bob@x.io",
    "@x.io",
    "x.io",
    "gmail",
    "5512345678",
    "1234",
    "55 1234",
    "+52",
    "415",
    "psid-778899",
    "ig_1234",
    "_",
    "%",
    "100%",
    '"pepe"',
    "o'neil",
    "pepe+shop",
    "#1001",
    "#100",
    "#1",
    "1003",
    "00",
    "pro-cho",
    "PRO-CHO",
    "cre",
    "creatina",
    "proteína chocolate",
    "choc cre",
    "zz",
    "a",
    "no-such-thing",
    "  ",
]


async def _seed(db: Database) -> None:
    choc = await add_product(db, "Proteína Chocolate", "100", stock=None, sku="PRO-CHO")
    creatine = await add_product(db, "Creatina 300 g", "200", stock=None, sku="CRE-300")
    shaker = await add_product(db, "Shaker Azul", "50", stock=None, sku="SHK_AZ")
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    carts = [[(choc, 1)], [(creatine, 2)], [(choc, 1), (shaker, 1)], [(shaker, 3)]]
    for index in range(24):
        customer = dict(CUSTOMERS[index % len(CUSTOMERS)])
        await place(
            db,
            make_store(),
            carts[index % len(carts)],
            customer=customer,
            channel=("whatsapp", "facebook", "instagram")[index % 3],
            # Two orders share each creation time: the keyset tie-break on id matters.
            now=start + timedelta(hours=index // 2),
        )


async def _like_scan(db: Database, search: str, **filters: Any) -> list[int]:
    """The old semantics: every folded word as ``LIKE '%word%'``, newest first."""
    order_filter = OrderFilter(search=search, **filters)
    async with db.read_session() as session:
        rows = await session.execute(
            sa.select(Order.number)
            .where(*order_filter.conditions())
            .order_by(Order.created_at.desc(), Order.id.desc())
        )
        return [number for (number,) in rows]


async def _paged(db: Database, order_filter: OrderFilter, size: int) -> list[int]:
    found: list[int] = []
    after: OrderCursor | None = None
    async with db.read_session() as session:
        while True:
            page, after = await fetch_orders_page(session, order_filter, size, after)
            found += [order["number"] for order in page]
            if after is None:
                return found


@pytest.fixture(params=["index", "scan"])
def search_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each search both ways on SQLite: through the index (small matches) and by
    walking newest first (as when a word matches more than SEARCH_INDEX_ROWS orders)."""
    if request.param == "scan":
        monkeypatch.setattr(order_query, "SEARCH_INDEX_ROWS", -1)
    return str(request.param)


async def test_search_matches_the_like_scan(db: Database, search_path: str) -> None:
    await _seed(db)
    for search in SEARCHES:
        expected = await _like_scan(db, search)
        order_filter = OrderFilter(search=search)
        assert await _paged(db, order_filter, 5) == expected, search
        assert await _paged(db, order_filter, 100) == expected, search
        async with db.read_session() as session:
            assert await count_orders(session, order_filter) == len(expected), search
    # Searches that match something, so the comparison above is not all empty lists.
    assert len(await _like_scan(db, "ana")) == 8
    assert await _like_scan(db, "#1001") == [1001]
    assert len(await _like_scan(db, "pro-cho")) == 12


async def test_search_with_filters_matches_the_like_scan(db: Database, search_path: str) -> None:
    await _seed(db)
    async with db.session() as session:
        for number in (1002, 1005, 1009, 1020):
            await change_status(session, number, "cancelled", "merchant")
    cases: list[dict[str, Any]] = [
        {"status": "cancelled", "search": "ana"},
        {"status": ("new", "cancelled"), "channel": "facebook", "search": "x.io"},
        {"channel": "instagram", "payment_status": "not_required", "search": "pro"},
        {"status": "new", "channel": "whatsapp", "delivery_method": "shipping", "search": "a"},
        {
            "since": datetime(2026, 3, 1).date(),
            "until": datetime(2026, 3, 1).date(),
            "channel": "whatsapp",
            "search": "maria",
        },
    ]
    for filters in cases:
        search = filters.pop("search")
        expected = await _like_scan(db, search, **filters)
        order_filter = OrderFilter(search=search, **filters)
        assert await _paged(db, order_filter, 3) == expected, filters
        async with db.read_session() as session:
            assert await count_orders(session, order_filter) == len(expected), filters


async def test_orders_written_after_indexing_are_found(db: Database) -> None:
    await _seed(db)
    pid = await add_product(db, "Barra Energética", "30", stock=None, sku="BAR-ZX9")
    await place(db, make_store(), [(pid, 1)], customer={"name": "Quetzalli Xóchitl"})

    async def numbers(search: str) -> list[int]:
        return await _paged(db, OrderFilter(search=search), 50)

    assert await numbers("quetzalli xochitl") == [1025]
    assert await numbers("bar-zx9") == [1025]
    # A change of the searchable text (the update trigger) and a delete.
    async with db.session() as session:
        await session.execute(
            sa.update(Order)
            .where(Order.number == 1025)
            .values(search_text="#1025 itzel ramirez bar-zx9")
        )
    assert await numbers("quetzalli") == []
    assert await numbers("itzel ramirez") == [1025]
    async with db.session() as session:
        await session.execute(sa.delete(Order).where(Order.number == 1025))
    assert await numbers("itzel") == []
    assert await numbers("bar-zx9") == []


async def test_sqlite_plans_use_the_index_or_the_smallest_filter(sqlite_url: str) -> None:
    """What the planner is told on SQLite (PostgreSQL plans with its own statistics)."""
    db = Database(sqlite_url)
    try:
        await _seed(db)
        async with db.read_session() as session:
            # Few matches: the ids the index returned are the rows to read.
            plan = await plan_conditions(session, OrderFilter(search="ana pro"))
            assert plan.search_index_drives
            sql = str(sa.select(Order.id).where(*plan.conditions).compile(session.get_bind()))
            assert "orders.id IN" in sql and "LIKE" not in sql
            # 2-letter words cannot use trigrams: checked with LIKE beside the index.
            plan = await plan_conditions(session, OrderFilter(search="ana zz"))
            sql = str(sa.select(Order.id).where(*plan.conditions).compile(session.get_bind()))
            assert plan.search_index_drives and "LIKE" in sql
            # More matches than a page is worth: the index is not used for the page.
            order_query.SEARCH_INDEX_ROWS, saved = 2, order_query.SEARCH_INDEX_ROWS
            try:
                plan = await plan_conditions(session, OrderFilter(search="ana"))
            finally:
                order_query.SEARCH_INDEX_ROWS = saved
            assert not plan.search_index_drives
            # Two value filters: the smaller one drives, the other is written +column.
            plan = await plan_conditions(
                session, OrderFilter(channel="whatsapp", payment_status="proof_received")
            )
            sql = str(sa.select(Order.id).where(*plan.conditions).compile(session.get_bind()))
            assert "+orders.channel" in sql and "+orders.payment_status" not in sql
    finally:
        await db.dispose()
