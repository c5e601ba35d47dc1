"""The orders service on SQLite and PostgreSQL: creation, stock, numbers, moves, expiry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from tendero import hookimpl
from tendero.db import Database
from tendero.db.models import Order, OrderStatusChange
from tendero.errors import NotFound, ValidationFailed
from tendero.orders import (
    CartLine,
    IllegalStatusMove,
    OutOfStock,
    ProductUnavailable,
    QuoteChanged,
    StaleOrder,
    add_note,
    attach_receipt,
    change_payment_status,
    change_status,
    create_order,
    expire_unpaid_orders,
    get_order,
    order_transaction,
    run_expiry_job,
    take_order_events,
)
from tendero.plugins import create_plugin_manager
from tendero.store.document import StoreDocument, Workflow

from .conftest import ADDRESS, CUSTOMER, add_product, make_store, place, stock_of

NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


async def count(db: Database, model: Any) -> int:
    async with db.read_session() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


# --- creation ---------------------------------------------------------------------------------


async def test_a_shipping_order_snapshots_everything_and_takes_stock(
    db: Database, store: StoreDocument
) -> None:
    choc = await add_product(db, "Proteína Chocolate", "499.50", stock=5, sku="PRO-CHO")
    shaker = await add_product(db, "Shaker", "120", stock=None, sku="SHK-1")
    async with db.session() as session:
        order = await create_order(
            session,
            lines=[CartLine(choc, 2), CartLine(shaker, 1)],
            channel="instagram",
            customer=CUSTOMER,
            delivery_method="shipping",
            shipping_address=ADDRESS,
            store=store,
            settings_version=7,
            now=NOW,
        )
        events = take_order_events(session)
    assert order.number == 1001
    assert (order.subtotal, order.shipping_cost, order.total) == (
        Decimal("1119.00"),
        Decimal("0.00"),
        Decimal("1119.00"),
    )
    assert (order.status, order.payment_status, order.ready_at) == ("new", "awaiting_payment", None)
    assert order.settings_version == 7
    assert [e.hook for e in events] == ["order_created"]
    assert events[0].order["number"] == 1001

    async with db.read_session() as session:
        saved = await get_order(session, 1001)
    assert [(i.sku, i.name, i.quantity, i.unit_price, i.line_total) for i in saved.items] == [
        ("PRO-CHO", "Proteína Chocolate", 2, Decimal("499.50"), Decimal("999.00")),
        ("SHK-1", "Shaker", 1, Decimal("120.00"), Decimal("120.00")),
    ]
    assert saved.shipping_address == ADDRESS
    assert [(h.field, h.from_value, h.to_value, h.actor) for h in saved.history] == [
        ("status", None, "new", "agent"),
        ("payment_status", None, "awaiting_payment", "agent"),
    ]
    # Accent-folded, lower-cased: "Proteína" is found as "proteina", "Núñez" as "nunez".
    for word in (
        "#1001",
        "ana nunez",
        "ana@example.com",
        "5215512345678",
        "proteina chocolate",
        "pro-cho",
        "shk-1",
    ):
        assert word in saved.search_text
    assert await stock_of(db, choc) == 3
    assert await stock_of(db, shaker) is None


async def test_pickup_orders_with_and_without_a_deposit(db: Database) -> None:
    pid = await add_product(db, price="1000", stock=None)
    with_deposit = make_store(advance_percent=30, preparation_minutes=90)
    order = await place(
        db, with_deposit, [(pid, 1)], method="pickup", pickup_location="Roma", now=NOW
    )
    assert (order.payment_status, order.deposit_amount, order.total) == (
        "awaiting_payment",
        Decimal("300.00"),
        Decimal("1000.00"),
    )
    assert order.shipping_cost == 0 and order.shipping_address is None
    assert order.pickup_location == {"name": "Roma", "address": "Orizaba 5, Roma Nte., CDMX"}
    assert order.ready_at == NOW + timedelta(minutes=90)

    order = await place(db, make_store(), [(pid, 1)], method="pickup", now=NOW)
    assert (order.payment_status, order.deposit_amount, order.ready_at) == (
        "not_required",
        Decimal("0.00"),
        NOW,
    )


async def test_order_numbers_start_at_1001_and_follow_on(
    db: Database, store: StoreDocument
) -> None:
    pid = await add_product(db, stock=None)
    numbers = [(await place(db, store, [(pid, 1)])).number for _ in range(3)]
    assert numbers == [1001, 1002, 1003]


async def test_order_numbers_are_unique_under_concurrency(
    db: Database, store: StoreDocument
) -> None:
    pid = await add_product(db, stock=None)
    orders = await asyncio.gather(*(place(db, store, [(pid, 1)]) for _ in range(15)))
    assert sorted(o.number for o in orders) == list(range(1001, 1016))


@pytest.mark.parametrize(
    ("workflow", "method", "kwargs", "problem"),
    [
        (Workflow.PICKUP_ONLY, "shipping", {"shipping_address": ADDRESS}, "does not ship"),
        (Workflow.SHIPPING_ONLY, "pickup", {"pickup_location": "Centro"}, "has no pickup"),
        (Workflow.SHIPPING_AND_PICKUP, "shipping", {}, "shipping address is required"),
        (
            Workflow.SHIPPING_AND_PICKUP,
            "shipping",
            {"shipping_address": {"street": "X"}},
            "needs: postal_code, city",
        ),
        (
            Workflow.SHIPPING_AND_PICKUP,
            "shipping",
            {"shipping_address": ADDRESS | {"zip": "1"}},
            "unknown address fields: zip",
        ),
        (Workflow.SHIPPING_AND_PICKUP, "pickup", {}, "choose a pickup location: Centro, Roma"),
        (
            Workflow.SHIPPING_AND_PICKUP,
            "pickup",
            {"pickup_location": "Polanco"},
            "unknown pickup location 'Polanco'",
        ),
        (
            Workflow.SHIPPING_AND_PICKUP,
            "pickup",
            {"pickup_location": "Centro", "shipping_address": ADDRESS},
            "no shipping address",
        ),
    ],
)
async def test_invalid_orders_are_refused_with_every_problem(
    db: Database, workflow: Workflow, method: str, kwargs: dict[str, Any], problem: str
) -> None:
    pid = await add_product(db)
    store = make_store(workflow=workflow)
    with pytest.raises(ValidationFailed) as caught:
        async with db.session() as session:
            await create_order(
                session,
                lines=[CartLine(pid, 1)],
                channel="whatsapp",
                customer=CUSTOMER,
                delivery_method=method,
                store=store,
                settings_version=1,
                **kwargs,
            )
    assert problem in str(caught.value)
    assert await stock_of(db, pid) == 10
    assert await count(db, Order) == 0


async def test_bad_lines_and_unavailable_products_are_refused(
    db: Database, store: StoreDocument
) -> None:
    pid = await add_product(db)
    hidden = await add_product(db, "Old flavour", active=False)
    with pytest.raises(ValidationFailed, match="quantity must be a whole number above 0"):
        await place(db, store, [(pid, 0)])
    with pytest.raises(ValidationFailed, match="the cart is empty"):
        await place(db, store, [])
    with pytest.raises(ProductUnavailable, match="Old flavour is no longer available"):
        await place(db, store, [(hidden, 1)])
    with pytest.raises(ProductUnavailable, match="product 999 does not exist"):
        await place(db, store, [(999, 1)])
    with pytest.raises(ValidationFailed, match="unknown delivery method 'drone'"):
        await place(db, store, [(pid, 1)], method="drone", shipping_address=ADDRESS)


async def test_a_changed_price_is_not_charged_silently(db: Database, store: StoreDocument) -> None:
    pid = await add_product(db, price="499")
    with pytest.raises(QuoteChanged, match=r"the total is now 598\.00 MXN"):
        await place(db, store, [(pid, 1)], expected_total=Decimal("450"))
    order = await place(db, store, [(pid, 1)], expected_total=Decimal("598"))
    assert order.total == Decimal("598.00")


# --- stock ------------------------------------------------------------------------------------


async def test_racing_for_the_last_unit_makes_exactly_one_order(
    db: Database, store: StoreDocument
) -> None:
    pid = await add_product(db, "Última pieza", stock=1)
    results = await asyncio.gather(
        *(place(db, store, [(pid, 1)]) for _ in range(12)), return_exceptions=True
    )
    orders = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, OutOfStock)]
    assert len(orders) == 1, results
    assert len(refused) == 11, results
    assert all(r.available == 0 and "just sold out" in str(r) for r in refused)
    assert await stock_of(db, pid) == 0
    assert await count(db, Order) == 1
    assert orders[0].number == 1001


async def test_racing_many_buyers_never_oversells(db: Database, store: StoreDocument) -> None:
    pid = await add_product(db, stock=7)
    results = await asyncio.gather(
        *(place(db, store, [(pid, 2)]) for _ in range(10)), return_exceptions=True
    )
    orders = [r for r in results if isinstance(r, Order)]
    assert len(orders) == 3
    assert all(isinstance(r, Order | OutOfStock) for r in results), results
    assert await stock_of(db, pid) == 1
    assert sorted(o.number for o in orders) == [1001, 1002, 1003]


async def test_out_of_stock_rolls_back_every_line_and_says_how_many_are_left(
    db: Database, store: StoreDocument
) -> None:
    plenty = await add_product(db, "Plenty", stock=50)
    scarce = await add_product(db, "Scarce", stock=2)
    with pytest.raises(OutOfStock) as caught:
        await place(db, store, [(plenty, 5), (scarce, 3)])
    assert str(caught.value) == "only 2 left of Scarce (asked for 3)"
    assert (caught.value.product_id, caught.value.available) == (scarce, 2)
    assert await stock_of(db, plenty) == 50
    assert await stock_of(db, scarce) == 2
    assert await count(db, Order) == 0
    assert (await place(db, store, [(plenty, 1)])).number == 1001  # no number was used up


async def test_untracked_stock_never_runs_out(db: Database, store: StoreDocument) -> None:
    pid = await add_product(db, stock=None)
    await asyncio.gather(*(place(db, store, [(pid, 1000)]) for _ in range(5)))
    assert await stock_of(db, pid) is None
    assert await count(db, Order) == 5


# --- moves ------------------------------------------------------------------------------------


async def test_cancel_returns_stock_exactly_once(db: Database, store: StoreDocument) -> None:
    tracked = await add_product(db, stock=5)
    untracked = await add_product(db, "Gift card", stock=None)
    await place(db, store, [(tracked, 3), (untracked, 2)])
    assert await stock_of(db, tracked) == 2
    async with db.session() as session:
        order = await change_status(
            session, 1001, "cancelled", "merchant", "owner@shop.mx", "customer asked"
        )
        events = take_order_events(session)
    assert order.status == "cancelled"
    assert [(e.hook, e.old_status, e.new_status, e.actor) for e in events] == [
        ("order_status_changed", "new", "cancelled", "merchant")
    ]
    assert await stock_of(db, tracked) == 5
    assert await stock_of(db, untracked) is None
    with pytest.raises(IllegalStatusMove, match="order #1001 is already cancelled"):
        async with db.session() as session:
            await change_status(session, 1001, "cancelled", "merchant")
    assert await stock_of(db, tracked) == 5
    async with db.read_session() as session:
        saved = await get_order(session, 1001)
    assert [
        (h.to_value, h.actor, h.actor_name, h.note) for h in saved.history if h.field == "status"
    ] == [
        ("new", "agent", "", ""),
        ("cancelled", "merchant", "owner@shop.mx", "customer asked"),
    ]


async def test_concurrent_cancels_return_stock_once(db: Database, store: StoreDocument) -> None:
    pid = await add_product(db, stock=4)
    await place(db, store, [(pid, 4)])

    async def cancel() -> Any:
        async with db.session() as session:
            return await change_status(session, 1001, "cancelled", "merchant")

    results = await asyncio.gather(*(cancel() for _ in range(6)), return_exceptions=True)
    assert sum(isinstance(r, Order) for r in results) == 1
    assert all(isinstance(r, Order | IllegalStatusMove | StaleOrder) for r in results), results
    assert await stock_of(db, pid) == 4


async def test_a_shipping_order_walks_its_flow(db: Database, store: StoreDocument) -> None:
    pid = await add_product(db)
    await place(db, store, [(pid, 1)])
    for to in ("processing", "shipped", "delivered"):
        async with db.session() as session:
            assert (await change_status(session, 1001, to, "merchant")).status == to
    with pytest.raises(IllegalStatusMove):
        async with db.session() as session:
            await change_status(session, 1001, "cancelled", "merchant")
    assert await stock_of(db, pid) == 9  # delivered orders keep their stock taken


async def test_a_stale_move_is_refused(db: Database, store: StoreDocument) -> None:
    pid = await add_product(db)
    await place(db, store, [(pid, 1)], method="pickup")
    async with db.session() as session:
        await change_status(session, 1001, "preparing", "merchant", expected="new")
    # A second merchant, whose page still shows "new", asks to start preparing it.
    with pytest.raises(StaleOrder, match="is now preparing, not new"):
        async with db.session() as session:
            await change_status(session, 1001, "cancelled", "merchant", expected="new")
    with pytest.raises(NotFound, match="#4040"):
        async with db.session() as session:
            await change_status(session, 4040, "cancelled", "merchant")


async def test_payment_flow_receipt_then_merchant_confirms(
    db: Database, store: StoreDocument
) -> None:
    pid = await add_product(db)
    await place(db, store, [(pid, 1)])
    async with db.session() as session:
        receipt = await attach_receipt(
            session, 1001, "receipts/a1.jpg", "image/jpeg", ai_note="amount 598.00"
        )
        events = take_order_events(session)
    assert receipt.id is not None
    assert [(e.hook, e.old_status, e.new_status, e.actor) for e in events] == [
        ("payment_status_changed", "awaiting_payment", "proof_received", "agent")
    ]
    with pytest.raises(IllegalStatusMove, match="only a merchant"):
        async with db.session() as session:
            await change_payment_status(session, 1001, "paid", "agent")
    async with db.session() as session:
        await change_payment_status(session, 1001, "rejected", "merchant", note="not in the bank")
    async with db.session() as session:  # a new receipt after the rejection
        await attach_receipt(session, 1001, "receipts/a2.jpg", "image/png")
    async with db.session() as session:
        order = await change_payment_status(session, 1001, "paid", "merchant", "owner@shop.mx")
    assert order.payment_status == "paid"
    async with db.session() as session:  # a late extra receipt is kept but moves nothing
        await attach_receipt(session, 1001, "receipts/a3.jpg", "image/png")
        await add_note(session, 1001, "called the bank", author="owner@shop.mx")
    async with db.read_session() as session:
        saved = await get_order(session, 1001)
    assert saved.payment_status == "paid"
    assert [r.file_path for r in saved.receipts] == [
        "receipts/a1.jpg",
        "receipts/a2.jpg",
        "receipts/a3.jpg",
    ]
    assert [n.text for n in saved.notes] == ["called the bank"]
    assert [(h.to_value, h.actor) for h in saved.history if h.field == "payment_status"] == [
        ("awaiting_payment", "agent"),
        ("proof_received", "agent"),
        ("rejected", "merchant"),
        ("proof_received", "agent"),
        ("paid", "merchant"),
    ]


async def test_deposit_then_balance_at_the_store(db: Database) -> None:
    pid = await add_product(db, price="1000")
    await place(db, make_store(advance_percent=30), [(pid, 1)], method="pickup")
    for to in ("proof_received", "deposit_paid", "paid", "refunded"):
        actor = "agent" if to == "proof_received" else "merchant"
        async with db.session() as session:
            await change_payment_status(session, 1001, to, actor)
    with pytest.raises(IllegalStatusMove, match="payment is refunded; it can move to: nothing"):
        async with db.session() as session:
            await change_payment_status(session, 1001, "paid", "merchant")


# --- events after commit ------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str | None]] = []

    @hookimpl
    def order_created(self, order: dict[str, Any]) -> None:
        self.calls.append(("order_created", order["number"], None))

    @hookimpl
    async def order_status_changed(
        self, order: dict[str, Any], new_status: str, actor: str
    ) -> None:
        self.calls.append(("order_status_changed", order["number"], f"{new_status}/{actor}"))


async def test_hooks_fire_after_commit_and_never_after_rollback(
    db: Database, store: StoreDocument
) -> None:
    recorder = Recorder()
    pm = create_plugin_manager(allow=[], extra=[recorder])
    pid = await add_product(db, stock=1)
    async with order_transaction(db, pm) as session:
        await create_order(
            session,
            lines=[CartLine(pid, 1)],
            channel="facebook",
            customer=CUSTOMER,
            delivery_method="shipping",
            shipping_address=ADDRESS,
            store=store,
            settings_version=1,
        )
        assert recorder.calls == []  # not before the commit
    assert recorder.calls == [("order_created", 1001, None)]

    with pytest.raises(RuntimeError):
        async with order_transaction(db, pm) as session:
            await change_status(session, 1001, "processing", "merchant")
            raise RuntimeError("something failed later in the same transaction")
    assert recorder.calls == [("order_created", 1001, None)]
    async with order_transaction(db, pm) as session:
        await change_status(session, 1001, "processing", "merchant")
    assert recorder.calls[-1] == ("order_status_changed", 1001, "processing/merchant")


# --- expiry ---------------------------------------------------------------------------------------


async def test_expiry_cancels_only_old_unpaid_orders_and_returns_stock(db: Database) -> None:
    store = make_store(expiry_hours=48, advance_percent=50)
    pid = await add_product(db, stock=20)
    old, fresh = NOW - timedelta(hours=49), NOW - timedelta(hours=47)
    await place(db, store, [(pid, 1)], now=old)  # 1001 expires
    await place(db, store, [(pid, 2)], now=fresh)  # 1002 too recent
    await place(db, store, [(pid, 3)], now=old)  # 1003 has a receipt
    await place(db, store, [(pid, 4)], now=old, method="pickup")  # 1004 deposit unpaid: expires
    await place(db, make_store(), [(pid, 5)], now=old, method="pickup")  # 1005 nothing to pay
    await place(db, store, [(pid, 1)], now=old)  # 1006 the merchant is already processing
    async with db.session() as session:
        await attach_receipt(session, 1003, "receipts/r.jpg", "image/jpeg")
        await change_status(session, 1006, "processing", "merchant")
    assert await stock_of(db, pid) == 4

    async with db.session() as session:
        expired = await expire_unpaid_orders(session, store, now=NOW)
        events = take_order_events(session)
    assert expired == [1001, 1004]
    assert [(e.order["number"], e.new_status, e.actor) for e in events] == [
        (1001, "cancelled", "system"),
        (1004, "cancelled", "system"),
    ]
    assert await stock_of(db, pid) == 9
    async with db.session() as session:  # idempotent
        assert await expire_unpaid_orders(session, store, now=NOW) == []
    assert await stock_of(db, pid) == 9
    async with db.read_session() as session:
        statuses = dict((await session.execute(sa.select(Order.number, Order.status))).all())
        notes = (
            await session.scalars(
                sa.select(OrderStatusChange.note).where(OrderStatusChange.actor == "system")
            )
        ).all()
    assert statuses == {
        1001: "cancelled",
        1002: "new",
        1003: "new",
        1004: "cancelled",
        1005: "new",
        1006: "processing",
    }
    assert notes == ["unpaid after 48 hours", "unpaid after 48 hours"]


async def test_concurrent_expiry_runs_return_stock_once(db: Database) -> None:
    store = make_store(expiry_hours=1)
    pid = await add_product(db, stock=10)
    for _ in range(4):
        await place(db, store, [(pid, 2)], now=NOW - timedelta(hours=2))

    async def expire() -> list[int]:
        async with db.session() as session:
            return await expire_unpaid_orders(session, store, now=NOW)

    runs = await asyncio.gather(*(expire() for _ in range(5)))
    assert sorted(n for run in runs for n in run) == [1001, 1002, 1003, 1004]
    assert await stock_of(db, pid) == 10


async def test_the_expiry_job_runs_in_the_background_and_fires_hooks(db: Database) -> None:
    store = make_store(expiry_hours=1)
    pid = await add_product(db, stock=3)
    await place(db, store, [(pid, 3)], now=datetime.now(UTC) - timedelta(hours=2))
    recorder = Recorder()
    pm = create_plugin_manager(allow=[], extra=[recorder])
    job = asyncio.create_task(run_expiry_job(db, lambda session: store, interval=0.05, pm=pm))
    try:
        for _ in range(200):
            if recorder.calls:
                break
            await asyncio.sleep(0.05)
    finally:
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
    assert recorder.calls == [("order_status_changed", 1001, "cancelled/system")]
    assert await stock_of(db, pid) == 3
