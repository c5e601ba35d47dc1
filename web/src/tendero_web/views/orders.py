"""The Orders page, an order's detail page, its moves and the export.

* ``GET /orders`` — the filtered table, newest first, in keyset pages (``?after=``),
  with the counters, the 30-day chart and the export menu. Every filter lives in the
  query string, so a filtered view can be bookmarked, shared and gone back to; a value
  that makes no sense is answered with a message, never a 500.
* ``GET /orders/export`` — the current filter as a file, streamed through any exporter a
  plugin registers.
* ``GET /orders/{number}`` — everything about one order, and forms for the moves the
  rules allow now. Each move form carries the status the page showed (``expected``), so
  a move someone else made meanwhile is not silently overridden.

Writes go through the orders service inside :func:`~tendero.orders.order_transaction`,
so plugins hear about them after commit, like moves made from the API or the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from aiohttp import web
from markupsafe import Markup
from tendero.app import CHANNELS, DATABASE, PLUGINS
from tendero.db.models import Message
from tendero.errors import NotFound, ValidationFailed
from tendero.exporting import ROWS, ChunkedSink, collect_exporters
from tendero.orders import (
    Actor,
    DeliveryMethod,
    IllegalStatusMove,
    OrderCursor,
    OrderFilter,
    OrderStatus,
    PaymentStatus,
    StaleOrder,
    add_note,
    allowed_payment_moves,
    allowed_status_moves,
    change_payment_status,
    change_status,
    fetch_orders_page,
    get_order,
    iter_orders,
    order_transaction,
)
from tendero.orders.stats import daily_by_channel, order_counters
from tendero.store.document import StoreDocument
from yarl import URL

from tendero_web import charts, icons, panel, security

routes = web.RouteTableDef()

PAGE_SIZE = 50
CHART_DAYS = 30
MAX_SEARCH = 200
MAX_NOTE = 2000
MAX_TRANSCRIPT = 1000  # messages shown on the detail page; the conversation page has all
MAX_ORDER_NUMBER = 2**63 - 1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")

# Labels (English; translated in templates with ``_``) and badge colours by meaning.
STATUS_LABELS = {
    "new": "New",
    "processing": "Processing",
    "shipped": "Shipped",
    "delivered": "Delivered",
    "preparing": "Preparing",
    "ready_for_pickup": "Ready for pickup",
    "picked_up": "Picked up",
    "cancelled": "Cancelled",
}
STATUS_BADGES = {
    "new": "badge-info",
    "processing": "badge-warn",
    "preparing": "badge-warn",
    "shipped": "badge-info",
    "ready_for_pickup": "badge-info",
    "delivered": "badge-ok",
    "picked_up": "badge-ok",
    "cancelled": "badge-bad",
}
PAYMENT_LABELS = {
    "awaiting_payment": "Awaiting payment",
    "proof_received": "Receipt to verify",
    "paid": "Paid",
    "deposit_paid": "Deposit paid",
    "not_required": "Pay at pickup",
    "rejected": "Receipt rejected",
    "refunded": "Refunded",
}
PAYMENT_BADGES = {
    "awaiting_payment": "",
    "proof_received": "badge-warn",
    "paid": "badge-ok",
    "deposit_paid": "badge-ok",
    "not_required": "",
    "rejected": "badge-bad",
    "refunded": "",
}
DELIVERY_LABELS = {"shipping": "Shipping", "pickup": "Pickup"}
ACTOR_LABELS = {"agent": "Agent", "merchant": "Merchant", "system": "System"}
# The buttons of the status moves, in the order the flow goes.
MOVE_LABELS = {
    "processing": "Start processing",
    "shipped": "Mark as shipped",
    "delivered": "Mark as delivered",
    "preparing": "Start preparing",
    "ready_for_pickup": "Mark as ready for pickup",
    "picked_up": "Mark as picked up",
    "cancelled": "Cancel order",
}
# The merchant's payment verdicts shown as buttons (a receipt arrives from the customer).
PAYMENT_MOVE_LABELS = {
    "paid": "Confirm payment",
    "deposit_paid": "Confirm deposit",
    "rejected": "Reject receipt",
    "refunded": "Mark as refunded",
}
# Filters that take one value or several (``?status=new&status=processing``).
MULTI_FILTERS = ("status", "payment_status", "channel", "delivery_method", "pickup_location")
FILTER_PARAMS = (*MULTI_FILTERS, "since", "until", "q")


# --- filters -------------------------------------------------------------------------------


@dataclass
class Filters:
    """The filters of a request: the raw values (to refill the form and build links),
    the :class:`OrderFilter` they make, the page cursor and any problems found."""

    values: dict[str, list[str]]
    order_filter: OrderFilter
    after: OrderCursor | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return any(self.values.values())

    def query(self, **extra: str) -> list[tuple[str, str]]:
        """The query string of these filters (plus ``extra``), for links and forms."""
        pairs = [(name, value) for name in FILTER_PARAMS for value in self.values.get(name, [])]
        return pairs + [(k, v) for k, v in extra.items() if v]

    def url(self, path: str, **extra: str) -> str:
        return str(URL(path).with_query(self.query(**extra)))


def _day(raw: str, what: str, _: Any, errors: list[str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(
            _("“{value}” is not a date for “{field}”; use YYYY-MM-DD.", value=raw, field=what)
        )
        return None


def read_filters(request: web.Request, store: StoreDocument, _: Any) -> Filters:
    """The filters in the request's query, checked; problems are listed, not raised."""
    query = request.query
    values: dict[str, list[str]] = {}
    for name in MULTI_FILTERS:
        found = [v.strip() for v in query.getall(name, []) if v.strip()]
        values[name] = list(dict.fromkeys(found))
    for name in ("since", "until", "q"):
        values[name] = [v for v in [query.get(name, "").strip()] if v]
    errors: list[str] = []
    checks: tuple[tuple[str, type[StrEnum], str], ...] = (
        ("status", OrderStatus, _("Unknown order status “{value}”.")),
        ("payment_status", PaymentStatus, _("Unknown payment status “{value}”.")),
        ("delivery_method", DeliveryMethod, _("Unknown delivery method “{value}”.")),
    )
    for name, enum, message in checks:
        known = {member.value for member in enum}
        errors += [message.format(value=value) for value in values[name] if value not in known]
        values[name] = [value for value in values[name] if value in known]
    search = values["q"][0] if values["q"] else ""
    if len(search) > MAX_SEARCH:
        errors.append(_("The search is too long (at most {n} characters).", n=MAX_SEARCH))
        search = search[:MAX_SEARCH]
    since = _day(values["since"][0] if values["since"] else "", _("From"), _, errors)
    until = _day(values["until"][0] if values["until"] else "", _("To"), _, errors)
    if since and until and since > until:
        errors.append(_("The date range ends before it starts."))
        since = until = None
    try:
        order_filter = OrderFilter(
            status=tuple(values["status"]),
            payment_status=tuple(values["payment_status"]),
            channel=tuple(values["channel"]),
            delivery_method=tuple(values["delivery_method"]),
            pickup_location=tuple(values["pickup_location"]),
            since=since,
            until=until,
            search=search,
            timezone=store.company.timezone,
        )
    except ValidationFailed as exc:  # anything the checks above did not foresee
        errors.append(str(exc))
        order_filter = OrderFilter(timezone=store.company.timezone)
    after = None
    raw_after = query.get("after", "").strip()
    if raw_after:
        try:
            after = OrderCursor.decode(raw_after)
        except ValidationFailed:
            errors.append(_("This page link is not valid any more; start from the first page."))
    return Filters(values, order_filter, after, errors)


# --- what templates need to show orders --------------------------------------------------


def order_ui(request: web.Request) -> dict[str, Any]:
    """Labels, badge colours and channel icons, for the list, the row and the detail."""
    adapters: Mapping[str, Any] = request.app.get(CHANNELS, {})
    return {
        "status_labels": STATUS_LABELS,
        "status_badges": STATUS_BADGES,
        "payment_labels": PAYMENT_LABELS,
        "payment_badges": PAYMENT_BADGES,
        "delivery_labels": DELIVERY_LABELS,
        "actor_labels": ACTOR_LABELS,
        "channel_icon": lambda name: icons.channel_icon(name, adapters),
        "channel_name": lambda name: icons.channel_name(name, adapters),
    }


def known_channels(request: web.Request) -> list[str]:
    """The channels to offer in the filter: the three Meta ones and any a plugin adds."""
    adapters: Mapping[str, Any] = request.app.get(CHANNELS, {})
    return list(dict.fromkeys([*icons.BUILT_IN, *adapters]))


def revenue_text(fmt: Any, revenue: Mapping[str, Decimal], currency: str) -> str:
    """Revenue per currency as one text (``$1,200.00`` or ``$1,200.00 · US$30.00``)."""
    if not revenue:
        return fmt.money(0, currency)
    return " · ".join(fmt.money(amount, code) for code, amount in revenue.items())


REVENUE_DAYS = 30  # the revenue counter's period when the filter names no dates


async def counters_of(request: web.Request, order_filter: OrderFilter) -> dict[str, Any]:
    """The counters of the page for ``order_filter``, formatted. Revenue is for the
    filter's dates, or for the last 30 days when it names none; under a search that
    selects more orders than :data:`~tendero.orders.stats.SEARCH_REVENUE_ORDERS` in
    that period it says so instead of a sum."""
    fmt = await panel.formats(request)
    doc = await panel.store(request)
    revenue_filter = None
    if order_filter.since is None and order_filter.until is None:
        today = datetime.now(ZoneInfo(order_filter.timezone)).date()
        revenue_filter = replace(order_filter, since=today - timedelta(days=REVENUE_DAYS - 1))
    async with request.app[DATABASE].read_session() as session:
        figures = await order_counters(session, order_filter, revenue_filter)
    if figures.revenue_over is not None:
        _ = await panel.gettext(request)
        revenue = _(
            "over {n} orders match: narrow the search to see it",
            n=fmt.number(figures.revenue_over),
        )
    else:
        revenue = revenue_text(fmt, figures.revenue, doc.currency)
    return {
        "new_orders": fmt.number(figures.new_orders),
        "payments_to_verify": fmt.number(figures.payments_to_verify),
        "revenue": revenue,
        "revenue_days": REVENUE_DAYS if revenue_filter is not None else 0,
    }


async def _chart(request: web.Request) -> Markup:
    _ = await panel.gettext(request)
    fmt = await panel.formats(request)
    doc = await panel.store(request)
    async with request.app[DATABASE].read_session() as session:
        rows = await daily_by_channel(session, days=CHART_DAYS, timezone=doc.company.timezone)
    adapters: Mapping[str, Any] = request.app.get(CHANNELS, {})
    series = charts.SalesSeries.of(rows, doc.currency)

    def count(n: int) -> str:
        return _("1 order") if n == 1 else _("{n} orders", n=fmt.number(n))

    parts = [
        f"{icons.channel_name(c, adapters)}: {count(series.channel_total(c))}"
        for c in series.channels
    ]
    description = _(
        "{orders} in the last {days} days ({channels}); revenue {revenue}.",
        orders=count(series.total_orders),
        days=CHART_DAYS,
        channels=", ".join(parts),
        revenue=fmt.money(series.total_revenue, doc.currency),
    )
    return charts.sales_chart(
        rows,
        currency=doc.currency,
        texts=charts.ChartTexts(
            title=_("Orders and revenue, last {days} days", days=CHART_DAYS),
            description=description,
            revenue=_("Revenue ({currency})", currency=doc.currency),
            no_data=_("No orders in the last {days} days.", days=CHART_DAYS),
            orders_scale=count,
        ),
        channel_names={c: icons.channel_name(c, adapters) for c in series.channels},
        colours={c: icons.channel_colour(c) for c in series.channels},
        day_label=lambda day: fmt.date(day, "short"),
        money=lambda amount: fmt.money(amount, doc.currency),
    )


# --- the list --------------------------------------------------------------------------


@routes.get("/orders", name="orders")
async def orders_page(request: web.Request) -> web.StreamResponse:
    _ = await panel.gettext(request)
    doc = await panel.store(request)
    filters = read_filters(request, doc, _)
    orders: list[dict[str, Any]] = []
    next_url = None
    counters = None
    if not filters.errors:
        async with request.app[DATABASE].read_session() as session:
            orders, following = await fetch_orders_page(
                session, filters.order_filter, PAGE_SIZE, filters.after
            )
        if following is not None:
            next_url = filters.url("/orders", after=following.encode())
        counters = await counters_of(request, filters.order_filter)
    exporters = await collect_exporters(request.app[PLUGINS])
    channels = known_channels(request)
    context = {
        **order_ui(request),
        "orders": orders,
        "filters": filters,
        "counters": counters,
        "chart": await _chart(request),
        "next_url": next_url,
        "first_url": filters.url("/orders") if filters.after else None,
        "events_url": filters.url("/orders/events") if not filters.errors else None,
        "exporters": sorted(exporters.values(), key=lambda e: e.name),
        "rows_choices": ROWS,
        "channels": channels,
        "channel_labels": {
            c: icons.channel_name(c, request.app.get(CHANNELS, {})) for c in channels
        },
        "locations": [location.name for location in doc.locations],
        "status_choices": [s.value for s in OrderStatus],
        "payment_choices": [s.value for s in PaymentStatus],
    }
    status = 400 if filters.errors else 200
    return await panel.render(request, "orders/list.html", context, status=status)


# --- the export ------------------------------------------------------------------------


@routes.get("/orders/export", name="orders_export")
async def export_orders(request: web.Request) -> web.StreamResponse:
    """The current filter as a file, streamed through the chosen exporter."""
    _ = await panel.gettext(request)
    doc = await panel.store(request)
    filters = read_filters(request, doc, _)
    exporters = await collect_exporters(request.app[PLUGINS])
    name = request.query.get("format", "").strip()
    rows = request.query.get("rows", "orders").strip() or "orders"
    problems = list(filters.errors)
    if name not in exporters:
        problems.append(_("Choose a file format: {formats}.", formats=", ".join(sorted(exporters))))
    if rows not in ROWS:
        problems.append(_("Choose one row per order or one row per item."))
    if problems:
        for problem in problems:
            await panel.flash(request, problem, "error")
        raise web.HTTPSeeOther(filters.url("/orders"))
    exporter = exporters[name]
    fmt = await panel.formats(request)
    stamp = fmt.local(datetime.now(UTC)).strftime("%Y%m%d")  # type: ignore[union-attr]
    response = web.StreamResponse(
        headers={
            "Content-Type": exporter.media_type,
            "Content-Disposition": f'attachment; filename="orders-{stamp}.{exporter.extension}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }
    )
    await response.prepare(request)
    # The sink sends what the exporter wrote each time it drains, and waits for the
    # client while it reads: one batch in memory, whatever the size of the export.
    sink = ChunkedSink(response.write)
    await exporter.write(iter_orders(request.app[DATABASE], filters.order_filter), rows, sink)
    await sink.drain()
    await response.write_eof()
    return response


# --- one order ------------------------------------------------------------------------------


def _number(request: web.Request) -> int:
    number = int(request.match_info["number"])
    if not 0 < number <= MAX_ORDER_NUMBER:
        raise NotFound(f"order #{number} does not exist")
    return number


async def not_found(request: web.Request, number: str) -> web.Response:
    """The panel's 404 page for an order that does not exist."""
    return await panel.render(request, "orders/not_found.html", {"number": number}, status=404)


def _is_image(path: str | None) -> bool:
    return bool(path) and str(path).lower().endswith(IMAGE_SUFFIXES)


async def _transcript(session: Any, conversation_id: int | None) -> tuple[list[Message], bool]:
    """The messages of the order's conversation, oldest first (the last ones when there
    are very many), and whether older ones were left out."""
    if conversation_id is None:
        return [], False
    rows = (
        await session.scalars(
            sa.select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(MAX_TRANSCRIPT + 1)
        )
    ).all()
    return list(reversed(rows[:MAX_TRANSCRIPT])), len(rows) > MAX_TRANSCRIPT


@routes.get(r"/orders/{number:\d+}", name="order")
async def order_page(request: web.Request) -> web.StreamResponse:
    try:
        number = _number(request)
        async with request.app[DATABASE].read_session() as session:
            order = await get_order(session, number)
            messages, truncated = await _transcript(session, order.conversation_id)
    except NotFound:
        return await not_found(request, request.match_info["number"])
    status_moves = allowed_status_moves(order.status, order.delivery_method, Actor.MERCHANT)
    payment_moves = allowed_payment_moves(order, Actor.MERCHANT)
    context = {
        **order_ui(request),
        "order": order,
        "messages": messages,
        "transcript_truncated": truncated,
        "status_moves": [s for s in MOVE_LABELS if s in status_moves],
        "payment_moves": [s for s in PAYMENT_MOVE_LABELS if s in payment_moves],
        "move_labels": MOVE_LABELS,
        "payment_move_labels": PAYMENT_MOVE_LABELS,
        "is_image": _is_image,
        "max_note": MAX_NOTE,
    }
    return await panel.render(request, "orders/detail.html", context)


async def _current(request: web.Request, number: int, field_name: str) -> str:
    async with request.app[DATABASE].read_session() as session:
        return str(getattr(await get_order(session, number), field_name))


async def _move(request: web.Request, field_name: str) -> web.StreamResponse:
    """A status or payment move from the detail page's forms; back to the page with a
    message saying what happened."""
    _ = await panel.gettext(request)
    try:
        number = _number(request)
    except NotFound:
        return await not_found(request, request.match_info["number"])
    form = await request.post()
    to = str(form.get(field_name, "")).strip()
    expected = str(form.get("expected", "")).strip() or None
    labels = STATUS_LABELS if field_name == "status" else PAYMENT_LABELS
    if field_name == "status" and to == OrderStatus.CANCELLED and form.get("confirmed") != "yes":
        # Without JavaScript the confirmation is a page of its own.
        return await panel.render(
            request, "orders/confirm_cancel.html", {"number": number, "expected": expected or ""}
        )
    user = request[security.USER]
    service = change_status if field_name == "status" else change_payment_status
    try:
        async with order_transaction(request.app[DATABASE], request.app[PLUGINS]) as session:
            await service(session, number, to, Actor.MERCHANT, user.email, expected=expected)
    except NotFound:
        return await not_found(request, str(number))
    except StaleOrder:
        now = await _current(request, number, field_name)
        await panel.flash(
            request,
            _(
                "Someone changed this order meanwhile: it is now “{status}”. Nothing was "
                "changed; check it and decide again.",
                status=_(labels.get(now, now)),
            ),
            "error",
        )
    except (IllegalStatusMove, ValidationFailed) as exc:
        await panel.flash(
            request, _("That change is not allowed: {reason}", reason=str(exc)), "error"
        )
    else:
        message = (
            _("Order #{number} is now “{status}”.", number=number, status=_(labels[to]))
            if field_name == "status"
            else _("Payment of order #{number}: “{status}”.", number=number, status=_(labels[to]))
        )
        await panel.flash(request, message, "success")
    raise panel.redirect(request, "order", number=str(number))


@routes.post(r"/orders/{number:\d+}/status", name="order_status")
async def move_status(request: web.Request) -> web.StreamResponse:
    return await _move(request, "status")


@routes.post(r"/orders/{number:\d+}/payment", name="order_payment")
async def move_payment(request: web.Request) -> web.StreamResponse:
    return await _move(request, "payment_status")


@routes.post(r"/orders/{number:\d+}/notes", name="order_notes")
async def add_order_note(request: web.Request) -> web.StreamResponse:
    _ = await panel.gettext(request)
    try:
        number = _number(request)
    except NotFound:
        return await not_found(request, request.match_info["number"])
    text = str((await request.post()).get("text", "")).strip()
    if not text:
        await panel.flash(request, _("Write the note first."), "error")
    elif len(text) > MAX_NOTE:
        await panel.flash(
            request, _("The note is too long (at most {n} characters).", n=MAX_NOTE), "error"
        )
    else:
        try:
            async with request.app[DATABASE].session() as session:
                await add_note(session, number, text, author=request[security.USER].email)
        except NotFound:
            return await not_found(request, str(number))
        await panel.flash(request, _("Note added."), "success")
    raise panel.redirect(request, "order", number=str(number))
