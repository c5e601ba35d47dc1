"""``tendero orders``: export, show and expire orders.

``export`` and ``show`` write only data to stdout; messages go to stderr.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

import click

from tendero.cli.common import console, open_database, run_async
from tendero.errors import NotFound
from tendero.exporting import ROWS, collect_exporters, pick_exporter
from tendero.orders import (
    DeliveryMethod,
    OrderFilter,
    OrderStatus,
    PaymentStatus,
    expire_unpaid_orders,
    get_order,
    iter_orders,
    order_detail_to_json,
    order_transaction,
)
from tendero.plugins import create_plugin_manager


def _say(message: str) -> None:
    console.print(message, highlight=False, markup=False, soft_wrap=True)


def _one_of(enum: type[StrEnum]) -> Any:
    """A click callback accepting only the values of ``enum`` (exit 2 listing them)."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None or value in {m.value for m in enum}:
            return value
        choices = ", ".join(m.value for m in enum)
        raise click.BadParameter(f"unknown value {value!r}; use one of: {choices}")

    return check


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write it as YYYY-MM-DD") from None


async def _store_timezone(db: Any) -> str:
    from tendero.store.service import get_published

    async with db.read_session() as session:
        return (await get_published(session)).company.timezone


async def _counted(
    orders: AsyncIterator[dict[str, Any]], seen: list[int]
) -> AsyncIterator[dict[str, Any]]:
    async for order in orders:
        seen[0] += 1
        yield order


@click.group("orders")
def orders() -> None:
    """Orders: export them, look one up, expire unpaid ones."""


@orders.command("export")
@click.option(
    "--format",
    "format_",
    required=True,
    metavar="FORMAT",
    help="Exporter name: csv, xlsx, json (JSON lines) or one a plugin adds.",
)
@click.option(
    "--rows",
    type=click.Choice(ROWS),
    default="orders",
    show_default=True,
    help="One row per order, or one row per item.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE instead of stdout.",
)
@click.option(
    "--status",
    metavar="STATUS",
    callback=_one_of(OrderStatus),
    help=f"Only orders with this status: {', '.join(OrderStatus)}.",
)
@click.option(
    "--payment-status",
    metavar="STATUS",
    callback=_one_of(PaymentStatus),
    help=f"Only orders with this payment status: {', '.join(PaymentStatus)}.",
)
@click.option("--channel", help="Only orders from this channel (whatsapp, facebook, instagram).")
@click.option(
    "--delivery-method",
    metavar="METHOD",
    callback=_one_of(DeliveryMethod),
    help="Only shipping or only pickup orders (shipping, pickup).",
)
@click.option("--pickup-location", help="Only pickup orders for this store location (its name).")
@click.option(
    "--since",
    callback=_day,
    metavar="DATE",
    help="Orders from this day on (YYYY-MM-DD, store time zone).",
)
@click.option(
    "--until",
    callback=_day,
    metavar="DATE",
    help="Orders up to and including this day (YYYY-MM-DD, store time zone).",
)
@click.option("--search", default="", help="Number, customer, email, phone, product or SKU.")
@run_async
async def export(
    format_: str,
    rows: str,
    output: Path | None,
    status: str | None,
    payment_status: str | None,
    channel: str | None,
    delivery_method: str | None,
    pickup_location: str | None,
    since: date | None,
    until: date | None,
    search: str,
) -> None:
    """Export orders, newest first, streamed (any number of orders fits).

    Without --output the file goes to stdout, e.g.
    `tendero orders export --format csv --status new > new-orders.csv`.
    """
    exporters = await collect_exporters(create_plugin_manager())
    try:
        exporter = pick_exporter(exporters, format_)
    except NotFound as exc:
        raise click.BadParameter(exc.message, param_hint="'--format'") from None

    async with open_database() as db:
        order_filter = OrderFilter(
            status=status,
            payment_status=payment_status,
            channel=channel,
            delivery_method=delivery_method,
            pickup_location=pickup_location,
            since=since,
            until=until,
            search=search,
            timezone=await _store_timezone(db),
        )
        seen = [0]
        stream = _counted(iter_orders(db, order_filter), seen)
        if output is None:
            out: BinaryIO = click.get_binary_stream("stdout")
            written = await exporter.write(stream, rows, out)
            out.flush()
            where = "stdout"
        else:
            try:
                with output.open("wb") as out:
                    written = await exporter.write(stream, rows, out)
            except BaseException:
                await asyncio.to_thread(output.unlink, missing_ok=True)  # no half files
                raise
            where = str(output)
    orders_word = "order" if seen[0] == 1 else "orders"
    detail = f" ({written} item rows)" if rows == "items" else ""
    _say(f"Exported {seen[0]} {orders_word}{detail} as {exporter.name} to {where}.")


@orders.command("show")
@click.argument("number", type=click.IntRange(min=1))
@run_async
async def show(number: int) -> None:
    """Print order NUMBER as JSON, with its history, receipts and notes."""
    async with open_database() as db, db.read_session() as session:
        order = order_detail_to_json(await get_order(session, number))
    out = click.get_binary_stream("stdout")
    out.write((json.dumps(order, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    out.flush()


@orders.command("expire")
@run_async
async def expire() -> None:
    """Cancel orders still awaiting payment after the store's expiry hours, now.

    Their stock is returned. Prints the numbers cancelled, one per line. (A server runs
    the same on a timer with tendero.orders.run_expiry_job.)
    """
    from tendero.store.service import get_published

    pm = create_plugin_manager()
    async with open_database() as db:
        async with order_transaction(db, pm) as session:
            store = await get_published(session)
            numbers = await expire_unpaid_orders(session, store)
    out = click.get_binary_stream("stdout")
    out.write("".join(f"{n}\n" for n in numbers).encode())
    out.flush()
    hours = store.unpaid_expiry_hours
    if numbers:
        _say(f"Cancelled {len(numbers)} unpaid order(s) older than {hours} hours; stock returned.")
    else:
        _say(f"No order has been awaiting payment for more than {hours} hours.")
