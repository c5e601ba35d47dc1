"""Reading many orders: filters, keyset pages and a streaming iterator for exports.

Orders are always listed newest first by ``(created_at, id)``, the key of an index, and
paged by that key rather than by offset, so page 10,000 costs what page 1 costs and an
export of a million orders holds one batch in memory at a time.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from tendero.db.models import Order, OrderItem
from tendero.errors import ValidationFailed
from tendero.orders.serialize import build_order_json
from tendero.orders.status import DeliveryMethod, OrderStatus, PaymentStatus, parse_enum
from tendero.text import fold

if TYPE_CHECKING:
    from tendero.db import Database

_orders = Order.__table__
_items = OrderItem.__table__


def _values(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@dataclass(frozen=True)
class OrderFilter:
    """Which orders to list. Each field narrows the list; empty fields do not.

    ``status``, ``payment_status``, ``channel``, ``delivery_method`` and
    ``pickup_location`` take one value or several (any of them matches). ``since`` and
    ``until`` are inclusive calendar days in ``timezone`` (the store's). ``search``
    matches number (``#1001``), customer name, email, phone or platform id, product name
    or SKU — every word must match, accents and case ignored.
    """

    status: str | tuple[str, ...] | None = None
    payment_status: str | tuple[str, ...] | None = None
    channel: str | tuple[str, ...] | None = None
    delivery_method: str | tuple[str, ...] | None = None
    pickup_location: str | tuple[str, ...] | None = None
    since: date | None = None
    until: date | None = None
    search: str = ""
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        for value in _values(self.status):
            parse_enum(OrderStatus, value, "order status")
        for value in _values(self.payment_status):
            parse_enum(PaymentStatus, value, "payment status")
        for value in _values(self.delivery_method):
            parse_enum(DeliveryMethod, value, "delivery method")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed(f"unknown time zone {self.timezone!r}") from None
        if self.since and self.until and self.since > self.until:
            raise ValidationFailed(
                f"the date range ends ({self.until}) before it starts ({self.since})"
            )

    def day_start(self, day: date) -> datetime:
        """Midnight starting ``day`` in the filter's time zone, as UTC."""
        return datetime.combine(day, time.min, tzinfo=ZoneInfo(self.timezone)).astimezone(UTC)

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        """The SQL conditions on ``orders`` this filter stands for."""
        out: list[sa.ColumnElement[bool]] = []
        for column, value in (
            (_orders.c.status, self.status),
            (_orders.c.payment_status, self.payment_status),
            (_orders.c.channel, self.channel),
            (_orders.c.delivery_method, self.delivery_method),
            (_orders.c.pickup_location_name, self.pickup_location),
        ):
            values = _values(value)
            if len(values) == 1:
                out.append(column == values[0])
            elif values:
                out.append(column.in_(values))
        if self.since:
            out.append(_orders.c.created_at >= self.day_start(self.since))
        if self.until:
            out.append(_orders.c.created_at < self.day_start(self.until + timedelta(days=1)))
        for word in fold(self.search).split():
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            out.append(_orders.c.search_text.like(f"%{escaped}%", escape="\\"))
        return out


@dataclass(frozen=True)
class OrderCursor:
    """Where a page ended: the last order's ``(created_at, id)``; opaque to clients."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> OrderCursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            when, _, ident = raw.rpartition("|")
            created_at = datetime.fromisoformat(when)
            if created_at.tzinfo is None:
                raise ValueError("naive")
            return cls(created_at, int(ident))
        except ValueError:
            raise ValidationFailed(f"invalid cursor {token!r}") from None


async def fetch_orders_page(
    session: AsyncSession,
    order_filter: OrderFilter | None = None,
    limit: int = 50,
    after: OrderCursor | None = None,
) -> tuple[list[dict[str, Any]], OrderCursor | None]:
    """One page of order JSON dicts, newest first, and the cursor of the next page
    (``None`` on the last page). Items are loaded for the whole page in one query."""
    if limit < 1:
        raise ValidationFailed("the page size must be at least 1")
    order_filter = order_filter or OrderFilter()
    query = sa.select(_orders).where(*order_filter.conditions())
    if after is not None:
        key = sa.tuple_(_orders.c.created_at, _orders.c.id)
        query = query.where(
            key
            < sa.tuple_(
                sa.literal(after.created_at, _orders.c.created_at.type), sa.literal(after.id)
            )
        )
    query = query.order_by(_orders.c.created_at.desc(), _orders.c.id.desc()).limit(limit + 1)
    rows = (await session.execute(query)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    if not rows:
        return [], None
    items: dict[int, list[Any]] = {row.id: [] for row in rows}
    item_rows = await session.execute(
        sa.select(
            _items.c.order_id,
            _items.c.sku,
            _items.c.name,
            _items.c.quantity,
            _items.c.unit_price,
            _items.c.line_total,
        )
        .where(_items.c.order_id.in_(list(items)))
        .order_by(_items.c.order_id, _items.c.id)
    )
    for item in item_rows:
        items[item.order_id].append(item)
    page = [build_order_json(row, items[row.id]) for row in rows]
    last = rows[-1]
    return page, OrderCursor(last.created_at, last.id) if more else None


async def iter_orders(
    db: Database, order_filter: OrderFilter | None = None, batch_size: int = 1000
) -> AsyncIterator[dict[str, Any]]:
    """Every order matching ``order_filter`` as contract JSON dicts, newest first.

    Streams in keyset batches of ``batch_size``, each read in its own short read
    session, so memory stays flat and no transaction stays open while the consumer
    writes (an export to a slow client does not pin a database snapshot). Orders created
    after the export started are not included.
    """
    after: OrderCursor | None = None
    while True:
        async with db.read_session() as session:
            page, after = await fetch_orders_page(session, order_filter, batch_size, after)
        for order in page:
            yield order
        if after is None:
            return


async def count_orders(session: AsyncSession, order_filter: OrderFilter | None = None) -> int:
    """How many orders match ``order_filter``."""
    order_filter = order_filter or OrderFilter()
    query = sa.select(sa.func.count()).select_from(_orders).where(*order_filter.conditions())
    return int(await session.scalar(query) or 0)
