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

Both read the precomputed ``order_sales`` table (orders and totals per quarter hour and
per channel, currency, status, payment status and delivery method, kept by triggers in
the transaction of every order write; migration 0005) whenever the filter is made of
those dimensions and its days start on a quarter hour — every time zone in use today:
then a month is a few thousand rows, whatever the store's size. A search or a pickup
location needs the orders themselves, and so does a day boundary off the quarter hour
(historic local mean times): those read the orders, as ``precomputed=False`` always
does (the reference the table is tested against).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from tendero.db.models import Order, OrderSales
from tendero.db.types import MONEY_SCALE, UTCDateTime
from tendero.errors import ValidationFailed
from tendero.orders.query import OrderFilter, count_orders, plan_conditions
from tendero.orders.status import OrderStatus, PaymentStatus

_orders = Order.__table__
_sales = OrderSales.__table__

SALES_BUCKET = timedelta(minutes=15)
"""The width of an ``order_sales`` bucket (UTC, aligned to the hour)."""

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
    revenue_over: int | None = None
    """Set when a search selects more than this many orders in the revenue period:
    ``revenue`` was not summed (it stays empty) rather than read order by order."""


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


def _units(value: object) -> Decimal:
    """An ``order_sales`` sum (ten-thousandths on both engines) as an amount."""
    return (Decimal(int(value or 0)) / 10_000).quantize(MONEY_SCALE)  # type: ignore[call-overload]


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
    *,
    precomputed: bool = True,
) -> OrderCounters:
    """New orders, payments to verify and revenue of the orders ``order_filter`` selects
    (all orders when ``None``); the revenue over ``revenue_filter`` instead when given
    (e.g. the same filter limited to a period). See :class:`OrderCounters`.

    Read from ``order_sales`` when the filter allows (see the module docstring), else
    from the orders with three indexed queries; ``precomputed=False`` always reads the
    orders. Both give the same figures."""
    order_filter = order_filter or OrderFilter()
    revenue_filter = revenue_filter or order_filter
    dialect = _dialect(session)
    counted = sales_conditions(order_filter) if precomputed else None
    if counted is not None:
        new_orders = await _sales_count(session, order_filter, counted, "status", "new")
        to_verify = await _sales_count(
            session, order_filter, counted, "payment_status", PaymentStatus.PROOF_RECEIVED.value
        )
    else:
        new_orders = await _count_within(session, order_filter, "status", OrderStatus.NEW.value)
        to_verify = await _count_within(
            session, order_filter, "payment_status", PaymentStatus.PROOF_RECEIVED.value
        )
    summed = sales_conditions(revenue_filter) if precomputed else None
    if summed is not None:
        rows = await session.execute(
            sa.select(_sales.c.currency, sa.func.sum(_sales.c.total_units))
            .where(*summed, _sales.c.status != OrderStatus.CANCELLED.value)
            .group_by(_sales.c.currency)
            .having(sa.func.sum(_sales.c.orders) > 0)
            .order_by(_sales.c.currency)
        )
        revenue = {currency: _units(total) for currency, total in rows}
        return OrderCounters(new_orders, to_verify, revenue)
    if revenue_filter.search_words():
        return await _searched_revenue(session, revenue_filter, new_orders, to_verify)
    plan = await plan_conditions(session, revenue_filter, ordered=False)
    rows = await session.execute(
        sa.select(_orders.c.currency, _revenue_sum(dialect))
        .where(*plan.conditions, _orders.c.status != OrderStatus.CANCELLED.value)
        .group_by(_orders.c.currency)
        .order_by(_orders.c.currency)
    )
    revenue = {currency: _amount(total, dialect) for currency, total in rows}
    return OrderCounters(new_orders, to_verify, revenue)


SEARCH_REVENUE_ORDERS = 3000
"""A search's revenue is summed when it selects at most this many orders in the period."""


async def _searched_revenue(
    session: AsyncSession, revenue_filter: OrderFilter, new_orders: int, to_verify: int
) -> OrderCounters:
    """Revenue under a search: its matches are not in ``order_sales``, and a common word
    matches tens of thousands of orders. The matches are read newest first (the page's
    plan) up to :data:`SEARCH_REVENUE_ORDERS`; more than that, and the counters say so
    instead of summing them all."""
    plan = await plan_conditions(session, revenue_filter, ordered=True)
    matches = (
        sa.select(_orders.c.currency, _orders.c.total)
        .where(*plan.conditions, _orders.c.status != OrderStatus.CANCELLED.value)
        .limit(SEARCH_REVENUE_ORDERS + 1)
        .subquery()
    )
    if _dialect(session) == "sqlite":
        amount = sa.cast(sa.func.round(matches.c.total * 10_000), sa.Integer)
    else:
        amount = matches.c.total * 10_000
    rows = (
        await session.execute(
            sa.select(matches.c.currency, sa.func.count(), sa.func.sum(amount))
            .group_by(matches.c.currency)
            .order_by(matches.c.currency)
        )
    ).all()
    if sum(count for _, count, _ in rows) > SEARCH_REVENUE_ORDERS:
        return OrderCounters(new_orders, to_verify, {}, revenue_over=SEARCH_REVENUE_ORDERS)
    revenue = {currency: _units(total) for currency, _, total in rows}
    return OrderCounters(new_orders, to_verify, revenue)


def _on_bucket(moment: datetime) -> bool:
    return moment.second == moment.microsecond == 0 and moment.minute % 15 == 0


def sales_conditions(order_filter: OrderFilter) -> list[sa.ColumnElement[bool]] | None:
    """``order_filter`` as conditions on ``order_sales``, or ``None`` when the table
    cannot answer it exactly: a search or a pickup location (not among its dimensions),
    or a day that does not start on a quarter hour in the filter's time zone."""
    if order_filter.search_words() or _values_of(order_filter.pickup_location):
        return None
    out: list[sa.ColumnElement[bool]] = []
    for column, values in order_filter.equalities():
        target = _sales.c[column.name]
        out.append(target == values[0] if len(values) == 1 else target.in_(values))
    if order_filter.since:
        start = order_filter.day_start(order_filter.since)
        if not _on_bucket(start):
            return None
        out.append(_sales.c.bucket >= start)
    if order_filter.until:
        end = order_filter.day_start(order_filter.until + timedelta(days=1))
        if not _on_bucket(end):
            return None
        out.append(_sales.c.bucket < end)
    return out


def _values_of(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


async def _sales_count(
    session: AsyncSession,
    order_filter: OrderFilter,
    conditions: list[sa.ColumnElement[bool]],
    field_name: str,
    value: str,
) -> int:
    """:func:`_count_within` read from ``order_sales``."""
    chosen = _values_of(getattr(order_filter, field_name))
    if chosen and value not in chosen:
        return 0
    query = sa.select(sa.func.sum(_sales.c.orders)).where(
        *conditions, _sales.c[field_name] == value
    )
    return int(await session.scalar(query) or 0)


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


@lru_cache(maxsize=8)
def _sales_by_day(days: int) -> sa.CompoundSelect[Any]:
    """Orders and revenue per (day, channel, currency) from ``order_sales``, the days
    given as bound midnights ``m0`` … ``m{days}``: one grouped leg per day, each a range
    of the primary key (a ``CASE`` placing every bucket in its day costs more than the
    read). Built once per number of days, so SQLAlchemy compiles it once."""
    midnights = [sa.bindparam(f"m{offset}", type_=UTCDateTime()) for offset in range(days + 1)]
    bucket = _sales.c.bucket
    revenue = sa.case((_sales.c.status != OrderStatus.CANCELLED.value, _sales.c.total_units))
    legs = [
        sa.select(
            sa.literal_column(str(offset)).label("day"),
            _sales.c.channel,
            _sales.c.currency,
            sa.func.sum(_sales.c.orders),
            sa.func.sum(revenue),
        )
        .where(bucket >= midnights[offset], bucket < midnights[offset + 1])
        .group_by(_sales.c.channel, _sales.c.currency)
        .having(sa.func.sum(_sales.c.orders) > 0)
        for offset in range(days)
    ]
    return sa.union_all(*legs)


async def daily_by_channel(
    session: AsyncSession,
    days: int = 30,
    timezone: str = "America/Mexico_City",
    today: date | None = None,
    channels: Iterable[str] = CHANNELS,
    *,
    precomputed: bool = True,
) -> list[DailyChannelSales]:
    """Orders and revenue per day and channel for the ``days`` days ending ``today``
    (default: today in ``timezone``, the store's), oldest day first, channels in
    ``channels`` order then any other channel that sold. Days without orders are rows
    of zeros, so a chart can plot the list as it is.

    Read from ``order_sales`` when every day of the period starts on a quarter hour
    (every time zone in use today), else from the orders; ``precomputed=False`` always
    reads the orders."""
    if days < 1:
        raise ValidationFailed("the chart needs at least one day")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"unknown time zone {timezone!r}") from None
    today = today or datetime.now(zone).date()
    first = today - timedelta(days=days - 1)
    midnights = [_midnight(first + timedelta(days=offset), zone) for offset in range(days + 1)]
    use_sales = precomputed and all(_on_bucket(moment) for moment in midnights)
    dialect = _dialect(session)
    rows = []
    if use_sales:
        for chunk in range(0, days, _LEGS_PER_QUERY):
            legs = min(_LEGS_PER_QUERY, days - chunk)
            bounds = {f"m{k}": midnights[chunk + k] for k in range(legs + 1)}
            found = (await session.execute(_sales_by_day(legs), bounds)).all()
            rows += [(chunk + offset, *rest) for offset, *rest in found]
    else:
        # One grouped leg per day between that day's two midnights (computed here, so
        # DST days of 23 or 25 hours are exact and both engines agree with
        # OrderFilter): each leg groups the rows of one day read in index order, where
        # one GROUP BY on a computed local date would sort the whole period.
        legs = [
            sa.select(
                sa.literal(offset).label("day"),
                _orders.c.channel,
                _orders.c.currency,
                sa.func.count(),
                _revenue_sum(dialect),
            )
            .where(
                _orders.c.created_at >= midnights[offset],
                _orders.c.created_at < midnights[offset + 1],
            )
            .group_by(_orders.c.channel, _orders.c.currency)
            for offset in range(days)
        ]
        for chunk in range(0, len(legs), _LEGS_PER_QUERY):
            query = sa.union_all(*legs[chunk : chunk + _LEGS_PER_QUERY])
            rows += (await session.execute(query)).all()
    counts: dict[tuple[date, str], int] = {}
    sums: dict[tuple[date, str, str], Decimal] = {}
    currencies: set[str] = set()
    seen_channels = list(channels)
    for offset, channel, currency, count, total in rows:
        key_day = first + timedelta(days=offset)
        counts[key_day, channel] = counts.get((key_day, channel), 0) + int(count)
        sums[key_day, channel, currency] = _units(total) if use_sales else _amount(total, dialect)
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
