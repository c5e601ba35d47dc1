"""The columns of the tabular exports (CSV and XLSX), defined once.

Each :class:`Column` has a header, a kind (which decides how a format writes the value:
text, whole number, money or date-time) and a function that reads the value out of an
order dict in the ORDER JSON format and, in item rows, the item.

``rows="orders"``: one row per order, with an items summary and an item count.
``rows="items"``: one row per item, the order's columns repeated, then the item's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tendero.exporting import check_rows

Order = dict[str, Any]
Item = dict[str, Any]


class Kind(StrEnum):
    TEXT = "text"  # written as text, always: names, ids, phones, postal codes
    INTEGER = "integer"
    MONEY = "money"  # a decimal string in the order's currency
    DATETIME = "datetime"  # ISO 8601 with offset


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind
    read: Callable[[Order, Item | None], Any]
    width: int = 14  # XLSX column width, in characters


def _order(key: str) -> Callable[[Order, Item | None], Any]:
    return lambda order, item: order.get(key)


def _nested(outer: str, key: str) -> Callable[[Order, Item | None], Any]:
    return lambda order, item: (order.get(outer) or {}).get(key)


def _item(key: str) -> Callable[[Order, Item | None], Any]:
    return lambda order, item: (item or {}).get(key)


def items_summary(order: Order) -> str:
    """``2 × Playera azul (PLY-AZ-M); 1 × Gorra (GOR-01)``."""
    parts = []
    for item in order.get("items") or ():
        sku = f" ({item['sku']})" if item.get("sku") else ""
        parts.append(f"{item.get('quantity', '')} × {item.get('name', '')}{sku}")
    return "; ".join(parts)


def item_count(order: Order) -> int:
    """Units in the order (the sum of the quantities)."""
    return sum(int(item.get("quantity") or 0) for item in order.get("items") or ())


def _address(key: str) -> Column:
    return Column(f"shipping_{key}", Kind.TEXT, _nested("shipping_address", key))


ORDER_COLUMNS: tuple[Column, ...] = (
    Column("number", Kind.INTEGER, _order("number"), 9),
    Column("created_at", Kind.DATETIME, _order("created_at"), 19),
    Column("channel", Kind.TEXT, _order("channel"), 10),
    Column("status", Kind.TEXT, _order("status")),
    Column("payment_status", Kind.TEXT, _order("payment_status")),
    Column("customer_name", Kind.TEXT, _nested("customer", "name"), 24),
    Column("customer_platform_id", Kind.TEXT, _nested("customer", "platform_id"), 20),
    Column("customer_phone", Kind.TEXT, _nested("customer", "phone"), 16),
    Column("customer_email", Kind.TEXT, _nested("customer", "email"), 24),
    Column("delivery_method", Kind.TEXT, _order("delivery_method")),
    Column("pickup_location", Kind.TEXT, _nested("pickup_location", "name"), 18),
    Column("pickup_address", Kind.TEXT, _nested("pickup_location", "address"), 24),
    _address("street"),
    _address("house_number"),
    _address("interior"),
    _address("neighborhood"),
    _address("postal_code"),
    _address("city"),
    _address("state"),
    _address("references"),
    Column("ready_at", Kind.DATETIME, _order("ready_at"), 19),
)

SUMMARY_COLUMNS: tuple[Column, ...] = (
    Column("items", Kind.TEXT, lambda order, item: items_summary(order), 40),
    Column("item_count", Kind.INTEGER, lambda order, item: item_count(order), 10),
)

ITEM_COLUMNS: tuple[Column, ...] = (
    Column("item_sku", Kind.TEXT, _item("sku")),
    Column("item_name", Kind.TEXT, _item("name"), 28),
    Column("item_quantity", Kind.INTEGER, _item("quantity"), 10),
    Column("item_unit_price", Kind.MONEY, _item("unit_price")),
    Column("item_line_total", Kind.MONEY, _item("line_total")),
)

TOTAL_COLUMNS: tuple[Column, ...] = (
    Column("subtotal", Kind.MONEY, _order("subtotal")),
    Column("shipping_cost", Kind.MONEY, _order("shipping_cost")),
    Column("deposit_amount", Kind.MONEY, _order("deposit_amount")),
    Column("total", Kind.MONEY, _order("total")),
    Column("currency", Kind.TEXT, _order("currency"), 9),
)


def columns_for(rows: str) -> tuple[Column, ...]:
    """The columns of a table with one row per order (``"orders"``) or per item."""
    check_rows(rows)
    if rows == "orders":
        return ORDER_COLUMNS + SUMMARY_COLUMNS + TOTAL_COLUMNS
    return ORDER_COLUMNS + ITEM_COLUMNS + TOTAL_COLUMNS


def table_rows(order: Order, rows: str, columns: tuple[Column, ...]) -> Iterator[list[Any]]:
    """The raw values of ``order``'s row(s); an order without items still gives one
    item row (with empty item columns) so no order goes missing from an items export."""
    if rows == "orders":
        yield [column.read(order, None) for column in columns]
        return
    for item in order.get("items") or [None]:
        yield [column.read(order, item) for column in columns]
