"""Reading many orders: filters, keyset pages and a streaming iterator for exports.

Orders are always listed newest first by ``(created_at, id)``, the key of an index, and
paged by that key rather than by offset, so page 10,000 costs what page 1 costs and an
export of a million orders holds one batch in memory at a time.

Every filter column has a ``(column, created_at)`` index, so a filtered page walks one
index backwards and stops after a page. Search words of three letters or more use a
trigram index (migration 0003): on PostgreSQL ``pg_trgm`` under ``LIKE``, chosen by the
planner; on SQLite the FTS5 table ``orders_search``. SQLite's planner has no statistics
on how many rows a value or a search matches, so :func:`plan_conditions` asks first, with
capped counts that read at most a few thousand index entries, and steers it: the
smallest filter drives (the others are written ``+column``, which no index serves), and
the search index drives only when its matches are few — a common word is cheaper to
check row by row while walking newest first.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from tendero.db.models import Order, OrderItem
from tendero.errors import ValidationFailed
from tendero.money import json_writer
from tendero.orders.serialize import build_order_json
from tendero.orders.status import DeliveryMethod, OrderStatus, PaymentStatus, parse_enum
from tendero.text import fold

if TYPE_CHECKING:
    from tendero.db import Database

_orders = Order.__table__
_items = OrderItem.__table__
_search_index = sa.table("orders_search", sa.column("rowid"))

TRIGRAM = 3
"""Search words shorter than this cannot use a trigram index; they are checked row by row."""
SEARCH_INDEX_ROWS = 3000
"""On SQLite, a page follows the search index when the search matches at most this many
orders; beyond, matches are common enough that walking newest first finds a page sooner."""
PROBE_ROWS = 20_000
"""Cap of the counts :func:`plan_conditions` runs to size filters before a query."""

# What build_order_json reads: not ``search_text`` (long, and only the search needs it).
_ORDER_JSON_COLUMNS = tuple(
    _orders.c[name]
    for name in (
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
        "ready_at",
        "payment_status",
        "status",
    )
)


_ITEM_JSON_COLUMNS = (
    _items.c.order_id,
    _items.c.sku,
    _items.c.name,
    _items.c.quantity,
    _items.c.unit_price,
    _items.c.line_total,
)


def _raw(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """``column`` read as the driver gives it (no result processing by its type)."""
    return sa.type_coerce(column, sa.types.NullType()).label(column.name)


_RAW_ORDER_COLUMNS = tuple(_raw(column) for column in _ORDER_JSON_COLUMNS)
_RAW_ITEM_COLUMNS = tuple(_raw(column) for column in _ITEM_JSON_COLUMNS)


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

    def search_words(self) -> list[str]:
        """The folded words of ``search``; an order matches when it contains them all."""
        return fold(self.search).split()

    def equalities(self) -> list[tuple[sa.Column[Any], tuple[str, ...]]]:
        """``(column, accepted values)`` of every value filter that is set."""
        return [
            (column, values)
            for column, value in (
                (_orders.c.status, self.status),
                (_orders.c.payment_status, self.payment_status),
                (_orders.c.channel, self.channel),
                (_orders.c.delivery_method, self.delivery_method),
                (_orders.c.pickup_location_name, self.pickup_location),
            )
            if (values := _values(value))
        ]

    def date_conditions(self, *, indexed: bool = True) -> list[sa.ColumnElement[bool]]:
        """The ``since``/``until`` conditions on ``created_at``."""
        created_at = _orders.c.created_at if indexed else _unindexed(_orders.c.created_at)
        out = []
        if self.since:
            out.append(created_at >= self.day_start(self.since))
        if self.until:
            out.append(created_at < self.day_start(self.until + timedelta(days=1)))
        return out

    def conditions(
        self,
        *,
        unindexed: frozenset[str] = frozenset(),
        search_index: bool = False,
        search_ids: Collection[int] | None = None,
    ) -> list[sa.ColumnElement[bool]]:
        """The SQL conditions on ``orders`` this filter stands for (portable SQL).

        For SQLite, :func:`plan_conditions` adds hints: columns named in ``unindexed``
        are written ``+column`` so no index is used for them, and with ``search_index``
        the words of three letters or more go through the FTS5 table — or, when the
        ids it matches are already known, are ``search_ids``.
        """
        out: list[sa.ColumnElement[bool]] = []
        for column, values in self.equalities():
            target = _unindexed(column) if column.name in unindexed else column
            out.append(target == values[0] if len(values) == 1 else target.in_(values))
        out += self.date_conditions(indexed="created_at" not in unindexed)
        words = self.search_words()
        if search_index:
            indexed = [word for word in words if len(word) >= TRIGRAM]
            if search_ids is not None:
                out.append(_orders.c.id.in_(search_ids))
            elif indexed:
                out.append(_orders.c.id.in_(_search_index_ids(indexed)))
            words = [word for word in words if len(word) < TRIGRAM]
        text = _orders.c.search_text
        if "search_text" in unindexed:  # PostgreSQL: no trigram index for this expression
            text = text.concat("")
        for word in words:
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            out.append(text.like(f"%{escaped}%", escape="\\"))
        return out


def _unindexed(column: sa.Column[Any]) -> sa.ColumnElement[Any]:
    """``+orders.column``: the same value, but SQLite will not use an index for it."""
    return sa.literal_column(f"+{_orders.name}.{column.name}", column.type)


def _search_index_ids(words: list[str]) -> sa.Select[Any]:
    """Ids of the orders whose search text contains every word (SQLite FTS5 trigram
    index; each quoted word is a substring match, exactly what ``LIKE '%word%'`` does)."""
    query = " ".join('"' + word.replace('"', '""') + '"' for word in words)
    match = sa.literal_column(_search_index.name).op("MATCH")(sa.literal(query, sa.String))
    return sa.select(_search_index.c.rowid).where(match)


@dataclass(frozen=True)
class QueryPlan:
    """The conditions to run for a filter. ``search_index_drives``: the few orders the
    search index returns are the rows to read, so a page sorts them rather than walking
    the ``created_at`` index (which would test every order against the search)."""

    conditions: list[sa.ColumnElement[bool]]
    search_index_drives: bool = False


async def _capped_count(session: AsyncSession, query: sa.Select[Any], cap: int = PROBE_ROWS) -> int:
    capped = query.limit(cap).subquery()
    return int(await session.scalar(sa.select(sa.func.count()).select_from(capped)) or 0)


async def plan_conditions(
    session: AsyncSession, order_filter: OrderFilter, *, ordered: bool = True
) -> QueryPlan:
    """The conditions of ``order_filter`` written so the session's database runs them
    well: ``ordered`` for a newest-first page, not for counts and sums.

    PostgreSQL plans with its own statistics (and its ``pg_trgm`` index): the portable
    conditions as they are. On SQLite, with two or more indexable filters or a search,
    capped counts size each candidate first (see the module docstring).
    """
    if session.get_bind().dialect.name != "sqlite":
        return await _plan_postgres(session, order_filter, ordered=ordered)
    indexed_words = [w for w in order_filter.search_words() if len(w) >= TRIGRAM]
    equalities = order_filter.equalities()
    dated = bool(order_filter.since or order_filter.until)
    candidates = [column.name for column, _ in equalities] or (["created_at"] if dated else [])
    if not indexed_words and len(candidates) < 2:
        return QueryPlan(order_filter.conditions())

    plain = order_filter.conditions()
    dates = order_filter.date_conditions()
    sizes: dict[str, int] = {}
    if len(candidates) >= 2 or (indexed_words and not ordered):
        for column, values in equalities:
            one = column == values[0] if len(values) == 1 else column.in_(values)
            sizes[column.name] = await _capped_count(
                session, sa.select(sa.literal(1)).select_from(_orders).where(one, *dates)
            )
        if not equalities and dated:
            sizes["created_at"] = await _capped_count(
                session, sa.select(sa.literal(1)).select_from(_orders).where(*dates)
            )
    driver = min(sizes, key=lambda name: sizes[name]) if sizes else None
    every = frozenset([*candidates, "created_at"])

    if indexed_words:
        # A page only needs to know "a few or more" (the cheaper question); a count
        # only whether the index beats the smallest value filter.
        if ordered:
            cap = SEARCH_INDEX_ROWS + 1
        else:
            cap = min(PROBE_ROWS, sizes[driver] + 1) if driver else PROBE_ROWS
        # The probe fetches the ids themselves: when they are all there, the query
        # takes them as a list instead of matching the index a second time.
        ids = list(await session.scalars(_search_index_ids(indexed_words).limit(cap)))
        if ordered:
            limit = SEARCH_INDEX_ROWS
        else:  # a count reads every match: the index unless a filter is smaller
            limit = sizes[driver] if driver else PROBE_ROWS
        if len(ids) <= limit or (not ordered and driver is None):
            conditions = order_filter.conditions(
                unindexed=every, search_index=True, search_ids=ids if len(ids) < cap else None
            )
            return QueryPlan(conditions, search_index_drives=True)
    if driver is None:
        return QueryPlan(plain)
    return QueryPlan(order_filter.conditions(unindexed=every - {driver, "created_at"}))


async def _plan_postgres(
    session: AsyncSession, order_filter: OrderFilter, *, ordered: bool
) -> QueryPlan:
    """PostgreSQL plans with its own statistics, with one exception: counting a search
    within a value filter (the page's counters), it intersects the filter's index with
    the trigram index, and a common word's trigram scan alone takes 100+ ms at a million
    orders. When a value filter selects fewer than :data:`PROBE_ROWS` orders, checking
    the words on those rows is cheaper than any trigram scan, so the search is written
    so the trigram index cannot serve it."""
    plain = QueryPlan(order_filter.conditions())
    if ordered or not order_filter.search_words() or not order_filter.equalities():
        return plain
    dates = order_filter.date_conditions()
    for column, values in order_filter.equalities():
        one = column == values[0] if len(values) == 1 else column.in_(values)
        probe = sa.select(sa.literal(1)).select_from(_orders).where(one, *dates)
        if await _capped_count(session, probe) < PROBE_ROWS:
            return QueryPlan(order_filter.conditions(unindexed=frozenset({"search_text"})))
    return plain


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


async def _read_page(
    session: AsyncSession,
    order_filter: OrderFilter,
    limit: int,
    after: OrderCursor | None,
    *,
    raw: bool,
) -> tuple[list[Any], dict[Any, list[Any]], bool]:
    """The rows of one page, their items by order id, and whether more follow.
    ``raw``: the columns come as the driver gives them (no column types applied)."""
    plan = await plan_conditions(session, order_filter, ordered=True)
    columns = _RAW_ORDER_COLUMNS if raw else _ORDER_JSON_COLUMNS
    query = sa.select(*columns).where(*plan.conditions)
    created_at, ident = _orders.c.created_at, _orders.c.id
    if plan.search_index_drives:
        created_at, ident = _unindexed(created_at), _unindexed(ident)
    if after is not None:
        query = query.where(
            sa.tuple_(created_at, ident)
            < sa.tuple_(
                sa.literal(after.created_at, _orders.c.created_at.type), sa.literal(after.id)
            )
        )
    query = query.order_by(created_at.desc(), ident.desc()).limit(limit + 1)
    rows = (await session.execute(query)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    if not rows:
        return [], {}, False
    items: dict[Any, list[Any]] = {row.id: [] for row in rows}
    item_rows = await session.execute(
        sa.select(*(_RAW_ITEM_COLUMNS if raw else _ITEM_JSON_COLUMNS))
        .where(_items.c.order_id.in_(list(items)))
        .order_by(_items.c.order_id, _items.c.id)
    )
    for item in item_rows:
        items[item.order_id].append(item)
    return rows, items, more


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
    rows, items, more = await _read_page(
        session, order_filter or OrderFilter(), limit, after, raw=False
    )
    if not rows:
        return [], None
    page = [build_order_json(row, items[row.id]) for row in rows]
    last = rows[-1]
    return page, OrderCursor(last.created_at, last.id) if more else None


class _DriverValues:
    """What the column types would make of the driver's raw values, for the export's
    fast path: the same JSON, without SQLAlchemy's per-value processing. Amounts repeat
    (prices, usual totals), so each currency keeps the JSON text of the amounts seen."""

    CACHED_AMOUNTS = 20_000  # per currency; beyond, amounts are written afresh

    def __init__(self, dialect: sa.Dialect) -> None:
        self.sqlite = dialect.name == "sqlite"
        self.amount = _orders.c.total.type.result_processor(dialect, None) or _same
        self.writers: dict[str, Callable[[Any], str]] = {}

    def money_writer(self, currency: str) -> Callable[[Any], str]:
        writer = self.writers.get(currency)
        if writer is None:
            writer = self.writers[currency] = self._writer(json_writer(currency))
        return writer

    def _writer(self, to_json: Callable[[Any], str]) -> Callable[[Any], str]:
        amount, texts, room = self.amount, {}, self.CACHED_AMOUNTS

        def write(raw: Any) -> str:
            if not raw:  # 0 and -0.0 are one key but print differently: never cached
                return to_json(amount(raw))
            text = texts.get(raw)
            if text is None:
                text = to_json(amount(raw))
                if len(texts) < room:
                    texts[raw] = text
            return text

        return write

    def datetime(self, raw: Any) -> datetime:
        if self.sqlite:  # naive UTC text, as SQLAlchemy's SQLite DateTime stores it
            return datetime.fromisoformat(raw).replace(tzinfo=UTC)
        return raw.astimezone(UTC)

    def time(self, raw: Any) -> str | None:
        return None if raw is None else self.datetime(raw).isoformat()

    @staticmethod
    def document(raw: Any) -> Any:
        return json.loads(raw) if isinstance(raw, str) else raw


def _same(value: Any) -> Any:
    return value


async def iter_orders(
    db: Database, order_filter: OrderFilter | None = None, batch_size: int = 1000
) -> AsyncIterator[dict[str, Any]]:
    """Every order matching ``order_filter`` as contract JSON dicts, newest first.

    Streams in keyset batches of ``batch_size``, each read in its own short read
    session, so memory stays flat and no transaction stays open while the consumer
    writes (an export to a slow client does not pin a database snapshot). Orders created
    after the export started are not included. Rows are read as the driver gives them
    and converted here (see :class:`_DriverValues`): the same dicts as
    :func:`fetch_orders_page`, several times faster.
    """
    order_filter = order_filter or OrderFilter()
    after: OrderCursor | None = None
    values: _DriverValues | None = None
    while True:
        async with db.read_session() as session:
            values = values or _DriverValues(session.get_bind().dialect)
            rows, items, more = await _read_page(session, order_filter, batch_size, after, raw=True)
        for row in rows:
            yield build_order_json(
                row,
                items[row.id],
                money_writer=values.money_writer,
                time=values.time,
                document=values.document,
            )
        if not more:
            return
        last = rows[-1]
        after = OrderCursor(values.datetime(last.created_at), last.id)


async def count_orders(session: AsyncSession, order_filter: OrderFilter | None = None) -> int:
    """How many orders match ``order_filter``."""
    order_filter = order_filter or OrderFilter()
    plan = await plan_conditions(session, order_filter, ordered=False)
    query = sa.select(sa.func.count()).select_from(_orders).where(*plan.conditions)
    return int(await session.scalar(query) or 0)
