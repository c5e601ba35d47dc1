"""The orders service: create orders, move them, attach receipts and notes, expire them.

Every function works inside the caller's write transaction (``db.session()``) and
leaves committing to it; an exception leaves nothing behind. Changes that other parts
of the product care about are recorded as :class:`~tendero.orders.events.OrderEvent`s
on the session, to be published after commit (see :func:`order_transaction`).

Concurrency: stock is taken with one conditional ``UPDATE`` per product, so two
customers racing for the last unit produce exactly one order on SQLite and PostgreSQL
alike. Status moves are conditional on the status the move was checked against, so a
move made meanwhile by someone else makes a later one fail instead of being undone.
Rows are locked in one order everywhere (orders, then products by id, then the order
number counter) so concurrent transactions on PostgreSQL cannot deadlock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from tendero.db.models import (
    Order,
    OrderItem,
    OrderNote,
    OrderStatusChange,
    PaymentReceipt,
    Product,
)
from tendero.db.models import Sequence as SequenceRow
from tendero.db.types import utcnow
from tendero.errors import Conflict, NotFound, ValidationFailed
from tendero.money import quantize
from tendero.orders.events import (
    ORDER_CREATED,
    ORDER_STATUS_CHANGED,
    PAYMENT_STATUS_CHANGED,
    OrderEvent,
    order_transaction,
    record_event,
)
from tendero.orders.serialize import SHIPPING_ADDRESS_KEYS, order_to_json
from tendero.orders.status import (
    Actor,
    DeliveryMethod,
    OrderStatus,
    PaymentStatus,
    allowed_payment_moves,
    check_payment_move,
    check_status_move,
    parse_enum,
)
from tendero.orders.totals import CartLine, Quote, merge_lines, quote
from tendero.plugins import resolve
from tendero.store.document import Location, StoreDocument
from tendero.text import fold

if TYPE_CHECKING:
    import pluggy

    from tendero.db import Database

log = structlog.get_logger(__name__)

ORDER_NUMBER_SEQUENCE = "order_number"
FIRST_ORDER_NUMBER = 1001
REQUIRED_ADDRESS_KEYS = ("street", "postal_code", "city")

_orders = Order.__table__
_products = Product.__table__
_sequences = SequenceRow.__table__


# --- errors --------------------------------------------------------------------------------


class OutOfStock(Conflict):
    """Not enough stock left for a line of the order (the whole order is refused)."""

    def __init__(self, product_id: int, product_name: str, requested: int, available: int) -> None:
        if available <= 0:
            message = f"{product_name} just sold out"
        else:
            message = f"only {available} left of {product_name} (asked for {requested})"
        super().__init__(message)
        self.product_id = product_id
        self.product_name = product_name
        self.requested = requested
        self.available = max(available, 0)


class ProductUnavailable(ValidationFailed):
    """A cart line names a product that does not exist or is no longer sold."""

    def __init__(self, product_id: int, message: str) -> None:
        super().__init__(message)
        self.product_id = product_id


class QuoteChanged(Conflict):
    """The order's total is not the total the customer confirmed (prices changed)."""


class StaleOrder(Conflict):
    """The order changed since the caller looked at it; reload and decide again."""


# --- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    """The customer as the order keeps it (a snapshot; the lead may change later)."""

    name: str = ""
    platform_id: str = ""
    phone: str = ""
    email: str = ""

    @classmethod
    def of(cls, value: Customer | Mapping[str, Any] | None) -> Customer:
        if value is None:
            return cls()
        if isinstance(value, Customer):
            return value
        unknown = set(value) - {"name", "platform_id", "phone", "email"}
        if unknown:
            raise ValidationFailed(f"unknown customer fields: {', '.join(sorted(unknown))}")
        return cls(**{k: str(v or "").strip() for k, v in value.items()})


def order_search_text(number: int, customer: Customer, items: Iterable[Any]) -> str:
    """What the Orders page search box matches: customer, products, SKUs and ``#number``."""
    parts = [f"#{number}", customer.name, customer.email, customer.phone, customer.platform_id]
    for item in items:
        parts += [item.name, item.sku or ""]
    return fold(" ".join(p for p in parts if p))


def _check_lines(lines: Iterable[CartLine]) -> list[CartLine]:
    lines = list(lines)
    if not lines:
        raise ValidationFailed("the cart is empty")
    problems = []
    for line in lines:
        qty = line.quantity
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            problems.append(
                f"product {line.product_id}: quantity must be a whole number above 0, not {qty!r}"
            )
    if problems:
        raise ValidationFailed("invalid cart", details=problems)
    return merge_lines(lines)


def _shipping_address(
    value: Mapping[str, Any] | None, problems: list[str]
) -> dict[str, str] | None:
    if value is None:
        problems.append("a shipping address is required for shipping")
        return None
    unknown = set(value) - set(SHIPPING_ADDRESS_KEYS)
    if unknown:
        problems.append(
            f"unknown address fields: {', '.join(sorted(unknown))} "
            f"(use {', '.join(SHIPPING_ADDRESS_KEYS)})"
        )
    address = {key: str(value.get(key) or "").strip() for key in SHIPPING_ADDRESS_KEYS}
    missing = [key for key in REQUIRED_ADDRESS_KEYS if not address[key]]
    if missing:
        problems.append(f"the shipping address needs: {', '.join(missing)}")
    return address


def _pickup_location(
    value: str | Mapping[str, Any] | Location | None, store: StoreDocument, problems: list[str]
) -> dict[str, str] | None:
    names = [loc.name for loc in store.locations]
    if not names:
        problems.append("the store has no pickup locations")
        return None
    if value is None:
        if len(store.locations) == 1:  # one location: it is the one
            value = store.locations[0]
        else:
            problems.append(f"choose a pickup location: {', '.join(names)}")
            return None
    if isinstance(value, Location):
        name = value.name
    elif isinstance(value, str):
        name = value
    else:
        name = str(value.get("name") or "")
    for location in store.locations:
        if location.name == name:
            # The store's own record, not the caller's copy: the snapshot is the truth.
            return {"name": location.name, "address": location.address}
    problems.append(f"unknown pickup location {name!r}; the store's locations: {', '.join(names)}")
    return None


# --- pricing and stock ---------------------------------------------------------------------


async def price_cart(
    session: AsyncSession,
    lines: Iterable[CartLine],
    store: StoreDocument,
    delivery_method: DeliveryMethod | str,
) -> Quote:
    """Price the cart with current catalog prices; refuse missing or inactive products."""
    method = parse_enum(DeliveryMethod, delivery_method, "delivery method")
    merged = _check_lines(lines)
    ids = [line.product_id for line in merged]
    products = {
        p.id: p for p in await session.scalars(sa.select(Product).where(Product.id.in_(ids)))
    }
    for line in merged:
        product = products.get(line.product_id)
        if product is None:
            raise ProductUnavailable(line.product_id, f"product {line.product_id} does not exist")
        if not product.active:
            raise ProductUnavailable(line.product_id, f"{product.name} is no longer available")
    return quote(merged, products, store, method)


async def _take_stock(session: AsyncSession, product_id: int, name: str, quantity: int) -> None:
    taken = await session.execute(
        sa.update(_products)
        .where(
            _products.c.id == product_id,
            sa.or_(_products.c.stock.is_(None), _products.c.stock >= quantity),
        )
        .values(stock=_products.c.stock - quantity)
    )
    if taken.rowcount == 1:
        return
    left = await session.scalar(sa.select(_products.c.stock).where(_products.c.id == product_id))
    raise OutOfStock(product_id, name, quantity, left or 0)


async def _return_stock(session: AsyncSession, quantities: Mapping[int, int]) -> None:
    """Put stock back for tracked products (untracked ones stay untracked)."""
    for product_id in sorted(quantities):
        await session.execute(
            sa.update(_products)
            .where(_products.c.id == product_id, _products.c.stock.is_not(None))
            .values(stock=_products.c.stock + quantities[product_id])
        )


def _quantities(items: Iterable[OrderItem]) -> dict[int, int]:
    out: dict[int, int] = {}
    for item in items:
        if item.product_id is not None:
            out[item.product_id] = out.get(item.product_id, 0) + item.quantity
    return out


async def next_order_number(session: AsyncSession) -> int:
    """Take the next order number (1001, 1002, ...) inside the caller's transaction.

    The counter row is locked until commit, so numbers are unique and, because a failed
    order rolls back, gap-free in practice.
    """
    bump = (
        sa.update(_sequences)
        .where(_sequences.c.name == ORDER_NUMBER_SEQUENCE)
        .values(value=_sequences.c.value + 1)
        .returning(_sequences.c.value)
    )
    number = (await session.execute(bump)).scalar_one_or_none()
    if number is None:
        # First order ever: create the counter; a concurrent first order may win that
        # insert, and then this one simply increments the row it created.
        await session.execute(
            sa.text(
                "INSERT INTO sequences (name, value) VALUES (:name, :value) "
                "ON CONFLICT (name) DO NOTHING"
            ),
            {"name": ORDER_NUMBER_SEQUENCE, "value": FIRST_ORDER_NUMBER - 1},
        )
        number = (await session.execute(bump)).scalar_one()
    return int(number)


# --- creating an order -----------------------------------------------------------------------


async def create_order(
    session: AsyncSession,
    *,
    lines: Iterable[CartLine],
    channel: str,
    customer: Customer | Mapping[str, Any] | None,
    delivery_method: DeliveryMethod | str,
    store: StoreDocument,
    settings_version: int | None,
    shipping_address: Mapping[str, Any] | None = None,
    pickup_location: str | Mapping[str, Any] | Location | None = None,
    lead_id: int | None = None,
    conversation_id: int | None = None,
    now: datetime | None = None,
    actor: Actor | str = Actor.AGENT,
    actor_name: str = "",
    expected_total: Decimal | None = None,
    source_event: str | None = None,
) -> Order:
    """Create an order from a confirmed cart, taking its stock, in the caller's transaction.

    ``store`` is the settings document the customer was quoted under (its
    ``settings_version`` is recorded). Shipping orders need ``shipping_address`` (the
    contract keys; street, postal_code and city required); pickup orders need
    ``pickup_location``, the name of one of ``store.locations`` (optional when there is
    only one). ``expected_total``: the total the customer confirmed; when the catalog
    changed since, :class:`QuoteChanged` is raised instead of charging another amount.
    ``source_event``: ``<channel>:<message id>`` of the customer message the order answers;
    unique, so one message can never make two orders (see :func:`order_for_source_event`).

    Raises :class:`ValidationFailed` (every problem listed), :class:`ProductUnavailable`,
    :class:`OutOfStock` (nothing is taken: the caller's transaction must roll back, which
    ``db.session()`` does when the exception leaves it) or :class:`QuoteChanged`.
    """
    now = now or utcnow()
    method = parse_enum(DeliveryMethod, delivery_method, "delivery method")
    actor = parse_enum(Actor, actor, "actor")
    who = Customer.of(customer)
    problems: list[str] = []
    if not channel:
        problems.append("the channel is required")
    address = location = None
    if method is DeliveryMethod.SHIPPING:
        if not store.workflow.ships:
            problems.append(f"this store does not ship (workflow {store.workflow})")
        if pickup_location is not None:
            problems.append("a shipping order has no pickup location")
        address = _shipping_address(shipping_address, problems)
    else:
        if not store.workflow.picks_up:
            problems.append(f"this store has no pickup (workflow {store.workflow})")
        if shipping_address is not None:
            problems.append("a pickup order has no shipping address")
        location = _pickup_location(pickup_location, store, problems)
    if problems:
        raise ValidationFailed("the order cannot be created", details=problems)

    priced = await price_cart(session, lines, store, method)
    if expected_total is not None and quantize(expected_total, store.currency) != priced.total:
        raise QuoteChanged(
            f"the total is now {priced.total} {priced.currency}, not the "
            f"{quantize(expected_total, store.currency)} confirmed; prices changed"
        )
    for item in sorted(priced.items, key=lambda i: i.product_id):
        await _take_stock(session, item.product_id, item.name, item.quantity)
    number = await next_order_number(session)

    if method is DeliveryMethod.SHIPPING:
        payment = PaymentStatus.AWAITING_PAYMENT
        ready_at = None
    else:
        payment = (
            PaymentStatus.AWAITING_PAYMENT
            if priced.deposit_amount > 0
            else PaymentStatus.NOT_REQUIRED
        )
        ready_at = now + timedelta(minutes=store.pickup.preparation_minutes)

    order = Order(
        number=number,
        created_at=now,
        updated_at=now,
        channel=channel,
        lead_id=lead_id,
        conversation_id=conversation_id,
        customer_name=who.name,
        customer_platform_id=who.platform_id,
        customer_phone=who.phone,
        email=who.email,
        currency=priced.currency,
        subtotal=priced.subtotal,
        shipping_cost=priced.shipping_cost,
        deposit_amount=priced.deposit_amount,
        total=priced.total,
        delivery_method=method.value,
        shipping_address=address,
        pickup_location=location,
        pickup_location_name=location["name"] if location else None,
        ready_at=ready_at,
        payment_status=payment.value,
        status=OrderStatus.NEW.value,
        settings_version=settings_version,
        search_text=order_search_text(number, who, priced.items),
        source_event=source_event,
        items=[
            OrderItem(
                product_id=item.product_id,
                sku=item.sku,
                name=item.name,
                unit_price=item.unit_price,
                quantity=item.quantity,
                line_total=item.line_total,
            )
            for item in priced.items
        ],
        history=[
            OrderStatusChange(
                field="status",
                from_value=None,
                to_value=OrderStatus.NEW.value,
                actor=actor.value,
                actor_name=actor_name,
                created_at=now,
            ),
            OrderStatusChange(
                field="payment_status",
                from_value=None,
                to_value=payment.value,
                actor=actor.value,
                actor_name=actor_name,
                created_at=now,
            ),
        ],
        receipts=[],
        notes=[],
    )
    session.add(order)
    await session.flush()
    record_event(session, OrderEvent(ORDER_CREATED, order_to_json(order)))
    return order


async def order_for_source_event(session: AsyncSession, source_event: str) -> Order | None:
    """The order created for the customer message ``source_event``, if one was.

    A turn is run again when its process died after the order was committed but before
    the turn was; asking this first makes it find that order instead of a second one.
    """
    return await session.scalar(
        sa.select(Order).where(Order.source_event == source_event).options(*_with_children())
    )


# --- reading and moving one order --------------------------------------------------------------


def _with_children() -> list[Any]:
    return [
        selectinload(Order.items),
        selectinload(Order.history),
        selectinload(Order.receipts),
        selectinload(Order.notes),
    ]


async def get_order(session: AsyncSession, number: int) -> Order:
    """The order with its items, history, receipts and notes; :class:`NotFound` if none."""
    order = await session.scalar(
        sa.select(Order)
        .where(Order.number == number)
        .options(*_with_children())
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise NotFound(f"order #{number} does not exist")
    return order


async def latest_order_for_lead(session: AsyncSession, lead_id: int) -> Order | None:
    """The lead's newest order (by creation time) with its children, or ``None``."""
    return await session.scalar(
        sa.select(Order)
        .where(Order.lead_id == lead_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(1)
        .options(*_with_children())
        .execution_options(populate_existing=True)
    )


async def _get_order_locked(session: AsyncSession, number: int) -> Order:
    # Lock the row first (PostgreSQL; SQLite's writer already holds the database), then
    # read it fresh with its children.
    await session.execute(
        sa.select(_orders.c.id).where(_orders.c.number == number).with_for_update()
    )
    return await get_order(session, number)


async def _move(
    session: AsyncSession,
    order: Order,
    field: str,
    to: str,
    actor: Actor,
    actor_name: str,
    note: str,
    now: datetime,
) -> str:
    """Apply a checked move if the order is still where it was checked; record history."""
    old = getattr(order, field)
    column = _orders.c[field]
    moved = await session.execute(
        sa.update(_orders)
        .where(_orders.c.id == order.id, column == old)
        .values({field: to, "updated_at": now})
    )
    if moved.rowcount != 1:
        raise StaleOrder(f"order #{order.number} changed meanwhile; reload it and try again")
    set_committed_value(order, field, to)
    set_committed_value(order, "updated_at", now)
    order.history.append(
        OrderStatusChange(
            field=field,
            from_value=old,
            to_value=to,
            actor=actor.value,
            actor_name=actor_name,
            note=note,
            created_at=now,
        )
    )
    hook = ORDER_STATUS_CHANGED if field == "status" else PAYMENT_STATUS_CHANGED
    record_event(session, OrderEvent(hook, order_to_json(order), old, to, actor.value))
    return old


def _check_expected(order: Order, field: str, expected: str | None) -> None:
    current = getattr(order, field)
    if expected is not None and expected != current:
        what = "status" if field == "status" else "payment"
        raise StaleOrder(
            f"order #{order.number} {what} is now {current}, not {expected}; "
            "someone changed it meanwhile — reload and decide again"
        )


async def change_status(
    session: AsyncSession,
    number: int,
    to: OrderStatus | str,
    actor: Actor | str,
    actor_name: str = "",
    note: str = "",
    *,
    expected: OrderStatus | str | None = None,
) -> Order:
    """Move order ``number`` to status ``to``; cancelling returns its stock (once).

    ``expected``: the status the caller saw (a panel page); when the order has moved
    since, :class:`StaleOrder` is raised rather than acting on an outdated view.
    Illegal moves raise :class:`IllegalStatusMove` naming the allowed ones.
    """
    order = await _get_order_locked(session, number)
    _check_expected(order, "status", expected)
    target = check_status_move(order, to, actor)
    await _move(session, order, "status", target.value, Actor(actor), actor_name, note, utcnow())
    if target is OrderStatus.CANCELLED:
        await _return_stock(session, _quantities(order.items))
    await session.flush()
    return order


async def change_payment_status(
    session: AsyncSession,
    number: int,
    to: PaymentStatus | str,
    actor: Actor | str,
    actor_name: str = "",
    note: str = "",
    *,
    expected: PaymentStatus | str | None = None,
) -> Order:
    """Move order ``number``'s payment status to ``to`` (money verdicts: merchant only).

    ``expected`` works as in :func:`change_status`.
    """
    order = await _get_order_locked(session, number)
    _check_expected(order, "payment_status", expected)
    target = check_payment_move(order, to, actor)
    await _move(
        session, order, "payment_status", target.value, Actor(actor), actor_name, note, utcnow()
    )
    await session.flush()
    return order


async def attach_receipt(
    session: AsyncSession,
    number: int,
    file_path: str,
    media_type: str,
    message_id: int | None = None,
    ai_note: str = "",
    *,
    actor: Actor | str = Actor.AGENT,
) -> PaymentReceipt:
    """Link a payment receipt image to the order and mark the payment ``proof_received``.

    The receipt is always kept; the payment status moves only where that is allowed
    (from ``awaiting_payment`` or ``rejected``) — a receipt never confirms money.
    ``file_path`` is relative to the data folder.
    """
    actor = parse_enum(Actor, actor, "actor")
    now = utcnow()
    order = await _get_order_locked(session, number)
    receipt = PaymentReceipt(
        file_path=file_path,
        media_type=media_type,
        message_id=message_id,
        ai_note=ai_note,
        received_at=now,
    )
    order.receipts.append(receipt)
    if PaymentStatus.PROOF_RECEIVED in allowed_payment_moves(order, actor):
        await _move(
            session,
            order,
            "payment_status",
            PaymentStatus.PROOF_RECEIVED.value,
            actor,
            "",
            "receipt received",
            now,
        )
    await session.flush()
    return receipt


async def add_note(session: AsyncSession, number: int, text: str, author: str = "") -> OrderNote:
    """Add an internal note (merchants only ever see these; the customer never does)."""
    text = text.strip()
    if not text:
        raise ValidationFailed("the note is empty")
    order = await _get_order_locked(session, number)
    note = OrderNote(author=author, text=text, created_at=utcnow())
    order.notes.append(note)
    await session.flush()
    return note


# --- unpaid-order expiry -------------------------------------------------------------------------


def _expiry_filter(store: StoreDocument, now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        _orders.c.payment_status == PaymentStatus.AWAITING_PAYMENT.value,
        # Only orders nobody has touched: one the merchant moved forward is theirs to judge.
        _orders.c.status == OrderStatus.NEW.value,
        _orders.c.created_at < now - timedelta(hours=store.unpaid_expiry_hours),
    )


async def count_expired_unpaid(
    session: AsyncSession, store: StoreDocument, now: datetime | None = None
) -> int:
    """How many orders :func:`expire_unpaid_orders` would cancel now (a cheap read)."""
    condition = _expiry_filter(store, now or utcnow())
    return int(
        await session.scalar(sa.select(sa.func.count()).select_from(_orders).where(condition)) or 0
    )


async def expire_unpaid_orders(
    session: AsyncSession, store: StoreDocument, now: datetime | None = None
) -> list[int]:
    """Cancel (actor ``system``) every new order still awaiting payment after
    ``store.unpaid_expiry_hours``, returning its stock; the numbers cancelled.

    Idempotent and safe to run from several processes at once: each cancellation is a
    conditional update, so an order is cancelled, and its stock returned, exactly once.
    """
    now = now or utcnow()
    condition = _expiry_filter(store, now)
    ids = (
        await session.scalars(sa.select(_orders.c.id).where(condition).order_by(_orders.c.id))
    ).all()
    if not ids:
        return []
    # One statement for all: it locks every order it cancels before the triggers of
    # ``order_sales`` lock that table's rows (at the statement's end), so it never holds
    # those while waiting for an order a merchant is moving (which would deadlock).
    cancelled = (
        await session.scalars(
            sa.update(_orders)
            .where(_orders.c.id.in_(ids), condition)
            .values(status=OrderStatus.CANCELLED.value, updated_at=now)
            .returning(_orders.c.id)
        )
    ).all()
    if not cancelled:
        return []
    orders = (
        await session.scalars(
            sa.select(Order)
            .where(Order.id.in_(cancelled))
            .order_by(Order.id)
            .options(selectinload(Order.items))
            .execution_options(populate_existing=True)
        )
    ).all()
    returned: dict[int, int] = {}
    hours = store.unpaid_expiry_hours
    for order in orders:
        for product_id, quantity in _quantities(order.items).items():
            returned[product_id] = returned.get(product_id, 0) + quantity
        session.add(
            OrderStatusChange(
                order_id=order.id,
                field="status",
                from_value=OrderStatus.NEW.value,
                to_value=OrderStatus.CANCELLED.value,
                actor=Actor.SYSTEM.value,
                note=f"unpaid after {hours} hours",
                created_at=now,
            )
        )
        record_event(
            session,
            OrderEvent(
                ORDER_STATUS_CHANGED,
                order_to_json(order),
                OrderStatus.NEW.value,
                OrderStatus.CANCELLED.value,
                Actor.SYSTEM.value,
            ),
        )
    # All products of all cancelled orders at once, by id: the same lock order as
    # order creation uses.
    await _return_stock(session, returned)
    await session.flush()
    return [order.number for order in orders]


StoreGetter = Callable[[AsyncSession], "StoreDocument | Awaitable[StoreDocument]"]


async def run_expiry_job(
    db: Database,
    get_store: StoreGetter,
    interval: float = 300.0,
    pm: pluggy.PluginManager | None = None,
) -> None:
    """Expire unpaid orders every ``interval`` seconds, forever (run it as a task).

    ``get_store(session)`` returns the published store document — e.g.
    :func:`tendero.store.service.get_published`. The write transaction is opened only
    when something is due, so an idle store never takes SQLite's write lock.
    """
    while True:
        try:
            async with db.read_session() as session:
                store = await resolve(get_store(session))
                due = await count_expired_unpaid(session, store)
            if due:
                async with order_transaction(db, pm) as session:
                    numbers = await expire_unpaid_orders(session, store)
                if numbers:
                    log.info("expired unpaid orders", numbers=numbers)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unpaid-order expiry failed; retrying next round")
        await asyncio.sleep(interval)
