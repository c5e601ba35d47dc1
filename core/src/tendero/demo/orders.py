"""Synthetic historic orders in bulk: ``generate_orders(db, n)``.

Built for scale (1,000,000 orders in a few minutes on SQLite): rows are generated batch
by batch (never all in memory) and written with driver-level ``executemany`` of 10,000
rows, a few batches per transaction. No ORM objects, no per-row round trips. Values are
bound in exactly the storage form the column types in :mod:`tendero.db.types` produce
(checked by the tests, which read the rows back through the ORM).

What the rows look like:

* Customers (leads) on WhatsApp, Instagram and Messenger, one lead and one conversation
  per (channel, platform id); about 40 % of orders come from returning customers, who
  keep their name, email and address (see :mod:`tendero.demo.people`).
* Order times spread over the last 365 days, busier in the afternoon and evening (store
  timezone) and growing over the year; numbers follow creation time.
* 1–4 lines from the active catalog at today's prices; subtotal, shipping (flat rate, or
  free from the threshold), total and pickup deposit come from the orders module's own
  rules (:mod:`tendero.orders.totals`).
* Status and payment status fit the order's age and delivery method (old orders are
  delivered / picked up or cancelled; recent ones are still moving), and the status
  history holds every move that led there, with the actor who may make it.

Stock is NOT taken for synthetic orders: they stand for sales made long ago, and the
catalog's stock is what is on the shelf today. Cancelling one of the few still-open
synthetic orders later (or letting an unpaid one expire) returns its units, as for
any order.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import math
import random
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tendero.db import Database
from tendero.db.models import Product
from tendero.db.models import Sequence as SequenceRow
from tendero.db.types import utcnow
from tendero.demo.people import customer, mix64
from tendero.errors import Conflict, ValidationFailed
from tendero.money import quantize
from tendero.orders.service import (
    FIRST_ORDER_NUMBER,
    ORDER_NUMBER_SEQUENCE,
    Customer,
    order_search_text,
)
from tendero.orders.status import Actor, DeliveryMethod, OrderStatus, PaymentStatus
from tendero.orders.totals import deposit_amount, shipping_cost
from tendero.store.document import StoreDocument
from tendero.store.service import get_published_with_version
from tendero.text import fold

DEFAULT_SEED = 1
BATCH_SIZE = 10_000
BATCHES_PER_TRANSACTION = 10
DAYS = 365
MERCHANT_STAFF = ("ana@tiendafitroma.mx", "beto@tiendafitroma.mx")

ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``, called after every batch written."""


@dataclass(frozen=True)
class GeneratedOrders:
    """What :func:`generate_orders` wrote."""

    orders: int
    first_number: int | None
    last_number: int | None
    leads: int
    items: int
    status_changes: int
    elapsed: float

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.elapsed if self.elapsed > 0 else 0.0


async def generate_orders(
    db: Database,
    n: int,
    *,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
    batches_per_transaction: int = BATCHES_PER_TRANSACTION,
) -> GeneratedOrders:
    """Write ``n`` synthetic orders (with leads, conversations, items and status history)
    for the published store and its active catalog.

    The same ``seed`` and ``now`` give the same orders. Order numbers are reserved up
    front as one consecutive block from the ``order_number`` sequence, so an order the
    live agent creates meanwhile or afterwards takes the next free number. Raises
    :class:`~tendero.errors.Conflict` when no settings are published or no product is
    active. Meant for demo and benchmark databases: do not run it on a real store.

    Rows are committed every ``batch_size * batches_per_transaction`` orders; if the
    run fails, the orders already committed stay, and the rest of the reserved numbers
    are simply never used.
    """
    if n < 0:
        raise ValidationFailed("the number of orders cannot be negative")
    started = time.perf_counter()
    now = (now or utcnow()).astimezone(UTC)
    async with db.read_session() as session:
        store, version = await get_published_with_version(session)
        products = (
            await session.execute(
                sa.select(Product.id, Product.sku, Product.name, Product.price, Product.category)
                .where(Product.active.is_(True))
                .order_by(Product.id)
            )
        ).all()
        leads_before = await session.scalar(
            sa.select(sa.func.coalesce(sa.func.max(_LEADS.c.id), 0))
        )
    if version is None:
        raise Conflict(
            "no store settings are published yet: load the demo store first (tendero demo)"
        )
    if not products:
        raise Conflict("the catalog has no active products to put in orders")
    if n == 0:
        return GeneratedOrders(0, None, None, 0, 0, 0, time.perf_counter() - started)

    first_number = await _reserve_numbers(db, n)
    postgres = not db.is_sqlite
    factory = _OrderFactory(
        store,
        version,
        products,
        seed=seed,
        now=now,
        lead_key_base=int(leads_before or 0),
        postgres=postgres,
    )
    writer = _BulkWriter(postgres=postgres)
    done = items = changes = 0
    while done < n:
        async with db.engine.begin() as conn:
            ids = await writer.start(conn)
            sizes = []
            for _ in range(batches_per_transaction):
                size = min(batch_size, n - done - sum(sizes))
                if size <= 0:
                    break
                sizes.append(size)

            def make(
                k: int, ids: dict[str, int] = ids, sizes: list[int] = sizes, done: int = done
            ) -> _Rows:
                start = done + sum(sizes[:k])
                return factory.batch(start, sizes[k], n, first_number + start, ids)

            # Generate batch k+1 in a worker thread while the database writes batch k
            # (SQLite and asyncpg do their work without holding the GIL).
            rows = await asyncio.to_thread(make, 0)
            for k in range(len(sizes)):
                writing = asyncio.ensure_future(writer.write(conn, rows))
                try:
                    following = await asyncio.to_thread(make, k + 1) if k + 1 < len(sizes) else None
                finally:
                    await writing  # never leave a write running on a failing transaction
                items += len(rows.items)
                changes += len(rows.changes)
                if progress is not None:
                    progress(done + sum(sizes[: k + 1]), n)
                if following is not None:
                    rows = following
            await writer.finish(conn)
            done += sum(sizes)
    return GeneratedOrders(
        orders=n,
        first_number=first_number,
        last_number=first_number + n - 1,
        leads=factory.leads_created,
        items=items,
        status_changes=changes,
        elapsed=time.perf_counter() - started,
    )


_SEQUENCES = SequenceRow.__table__
_LEADS = sa.table("leads", sa.column("id"))


async def _reserve_numbers(db: Database, n: int) -> int:
    """Take ``n`` consecutive order numbers from the sequence; the first one."""
    bump = (
        sa.update(_SEQUENCES)
        .where(_SEQUENCES.c.name == ORDER_NUMBER_SEQUENCE)
        .values(value=_SEQUENCES.c.value + n)
        .returning(_SEQUENCES.c.value)
    )
    async with db.session() as session:
        last = (await session.execute(bump)).scalar_one_or_none()
        if last is None:
            await session.execute(
                sa.text(
                    "INSERT INTO sequences (name, value) VALUES (:name, :value) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                {"name": ORDER_NUMBER_SEQUENCE, "value": FIRST_ORDER_NUMBER - 1},
            )
            last = (await session.execute(bump)).scalar_one()
    return int(last) - n + 1


# --- status plans ---------------------------------------------------------------------

# One step of an order's history: (field, from, to, actor, note, hours after creation).
Step = tuple[str, str | None, str, str, str, float]

_S, _P = "status", "payment_status"
_AGENT, _MERCHANT, _SYSTEM = Actor.AGENT.value, Actor.MERCHANT.value, Actor.SYSTEM.value
_NEW = OrderStatus.NEW.value
_AWAIT = PaymentStatus.AWAITING_PAYMENT.value
_PROOF = PaymentStatus.PROOF_RECEIVED.value
_PAID = PaymentStatus.PAID.value
_DEPOSIT = PaymentStatus.DEPOSIT_PAID.value
_NOT_REQ = PaymentStatus.NOT_REQUIRED.value
_REJ = PaymentStatus.REJECTED.value
_REFUND = PaymentStatus.REFUNDED.value
_CANCELLED = OrderStatus.CANCELLED.value


@dataclass(frozen=True)
class _Plan:
    """A final (status, payment status) and the history that reaches it."""

    status: str
    payment_status: str
    steps: tuple[Step, ...]
    expiry: bool = False  # the system's unpaid-order expiry: happens at a fixed time

    @property
    def hours(self) -> float:
        return self.steps[-1][5]


# Outcomes, in a fixed order; each age bucket weighs them.
_OUTCOMES = (
    "new_awaiting",
    "new_proof",
    "new_paid",
    "new_rejected",
    "mid1",
    "mid2",
    "final",
    "cancel_expired",
    "cancel_rejected",
    "cancel_refunded",
)
# Age buckets: under 6 hours, under the expiry time, under 10 days, older.
_BUCKET_WEIGHTS = (
    (32, 25, 10, 3, 20, 5, 0, 0, 2, 3),
    (14, 12, 8, 3, 22, 20, 13, 0, 3, 5),
    (0, 1, 1, 0.5, 3, 10, 76, 5, 2, 1.5),
    (0, 0, 0, 0, 0, 0, 92, 5, 1.5, 1.5),
)


def _plans(method: DeliveryMethod, store: StoreDocument) -> dict[str, _Plan]:
    """The history of each outcome for one delivery method under the store's rules."""
    expiry_hours = float(store.unpaid_expiry_hours)
    prep_hours = store.pickup.preparation_minutes / 60
    if method is DeliveryMethod.SHIPPING:
        mid1, mid2, final = OrderStatus.PROCESSING, OrderStatus.SHIPPED, OrderStatus.DELIVERED
        upfront = True
        money = _PAID
    else:
        mid1, mid2, final = (
            OrderStatus.PREPARING,
            OrderStatus.READY_FOR_PICKUP,
            OrderStatus.PICKED_UP,
        )
        upfront = deposit_amount(Decimal(100), store, method) > 0
        money = _DEPOSIT if store.pickup.advance_payment_percent < 100 else _PAID
    initial_payment = _AWAIT if upfront else _NOT_REQ
    created: tuple[Step, ...] = (
        (_S, None, _NEW, _AGENT, "", 0.0),
        (_P, None, initial_payment, _AGENT, "", 0.0),
    )
    proof: Step = (_P, _AWAIT, _PROOF, _AGENT, "", 1.5)
    confirmed: Step = (_P, _PROOF, money, _MERCHANT, "", 3.0)
    rejected: Step = (_P, _PROOF, _REJ, _MERCHANT, "el comprobante no coincide con el monto", 3.0)
    start: Step = (_S, _NEW, mid1.value, _MERCHANT, "", 5.0 if upfront else 0.5)
    if method is DeliveryMethod.SHIPPING:
        second: Step = (
            _S,
            mid1.value,
            mid2.value,
            _MERCHANT,
            "enviado por paquetería con guía",
            30.0,
        )
        third: tuple[Step, ...] = ((_S, mid2.value, final.value, _MERCHANT, "", 96.0),)
    else:
        ready_at = (5.0 if upfront else 0.5) + max(prep_hours, 0.25)
        second = (_S, mid1.value, mid2.value, _MERCHANT, "", ready_at)
        picked: Step = (_S, mid2.value, final.value, _MERCHANT, "", ready_at + 20.0)
        balance: Step = (
            _P,
            money if upfront else _NOT_REQ,
            _PAID,
            _MERCHANT,
            "pagado en tienda",
            ready_at + 20.01,
        )
        third = (picked, balance) if money != _PAID else (picked,)

    if not upfront:  # pickup, paid at the store
        new = _Plan(_NEW, _NOT_REQ, created)
        cancel = _Plan(
            _CANCELLED,
            _NOT_REQ,
            (*created, (_S, _NEW, _CANCELLED, _MERCHANT, "el cliente no pasó a recoger", 72.0)),
        )
        return {
            "new_awaiting": new,
            "new_proof": new,
            "new_paid": new,
            "new_rejected": new,
            "mid1": _Plan(mid1.value, _NOT_REQ, (*created, start)),
            "mid2": _Plan(mid2.value, _NOT_REQ, (*created, start, second)),
            "final": _Plan(final.value, _PAID, (*created, start, second, *third)),
            "cancel_expired": cancel,
            "cancel_rejected": cancel,
            "cancel_refunded": cancel,
        }
    paid = (*created, proof, confirmed)
    final_payment = third[-1][2] if third[-1][0] == _P else money
    return {
        "new_awaiting": _Plan(_NEW, _AWAIT, created),
        "new_proof": _Plan(_NEW, _PROOF, (*created, proof)),
        "new_paid": _Plan(_NEW, money, paid),
        "new_rejected": _Plan(_NEW, _REJ, (*created, proof, rejected)),
        "mid1": _Plan(mid1.value, money, (*paid, start)),
        "mid2": _Plan(mid2.value, money, (*paid, start, second)),
        "final": _Plan(final.value, final_payment, (*paid, start, second, *third)),
        "cancel_expired": _Plan(
            _CANCELLED,
            _AWAIT,
            (
                *created,
                (
                    _S,
                    _NEW,
                    _CANCELLED,
                    _SYSTEM,
                    f"unpaid after {store.unpaid_expiry_hours} hours",
                    expiry_hours,
                ),
            ),
            expiry=True,
        ),
        "cancel_rejected": _Plan(
            _CANCELLED,
            _REJ,
            (
                *created,
                proof,
                rejected,
                (_S, _NEW, _CANCELLED, _MERCHANT, "sin comprobante válido", 30.0),
            ),
        ),
        "cancel_refunded": _Plan(
            _CANCELLED,
            _REFUND,
            (
                *paid,
                (_S, _NEW, _CANCELLED, _MERCHANT, "cancelado a petición del cliente", 8.0),
                (_P, money, _REFUND, _MERCHANT, "reembolso por transferencia", 26.0),
            ),
        ),
    }


def _bucket_tables(store: StoreDocument) -> list[tuple[list[str], list[float]]]:
    """Per age bucket: the outcomes allowed and their cumulative weights."""
    expiry_on = store.unpaid_expiry_hours > 0
    tables = []
    for bucket, weights in enumerate(_BUCKET_WEIGHTS):
        names, cumulative, total = [], [], 0.0
        for name, weight in zip(_OUTCOMES, weights, strict=True):
            if name == "cancel_expired" and not expiry_on:
                continue
            if name == "new_awaiting" and bucket >= 2 and expiry_on:
                continue  # would have been cancelled by the expiry job
            if weight <= 0:
                continue
            total += weight
            names.append(name)
            cumulative.append(total)
        tables.append((names, cumulative))
    return tables


# --- time -----------------------------------------------------------------------------

# Relative share of orders per local hour of the day (chat shops peak in the evening).
_HOUR_WEIGHTS = (
    0.6,
    0.35,
    0.2,
    0.1,
    0.1,
    0.2,
    0.5,
    1.2,
    2.2,
    3.2,
    4.0,
    4.6,
    5.0,
    5.2,
    5.0,
    4.6,
    4.8,
    5.4,
    6.0,
    6.6,
    7.0,
    6.6,
    4.8,
    2.4,
)
_HOUR_CUMULATIVE = [0.0]
for _weight in _HOUR_WEIGHTS:
    _HOUR_CUMULATIVE.append(_HOUR_CUMULATIVE[-1] + _weight)
_DAY_WEIGHT = _HOUR_CUMULATIVE[-1]


def _seconds_into_day(share: float) -> float:
    """Where a share (0..1) of a day's orders falls, in seconds after local midnight."""
    target = share * _DAY_WEIGHT
    hour = min(bisect.bisect_right(_HOUR_CUMULATIVE, target) - 1, 23)
    return (hour + (target - _HOUR_CUMULATIVE[hour]) / _HOUR_WEIGHTS[hour]) * 3600.0


def _share_of_day(seconds: float) -> float:
    """The inverse of :func:`_seconds_into_day`."""
    hour = min(int(seconds // 3600), 23)
    within = seconds / 3600.0 - hour
    return (_HOUR_CUMULATIVE[hour] + within * _HOUR_WEIGHTS[hour]) / _DAY_WEIGHT


# --- the generator ----------------------------------------------------------------------


@dataclass(slots=True)
class _Rows:
    leads: list[tuple[Any, ...]]
    conversations: list[tuple[Any, ...]]
    orders: list[tuple[Any, ...]]
    items: list[tuple[Any, ...]]
    changes: list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class _CatalogItem:
    id: int
    sku: str
    name: str
    price: Decimal  # as the orders module prices it (quantized)
    bound_price: Any  # as the driver takes it
    folded: _SearchItem


@dataclass(frozen=True, slots=True)
class _SearchItem:
    """Name and SKU already folded: ``order_search_text`` folds them again for free."""

    name: str
    sku: str


# Lines per order: 1 (50 %), 2 (30 %), 3 (14 %), 4 (6 %).
_LINE_COUNT_CUMULATIVE = (50.0, 80.0, 94.0)
# Relative popularity by category (protein sells most).
_CATEGORY_WEIGHT = {"Proteínas": 6.0, "Suplementos": 4.0, "Pre-entrenos": 3.0, "Snacks": 2.5}


def _sqlite_time(value: datetime) -> str:
    # What SQLAlchemy's SQLite DateTime stores for UTCDateTime: naive UTC text.
    return value.isoformat(" ", "microseconds")


def _postgres_time(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


class _OrderFactory:
    """Generates the rows of consecutive orders, deterministically from the seed.

    Rows come out ready for the driver: times, money and JSON already in the form the
    column types would bind (SQLite: text; PostgreSQL: aware datetimes and Decimals).
    """

    def __init__(
        self,
        store: StoreDocument,
        settings_version: int,
        products: list[Any],
        *,
        seed: int,
        now: datetime,
        lead_key_base: int,
        postgres: bool,
    ) -> None:
        self.store = store
        self.settings_version = settings_version
        self.currency = store.currency
        self.rng = random.Random(seed)
        self.salt = mix64(seed)
        self.now = now.replace(tzinfo=None)  # naive UTC inside; bound at the end
        self.bind_time: Callable[[datetime], Any] = _postgres_time if postgres else _sqlite_time
        self.bind_money: Callable[[Decimal], Any] = _identity if postgres else str
        self.lead_key_base = lead_key_base
        self.leads_created = 0
        self.lead_ids = array("q")
        self.conversation_ids = array("q")

        catalog = []
        for p in products:
            price = quantize(p.price, self.currency)
            folded = _SearchItem(fold(p.name), fold(p.sku or ""))
            catalog.append(
                _CatalogItem(p.id, p.sku or "", p.name, price, self.bind_money(price), folded)
            )
        self.catalog = catalog
        weights = [_CATEGORY_WEIGHT.get(p.category, 1.5) for p in products]
        self.catalog_cumulative = _accumulate(weights)
        self.zero = quantize(Decimal(0), self.currency)

        methods = []
        if store.workflow.ships:
            methods.append((DeliveryMethod.SHIPPING, 65.0))
        if store.workflow.picks_up and store.locations:
            methods.append((DeliveryMethod.PICKUP, 35.0))
        if not methods:
            raise Conflict("the store's workflow has no delivery method the demo can use")
        self.methods = [m for m, _ in methods]
        self.method_cumulative = _accumulate([w for _, w in methods])
        self.plans = {m: _plans(m, store) for m in self.methods}
        self.buckets = _bucket_tables(store)
        self.expiry_seconds = store.unpaid_expiry_hours * 3600.0
        self.locations = [
            (loc.name, json.dumps({"name": loc.name, "address": loc.address}))
            for loc in store.locations
        ]
        self.location_cumulative = _accumulate(
            [2.0 if i == 0 else 1.0 for i in range(len(self.locations))]
        )
        self.preparation = timedelta(minutes=store.pickup.preparation_minutes)

        # Local days of the last year, ending today; today only up to "now".
        tz = ZoneInfo(store.company.timezone)
        now_local = now.astimezone(tz)
        today = now_local.date()
        self.day_starts = [
            datetime.combine(today - timedelta(days=DAYS - 1 - d), clock(0), tzinfo=tz)
            .astimezone(UTC)
            .replace(tzinfo=None)
            for d in range(DAYS)
        ]
        elapsed_today = (now_local - datetime.combine(today, clock(0), tzinfo=tz)).total_seconds()
        self.today_share = max(_share_of_day(min(elapsed_today, 86_399.0)), 1e-9)

    # -- pieces ------------------------------------------------------------------------

    def _created_at(self, index: int, total: int) -> datetime:
        """Creation time of order ``index`` of ``total``: increasing with the index."""
        x = (index + self.rng.random()) / total
        # Orders grow over the year: density 1 + t on [0, 1]; invert its CDF.
        t = min(-1.0 + math.sqrt(1.0 + 3.0 * x), 0.999_999_999)
        position = t * DAYS
        day = int(position)
        share = position - day
        if day == DAYS - 1:
            share *= self.today_share
        created = self.day_starts[day] + timedelta(seconds=_seconds_into_day(share))
        return min(created, self.now - timedelta(seconds=1))

    def _bucket(self, age: float) -> int:
        if age < 6 * 3600:
            return 0
        if age < max(self.expiry_seconds, 48 * 3600):
            return 1
        if age < 10 * 86_400:
            return 2
        return 3

    def batch(
        self, start: int, count: int, total: int, first_number: int, ids: dict[str, int]
    ) -> _Rows:
        """The rows of orders ``start`` .. ``start + count - 1`` (numbered from
        ``first_number``), taking ids from ``ids`` (next free id per table)."""
        random_ = self.rng.random
        pick = bisect.bisect  # pick(cumulative, random_() * total): a weighted choice
        catalog = self.catalog
        catalog_cumulative = self.catalog_cumulative
        catalog_total = catalog_cumulative[-1]
        currency = self.currency
        store = self.store
        zero = self.zero
        now = self.now
        bind_time = self.bind_time
        bind_money = self.bind_money
        dumps = json.dumps
        shipping_method = DeliveryMethod.SHIPPING
        methods, method_cumulative = self.methods, self.method_cumulative
        locations, location_cumulative = self.locations, self.location_cumulative
        method_total = method_cumulative[-1]
        location_total = location_cumulative[-1] if locations else 0.0
        rows = _Rows([], [], [], [], [])
        leads, conversations = rows.leads, rows.conversations
        orders, items, changes = rows.orders, rows.items, rows.changes
        lead_id_next = ids["leads"]
        conversation_id_next = ids["conversations"]
        order_id = ids["orders"] - 1
        item_id = ids["order_items"]
        change_id = ids["order_status_changes"]

        for offset in range(count):
            index = start + offset
            number = first_number + offset
            created = self._created_at(index, total)
            age = (now - created).total_seconds()
            created_bound = bind_time(created)
            order_id += 1

            # Who: a new customer, or one who bought before.
            new_lead = self.leads_created == 0 or random_() < 0.6
            local = self.leads_created if new_lead else int(random_() * self.leads_created)
            person = customer(self.salt, self.lead_key_base + local)
            method = methods[pick(method_cumulative, random_() * method_total)]
            shipping = method is shipping_method
            address = dumps(person.address) if shipping else None
            if new_lead:
                self.leads_created += 1
                lead_id, conversation_id = lead_id_next, conversation_id_next
                lead_id_next += 1
                conversation_id_next += 1
                self.lead_ids.append(lead_id)
                self.conversation_ids.append(conversation_id)
                lead_created = bind_time(created - timedelta(minutes=5 + 175 * random_()))
                leads.append(
                    (
                        lead_id,
                        person.channel,
                        person.platform_id,
                        person.name,
                        person.phone,
                        person.email,
                        address,
                        lead_created,
                    )
                )
                conversations.append(
                    (
                        conversation_id,
                        lead_id,
                        person.channel,
                        "es",
                        False,
                        None,
                        created_bound,
                        created_bound,
                        lead_created,
                    )
                )
            else:
                lead_id = self.lead_ids[local]
                conversation_id = self.conversation_ids[local]

            # What: 1-4 different products, mostly one unit each.
            wanted = 1 + pick(_LINE_COUNT_CUMULATIVE, random_() * 100.0)
            picked: list[_CatalogItem] = []
            for _ in range(wanted + 2):
                product = catalog[pick(catalog_cumulative, random_() * catalog_total)]
                if product not in picked:
                    picked.append(product)
                    if len(picked) == wanted:
                        break
            subtotal = zero
            for product in picked:
                roll = random_()
                quantity = 1 if roll < 0.78 else 2 if roll < 0.95 else 3
                line_total = product.price * quantity
                subtotal += line_total
                items.append(
                    (
                        item_id,
                        order_id,
                        product.id,
                        product.sku,
                        product.name,
                        product.bound_price,
                        quantity,
                        bind_money(line_total),
                    )
                )
                item_id += 1

            # The orders module's own rules for shipping and the pickup deposit.
            shipping_cost_ = shipping_cost(subtotal, store) if shipping else zero
            total_ = subtotal + shipping_cost_
            if shipping:
                deposit = zero
                location_name = location_json = ready_at = None
            else:
                deposit = deposit_amount(total_, store, method)
                location_name, location_json = locations[
                    pick(location_cumulative, random_() * location_total)
                ]
                ready_at = bind_time(created + self.preparation)

            # Where it is now, and how it got there.
            names, cumulative = self.buckets[self._bucket(age)]
            plan = self.plans[method][names[pick(cumulative, random_() * cumulative[-1])]]
            if plan.expiry:
                stretch = 1.0
                # The expiry job runs every few minutes; never later than now.
                extra = min(60.0 + 240.0 * random_(), age - self.expiry_seconds - 1.0)
            else:
                stretch = 0.6 + 1.2 * random_()
                extra = 0.0
                room = age - 60.0
                if plan.hours * stretch * 3600.0 > room:
                    stretch = max(room, 0.0) / (plan.hours * 3600.0) if plan.hours else 0.0
            staff = MERCHANT_STAFF[index & 1]
            updated = created_bound
            for field, from_value, to_value, actor, note, hours in plan.steps:
                if hours:
                    at = bind_time(created + timedelta(seconds=hours * stretch * 3600.0 + extra))
                    updated = at
                else:
                    at = created_bound
                changes.append(
                    (
                        change_id,
                        order_id,
                        field,
                        from_value,
                        to_value,
                        actor,
                        staff if actor == _MERCHANT else "",
                        note,
                        at,
                    )
                )
                change_id += 1

            searchable = Customer(
                person.folded_name, person.platform_id, person.phone, person.email
            )
            orders.append(
                (
                    order_id,
                    number,
                    created_bound,
                    updated,
                    person.channel,
                    lead_id,
                    conversation_id,
                    person.name,
                    person.platform_id,
                    person.phone,
                    person.email,
                    currency,
                    bind_money(subtotal),
                    bind_money(shipping_cost_),
                    bind_money(deposit),
                    bind_money(total_),
                    method.value,
                    address,
                    location_json,
                    location_name,
                    ready_at,
                    plan.payment_status,
                    plan.status,
                    self.settings_version,
                    order_search_text(number, searchable, [p.folded for p in picked]),
                )
            )

        ids.update(
            leads=lead_id_next,
            conversations=conversation_id_next,
            orders=order_id + 1,
            order_items=item_id,
            order_status_changes=change_id,
        )
        return rows


def _accumulate(weights: list[float]) -> list[float]:
    """Cumulative weights, for ``random.choices(cum_weights=...)``."""
    out, total = [], 0.0
    for weight in weights:
        total += weight
        out.append(total)
    return out


# --- writing ----------------------------------------------------------------------------

_COLUMNS: dict[str, tuple[str, ...]] = {
    "leads": (
        "id",
        "channel",
        "platform_id",
        "name",
        "phone",
        "email",
        "last_address",
        "created_at",
    ),
    "conversations": (
        "id",
        "lead_id",
        "channel",
        "language",
        "needs_human",
        "agent_paused_until",
        "last_inbound_at",
        "last_message_at",
        "created_at",
    ),
    "orders": (
        "id",
        "number",
        "created_at",
        "updated_at",
        "channel",
        "lead_id",
        "conversation_id",
        "customer_name",
        "customer_platform_id",
        "customer_phone",
        "email",
        "currency",
        "subtotal",
        "shipping_cost",
        "deposit_amount",
        "total",
        "delivery_method",
        "shipping_address",
        "pickup_location",
        "pickup_location_name",
        "ready_at",
        "payment_status",
        "status",
        "settings_version",
        "search_text",
    ),
    "order_items": (
        "id",
        "order_id",
        "product_id",
        "sku",
        "name",
        "unit_price",
        "quantity",
        "line_total",
    ),
    "order_status_changes": (
        "id",
        "order_id",
        "field",
        "from_value",
        "to_value",
        "actor",
        "actor_name",
        "note",
        "created_at",
    ),
}
_TABLES = ("leads", "conversations", "orders", "order_items", "order_status_changes")


class _BulkWriter:
    """``executemany`` straight to the driver (no per-row SQLAlchemy work), with ids
    assigned by the generator from the next free id read inside the transaction.

    Values arrive already bound (see :class:`_OrderFactory`): SQLite gets times as the
    text SQLAlchemy's DateTime stores (naive UTC, microseconds) and money as decimal
    text, like :class:`~tendero.db.types.Money`; PostgreSQL gets aware datetimes and
    ``Decimal``. JSON columns get JSON text on both (the asyncpg dialect's JSONB codec
    takes text).
    """

    def __init__(self, *, postgres: bool) -> None:
        self.postgres = postgres
        self.sql = {}
        for table, columns in _COLUMNS.items():
            if postgres:
                marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
            else:
                marks = ", ".join("?" for _ in columns)
            self.sql[table] = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"

    async def start(self, conn: AsyncConnection) -> dict[str, int]:
        """The next free id of every table, read inside the write transaction."""
        ids = {}
        if self.postgres:
            # Keep the live app's inserts out while ids are handed out by hand.
            await conn.exec_driver_sql(f"LOCK TABLE {', '.join(_TABLES)} IN EXCLUSIVE MODE")
        for table in _TABLES:
            top = (await conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar()
            top = int(top or 0)
            if self.postgres:
                sequence = (
                    await conn.exec_driver_sql(f"SELECT pg_get_serial_sequence('{table}', 'id')")
                ).scalar()
                if sequence:
                    last = (
                        await conn.exec_driver_sql(
                            f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence}"
                        )
                    ).scalar()
                    top = max(top, int(last or 0))
            ids[table] = top + 1
        return ids

    async def write(self, conn: AsyncConnection, rows: _Rows) -> None:
        raw = (await conn.get_raw_connection()).driver_connection if self.postgres else None
        for table, data in (
            ("leads", rows.leads),
            ("conversations", rows.conversations),
            ("orders", rows.orders),
            ("order_items", rows.items),
            ("order_status_changes", rows.changes),
        ):
            if not data:
                continue
            if raw is not None:
                # COPY (binary) inside the same transaction: several times executemany's speed.
                await raw.copy_records_to_table(table, records=data, columns=list(_COLUMNS[table]))
            else:
                await conn.exec_driver_sql(self.sql[table], data)

    async def finish(self, conn: AsyncConnection) -> None:
        """On PostgreSQL, move each id sequence past the ids used by hand."""
        if not self.postgres:
            return
        for table in _TABLES:
            await conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"
            )


def _identity(value: Any) -> Any:
    return value
