"""Figures for the Orders page header and its chart, cheap at a million orders.

* :func:`order_counters` — new orders, payments to verify and revenue of the orders an
  :class:`~tendero.orders.query.OrderFilter` selects. Each figure is its own query so
  each can use its own ``(filter, created_at)`` index: the two counts read only the few
  open orders, never the whole table.
* :func:`daily_by_channel` — orders and revenue per day (store time zone) and channel
  over the last ``days`` days. Only those days are read, through the ``created_at``
  index (covering: ``ix_orders_created_at_sales``), grouped in the database.

Revenue is the sum of ``total`` of orders that are not cancelled, per currency (a store
that changed currency has several). SQLite keeps money as floating point, so it is
summed there as whole ten-thousandths, which is exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from tendero.db.models import Order
from tendero.db.types import MONEY_SCALE
from tendero.errors import ValidationFailed
from tendero.orders.query import OrderFilter, count_orders, plan_conditions
from tendero.orders.status import OrderStatus, PaymentStatus

_orders = Order.__table__

CHANNELS = ("whatsapp", "facebook", "instagram")
"""The channels the chart always shows, with zeros when they sold nothing."""


@dataclass(frozen=True)
class OrderCounters:
    """The Orders page header, over the orders the filter selects.

    ``new_orders``: status ``new``; ``payments_to_verify``: payment status
    ``proof_received``; ``revenue``: currency -> sum of ``total`` of the orders that are
    not cancelled (empty when there are none).
    """

    new_orders: int
    payments_to_verify: int
    revenue: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class DailyChannelSales:
    """One bar of the chart: the orders placed on ``day`` (store time zone) through
    ``channel`` — all of them, cancelled ones included — and their revenue per currency
    (cancelled orders excluded). Every row carries every currency of the period."""

    day: date
    channel: str
    orders: int
    revenue: dict[str, Decimal]


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _revenue_sum(dialect: str) -> sa.ColumnElement[object]:
    """``sum(total)`` of the rows that are not cancelled, exact on both engines."""
    not_cancelled = _orders.c.status != OrderStatus.CANCELLED.value
    if dialect == "sqlite":
        units = sa.cast(sa.func.round(_orders.c.total * 10_000), sa.Integer)
        return sa.func.sum(sa.case((not_cancelled, units)))
    return sa.func.sum(sa.case((not_cancelled, _orders.c.total)))


def _amount(value: object, dialect: str) -> Decimal:
    if value is None:
        return Decimal(0).quantize(MONEY_SCALE)
    if dialect == "sqlite":
        return (Decimal(int(value)) / 10_000).quantize(MONEY_SCALE)  # type: ignore[call-overload]
    return Decimal(str(value)).quantize(MONEY_SCALE)


async def order_counters(
    session: AsyncSession,
    order_filter: OrderFilter | None = None,
    revenue_filter: OrderFilter | None = None,
) -> OrderCounters:
    """New orders, payments to verify and revenue of the orders ``order_filter`` selects
    (all orders when ``None``); the revenue over ``revenue_filter`` instead when given
    (e.g. the same filter limited to a period). Three indexed queries; see
    :class:`OrderCounters`."""
    order_filter = order_filter or OrderFilter()
    dialect = _dialect(session)
    new_orders = await _count_within(session, order_filter, "status", OrderStatus.NEW.value)
    to_verify = await _count_within(
        session, order_filter, "payment_status", PaymentStatus.PROOF_RECEIVED.value
    )
    plan = await plan_conditions(session, revenue_filter or order_filter, ordered=False)
    rows = await session.execute(
        sa.select(_orders.c.currency, _revenue_sum(dialect))
        .where(*plan.conditions, _orders.c.status != OrderStatus.CANCELLED.value)
        .group_by(_orders.c.currency)
        .order_by(_orders.c.currency)
    )
    revenue = {currency: _amount(total, dialect) for currency, total in rows}
    return OrderCounters(new_orders, to_verify, revenue)


async def _count_within(
    session: AsyncSession, order_filter: OrderFilter, field_name: str, value: str
) -> int:
    """How many orders the filter selects that also have ``field_name == value``: the
    filter narrowed to that value (so the count is planned with it), or 0 at once when
    the filter already excludes it."""
    chosen = getattr(order_filter, field_name)
    if chosen and value not in ((chosen,) if isinstance(chosen, str) else tuple(chosen)):
        return 0
    return await count_orders(session, replace(order_filter, **{field_name: value}))


_LEGS_PER_QUERY = 100  # SQLite allows 500 terms in a compound SELECT


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


async def daily_by_channel(
    session: AsyncSession,
    days: int = 30,
    timezone: str = "America/Mexico_City",
    today: date | None = None,
    channels: Iterable[str] = CHANNELS,
) -> list[DailyChannelSales]:
    """Orders and revenue per day and channel for the ``days`` days ending ``today``
    (default: today in ``timezone``, the store's), oldest day first, channels in
    ``channels`` order then any other channel that sold. Days without orders are rows
    of zeros, so a chart can plot the list as it is."""
    if days < 1:
        raise ValidationFailed("the chart needs at least one day")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"unknown time zone {timezone!r}") from None
    today = today or datetime.now(zone).date()
    first = today - timedelta(days=days - 1)
    dialect = _dialect(session)
    created = _orders.c.created_at
    # One grouped leg per day between that day's two midnights (computed here, so DST
    # days of 23 or 25 hours are exact and both engines agree with OrderFilter): each
    # leg groups a few thousand rows read in index order, where one GROUP BY on a
    # computed local date would sort the whole period.
    legs = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        legs.append(
            sa.select(
                sa.literal(offset).label("day"),
                _orders.c.channel,
                _orders.c.currency,
                sa.func.count(),
                _revenue_sum(dialect),
            )
            .where(created >= _midnight(day, zone), created < _midnight(day + timedelta(1), zone))
            .group_by(_orders.c.channel, _orders.c.currency)
        )
    counts: dict[tuple[date, str], int] = {}
    sums: dict[tuple[date, str, str], Decimal] = {}
    currencies: set[str] = set()
    seen_channels = list(channels)
    rows = []
    for chunk in range(0, len(legs), _LEGS_PER_QUERY):
        rows += (await session.execute(sa.union_all(*legs[chunk : chunk + _LEGS_PER_QUERY]))).all()
    for offset, channel, currency, count, total in rows:
        key_day = first + timedelta(days=offset)
        counts[key_day, channel] = counts.get((key_day, channel), 0) + int(count)
        sums[key_day, channel, currency] = _amount(total, dialect)
        currencies.add(currency)
        if channel not in seen_channels:
            seen_channels.append(channel)
    zero = Decimal(0).quantize(MONEY_SCALE)
    return [
        DailyChannelSales(
            day=first + timedelta(days=offset),
            channel=channel,
            orders=counts.get((first + timedelta(days=offset), channel), 0),
            revenue={
                currency: sums.get((first + timedelta(days=offset), channel, currency), zero)
                for currency in sorted(currencies)
            },
        )
        for offset in range(days)
        for channel in seen_channels
    ]
