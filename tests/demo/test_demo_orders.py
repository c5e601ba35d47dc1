"""Synthetic orders: totals, statuses and history follow the product's own rules."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from tendero.db import Database
from tendero.db.models import Conversation, Lead, Order, Product
from tendero.db.models import Sequence as SequenceRow
from tendero.demo import generate_orders, load_demo_store
from tendero.errors import Conflict
from tendero.orders import CartLine, create_order
from tendero.orders.serialize import SHIPPING_ADDRESS_KEYS
from tendero.orders.service import Customer, order_search_text
from tendero.orders.status import (
    STATUS_ACTORS,
    STATUS_FLOWS,
    Actor,
    DeliveryMethod,
    OrderStatus,
    deposit_applies,
    payment_actor_may,
    payment_moves,
    status_moves,
)
from tendero.store.service import get_published_with_version

NOW = datetime(2026, 3, 14, 18, 30, tzinfo=UTC)
N = 2000
CENT = Decimal("0.01")


async def _load_orders(db: Database) -> list[Order]:
    async with db.read_session() as session:
        return list(
            await session.scalars(
                sa.select(Order)
                .order_by(Order.number)
                .options(selectinload(Order.items), selectinload(Order.history))
            )
        )


async def test_generated_orders_follow_the_rules(db: Database) -> None:
    await load_demo_store(db)
    seen: list[tuple[int, int]] = []
    result = await generate_orders(
        db, N, seed=7, now=NOW, progress=lambda d, t: seen.append((d, t))
    )

    assert (result.orders, result.first_number, result.last_number) == (N, 1001, 1000 + N)
    assert seen[-1] == (N, N)
    async with db.read_session() as session:
        store, version = await get_published_with_version(session)
        sequence = await session.scalar(
            sa.select(SequenceRow.value).where(SequenceRow.name == "order_number")
        )
        leads = {lead.id: lead for lead in await session.scalars(sa.select(Lead))}
        conversations = {c.id: c for c in await session.scalars(sa.select(Conversation))}
    assert sequence == 1000 + N
    orders = await _load_orders(db)
    assert [o.number for o in orders] == list(range(1001, 1001 + N))
    assert len(leads) == result.leads == len(conversations)
    assert sum(len(o.items) for o in orders) == result.items
    assert sum(len(o.history) for o in orders) == result.status_changes

    threshold, flat = store.shipping.free_threshold, store.shipping.flat_rate
    location_names = {loc.name for loc in store.locations}
    rounding_seen = False
    for order in orders:
        method = DeliveryMethod(order.delivery_method)
        # Totals.
        assert 1 <= len(order.items) <= 4
        assert len({i.sku for i in order.items}) == len(order.items)
        for item in order.items:
            assert item.line_total == item.unit_price * item.quantity
        assert order.subtotal == sum(i.line_total for i in order.items)
        assert order.total == order.subtotal + order.shipping_cost
        assert order.currency == "MXN" and order.settings_version == version
        if method is DeliveryMethod.SHIPPING:
            assert order.shipping_cost == (0 if order.subtotal >= threshold else flat)
            assert order.deposit_amount == 0
            assert order.pickup_location is None and order.pickup_location_name is None
            assert order.ready_at is None
            assert set(order.shipping_address) == set(SHIPPING_ADDRESS_KEYS)
            assert re.fullmatch(r"\d{5}", order.shipping_address["postal_code"])
            assert order.shipping_address["street"] and order.shipping_address["neighborhood"]
        else:
            assert order.shipping_cost == 0
            exact = order.total * store.pickup.advance_payment_percent / 100
            assert order.deposit_amount == exact.quantize(CENT, rounding=ROUND_HALF_UP)
            rounding_seen |= exact != exact.quantize(CENT)
            assert order.shipping_address is None
            assert order.pickup_location_name in location_names
            assert order.pickup_location["name"] == order.pickup_location_name
            assert order.ready_at == order.created_at + timedelta(
                minutes=store.pickup.preparation_minutes
            )

        # Times: the last year, aware UTC, history in order and never in the future.
        assert order.created_at.tzinfo is not None
        assert NOW - timedelta(days=366) <= order.created_at < NOW
        times = [change.created_at for change in order.history]
        assert times == sorted(times) and times[0] == order.created_at
        assert times[-1] <= NOW and order.updated_at == times[-1]

        _check_history(order)

        # Customer: the lead's snapshot, on the lead's channel.
        lead = leads[order.lead_id]
        conversation = conversations[order.conversation_id]
        assert conversation.lead_id == lead.id and conversation.channel == order.channel
        assert (lead.channel, lead.platform_id, lead.name) == (
            order.channel,
            order.customer_platform_id,
            order.customer_name,
        )
        assert lead.created_at <= order.created_at
        assert order.search_text == order_search_text(
            order.number,
            Customer(
                order.customer_name, order.customer_platform_id, order.customer_phone, order.email
            ),
            order.items,
        )
        assert re.fullmatch(r"[^@\s]+@[a-z.]+\.[a-z]+", order.email)
        pattern = {"whatsapp": r"521\d{10}", "facebook": r"\d{16}", "instagram": r"\d{16}"}
        assert re.fullmatch(pattern[order.channel], order.customer_platform_id)
        if order.channel == "whatsapp":
            assert order.customer_phone == "+" + order.customer_platform_id

    assert rounding_seen, "no pickup deposit needed rounding; the check above proves little"
    assert set(Counter(o.channel for o in orders)) == {"whatsapp", "facebook", "instagram"}
    assert set(Counter(o.delivery_method for o in orders)) == {"shipping", "pickup"}
    assert {o.pickup_location_name for o in orders if o.pickup_location_name} == location_names
    statuses = Counter(o.status for o in orders)
    assert statuses["delivered"] + statuses["picked_up"] > N * 0.7
    assert {"new", "cancelled", "delivered", "picked_up", "shipped"} <= set(statuses)
    assert any(o.subtotal >= threshold for o in orders if o.delivery_method == "shipping")
    assert any(o.subtotal < threshold for o in orders if o.delivery_method == "shipping")
    assert max(Counter(o.lead_id for o in orders).values()) > 1  # repeat customers

    # Synthetic orders stand for past sales: the shelf stock is untouched.
    async with db.read_session() as session:
        stock = await session.scalar(
            sa.select(Product.stock).where(Product.sku == "TFR-WHEY-CHO-2LB")
        )
    assert stock == 42


def _check_history(order: Order) -> None:
    """Replay the history with the orders module's move rules."""
    method = DeliveryMethod(order.delivery_method)
    deposit = deposit_applies(method, order.deposit_amount, order.total)
    status = payment = None
    for change in order.history:
        if change.field == "status":
            assert change.from_value == status
            if status is None:
                assert change.to_value == "new" and change.actor == "agent"
            else:
                assert change.to_value in status_moves(status, method)
                assert Actor(change.actor) in STATUS_ACTORS[OrderStatus(change.to_value)]
            status = change.to_value
        else:
            assert change.field == "payment_status"
            assert change.from_value == payment
            if payment is None:
                assert change.to_value in ("awaiting_payment", "not_required")
            else:
                assert change.to_value in payment_moves(payment, deposit=deposit)
                assert payment_actor_may(change.actor, change.to_value)
            payment = change.to_value
        if change.actor == "merchant":
            assert change.actor_name
    assert (status, payment) == (order.status, order.payment_status)
    if order.status != "cancelled":
        assert OrderStatus(order.status) in STATUS_FLOWS[method]
    if method is DeliveryMethod.SHIPPING:
        assert order.payment_status not in ("deposit_paid", "not_required")
        if order.status in ("processing", "shipped", "delivered"):
            assert order.payment_status == "paid"
    else:
        if order.status in ("preparing", "ready_for_pickup"):
            assert order.payment_status == "deposit_paid"
        if order.status == "picked_up":
            assert order.payment_status == "paid"
    if order.status == "new" and order.payment_status == "awaiting_payment":
        # Older ones would have been cancelled by the unpaid-order expiry.
        assert NOW - order.created_at < timedelta(hours=48)


async def test_a_real_order_takes_the_next_number(db: Database) -> None:
    await load_demo_store(db)
    await generate_orders(db, 300, now=NOW)
    async with db.session() as session:
        store, version = await get_published_with_version(session)
        product_id = await session.scalar(
            sa.select(Product.id).where(Product.sku == "TFR-CREA-300")
        )
        order = await create_order(
            session,
            lines=[CartLine(product_id, 2)],
            channel="whatsapp",
            customer={"name": "Ana Núñez", "platform_id": "5215599999999"},
            delivery_method="pickup",
            store=store,
            settings_version=version,
            pickup_location="Sucursal Del Valle",
        )
    assert order.number == 1301
    # A second batch continues after it, without colliding ids or numbers.
    more = await generate_orders(db, 50, now=NOW, seed=2)
    assert (more.first_number, more.last_number) == (1302, 1351)
    orders = await _load_orders(db)
    assert [o.number for o in orders] == list(range(1001, 1352))
    async with db.read_session() as session:
        platform_ids = (await session.execute(sa.select(Lead.channel, Lead.platform_id))).all()
    assert len(platform_ids) == len(set(platform_ids))


async def test_needs_a_published_store(db: Database) -> None:
    with pytest.raises(Conflict, match="load the demo store"):
        await generate_orders(db, 10)


async def test_same_seed_same_orders(tmp_path: Path, sqlite_template: Path) -> None:
    def rows(orders: list[Order]) -> list[tuple[object, ...]]:
        return [
            (
                o.number,
                o.created_at,
                o.customer_name,
                o.total,
                o.status,
                o.payment_status,
                [(i.sku, i.quantity) for i in o.items],
                [c.to_value for c in o.history],
            )
            for o in orders
        ]

    results = []
    for name in ("a.db", "b.db"):
        path = tmp_path / name
        shutil.copyfile(sqlite_template, path)
        db = Database(f"sqlite+aiosqlite:///{path}")
        try:
            await load_demo_store(db)
            await generate_orders(
                db, 500, seed=11, now=NOW, batch_size=128, batches_per_transaction=2
            )
            results.append(rows(await _load_orders(db)))
        finally:
            await db.dispose()
    assert results[0] == results[1]
