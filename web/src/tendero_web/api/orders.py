"""Orders through the API: list (filters, keyset pages), detail, moves and export.

Moves go through the orders service inside :func:`~tendero.orders.order_transaction`,
the same path the CLI and the panel use, so ``order_status_changed`` and
``payment_status_changed`` reach every plugin once the change is committed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aiohttp import web
from tendero.app import DATABASE, PLUGINS
from tendero.errors import NotFound, ValidationFailed
from tendero.exporting import ROWS, ChunkedSink, collect_exporters, pick_exporter
from tendero.orders import (
    Actor,
    OrderStatus,
    PaymentStatus,
    get_order,
    iter_orders,
    order_detail_to_json,
    order_transaction,
)
from tendero.orders.query import OrderCursor, fetch_orders_page
from tendero.orders.service import change_payment_status, change_status
from tendero.orders.status import parse_enum

from tendero_web.api.auth import client_of
from tendero_web.api.errors import API_HEADERS, bad_request, dumps, invalid
from tendero_web.api.middleware import STREAMING
from tendero_web.api.params import (
    ORDER_FILTER_PARAMS,
    check_params,
    limit_from,
    next_link,
    order_filter_from,
    read_json_object,
    unknown_fields,
)

MAX_NOTE = 2000
MAX_ORDER_NUMBER = 2**63 - 1  # orders.number is a BIGINT


def _number(request: web.Request) -> int:
    raw = request.match_info["number"]
    try:
        number = int(raw.removeprefix("#"))
    except ValueError:
        number = 0
    if number < 1:
        raise bad_request(
            f"{raw!r} is not an order number; order numbers are whole numbers like 1001",
            [{"field": "number", "message": "must be a positive whole number"}],
        )
    if number > MAX_ORDER_NUMBER:
        # Past what the database's 64-bit column holds: no such order (not a 500).
        raise NotFound(f"order #{number} does not exist")
    return number


async def list_orders(request: web.Request) -> web.Response:
    """``GET /api/v1/orders``: one page of orders, newest first, and the next cursor."""
    check_params(request.query, (*ORDER_FILTER_PARAMS, "limit", "cursor"))
    order_filter = await order_filter_from(request)
    limit = limit_from(request.query)
    cursor_text = request.query.get("cursor", "").strip()
    try:
        after = OrderCursor.decode(cursor_text) if cursor_text else None
    except ValidationFailed as exc:
        raise bad_request(
            exc.message, [{"field": "cursor", "message": "use next_cursor as it was given"}]
        ) from None
    async with request.app[DATABASE].read_session() as session:
        page, following = await fetch_orders_page(session, order_filter, limit, after)
    next_cursor = following.encode() if following is not None else None
    headers = {"Link": next_link(request, next_cursor)} if next_cursor else {}
    return web.json_response(
        {"orders": page, "next_cursor": next_cursor}, headers=headers, dumps=dumps
    )


async def order_detail(request: web.Request) -> web.Response:
    """``GET /api/v1/orders/{number}``: the order with history, receipts and notes."""
    check_params(request.query, ())
    number = _number(request)
    async with request.app[DATABASE].read_session() as session:
        data = order_detail_to_json(await get_order(session, number))
    return web.json_response(data, dumps=dumps)


def _move_body(body: dict[str, Any], field: str, enum: type[Any], what: str) -> dict[str, Any]:
    """Check a move request ``{field, expected?, note?}``; 422 listing every problem."""
    problems: list[dict[str, str]] = unknown_fields(body, (field, "expected", "note"))
    values: dict[str, Any] = {"expected": None, "note": ""}
    for key in (field, "expected"):
        value = body.get(key)
        if value is None:
            if key == field:
                problems.append({"field": key, "message": f"{key} is required"})
            continue
        if not isinstance(value, str):
            problems.append({"field": key, "message": f"{key} must be a string"})
            continue
        try:
            values[key] = parse_enum(enum, value, what).value
        except ValidationFailed as exc:
            problems.append({"field": key, "message": exc.message})
    note = body.get("note")
    if note is not None:
        if not isinstance(note, str):
            problems.append({"field": "note", "message": "note must be a string"})
        elif len(note) > MAX_NOTE:
            problems.append(
                {"field": "note", "message": f"note is longer than {MAX_NOTE} characters"}
            )
        else:
            values["note"] = note.strip()
    if problems:
        raise invalid("the request body is not valid", problems)
    return values


async def move_status(request: web.Request) -> web.Response:
    """``POST /api/v1/orders/{number}/status``: move the order status as the merchant."""
    return await _move(request, "status", OrderStatus, "order status", change_status)


async def move_payment(request: web.Request) -> web.Response:
    """``POST /api/v1/orders/{number}/payment``: move the payment status as the merchant."""
    return await _move(
        request, "payment_status", PaymentStatus, "payment status", change_payment_status
    )


async def _move(
    request: web.Request,
    field_name: str,
    enum: type[StrEnum],
    what: str,
    change: Callable[..., Awaitable[Any]],
) -> web.Response:
    """Read ``{field_name, expected?, note?}`` and make the move through ``change`` (the
    order service's status or payment move), as the merchant behind the token."""
    number = _number(request)
    body = _move_body(await read_json_object(request), field_name, enum, what)
    async with order_transaction(request.app[DATABASE], request.app[PLUGINS]) as session:
        order = await change(
            session,
            number,
            body[field_name],
            Actor.MERCHANT,
            client_of(request).actor_name,
            body["note"],
            expected=body["expected"],
        )
        data = order_detail_to_json(order)
    return web.json_response(data, dumps=dumps)


async def export_orders(request: web.Request) -> web.StreamResponse:
    """``GET /api/v1/orders/export``: the filtered orders as a file, streamed.

    The same exporter objects as ``tendero orders export`` write into the response as
    the orders are read in keyset batches, so memory stays flat for any size.
    """
    query = request.query
    check_params(query, (*ORDER_FILTER_PARAMS, "format", "rows"))
    exporters = await collect_exporters(request.app[PLUGINS])
    name = query.get("format", "").strip()
    if not name:
        raise bad_request(
            "format is required",
            [{"field": "format", "message": f"use one of: {', '.join(sorted(exporters))}"}],
        )
    try:
        exporter = pick_exporter(exporters, name)
    except NotFound as exc:
        raise bad_request(exc.message, [{"field": "format", "message": exc.message}]) from None
    rows = query.get("rows", "orders").strip() or "orders"
    if rows not in ROWS:
        raise bad_request(
            f"rows must be one of: {', '.join(ROWS)}",
            [{"field": "rows", "message": f"{rows!r} is not one of: {', '.join(ROWS)}"}],
        )
    order_filter = await order_filter_from(request)

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    kind = "orders-items" if rows == "items" else "orders"
    filename = f"{kind}-{stamp}.{exporter.extension}"
    response = web.StreamResponse(
        headers={
            "Content-Type": exporter.media_type,
            "Content-Disposition": f'attachment; filename="{filename}"',
            **API_HEADERS,
        }
    )
    await response.prepare(request)
    request[STREAMING] = True
    sink = ChunkedSink(response.write)
    await exporter.write(iter_orders(request.app[DATABASE], order_filter), rows, sink)
    await sink.drain()
    await response.write_eof()
    return response
