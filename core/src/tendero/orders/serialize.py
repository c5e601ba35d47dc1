"""The Order JSON of the contract (docs/api.md): exports, the API and hooks.

The contract keys are fixed; extra keys (``id``, ``lead_id``, ``conversation_id``,
``updated_at``) are additions, never renames. Money is a decimal string with the
currency's minor units; times are ISO 8601 with their UTC offset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from tendero.money import json_writer

SHIPPING_ADDRESS_KEYS = (
    "street",
    "house_number",
    "interior",
    "neighborhood",
    "postal_code",
    "city",
    "state",
    "references",
)

# The contract's keys, in the order they are written.
ORDER_KEYS = (
    "number",
    "created_at",
    "channel",
    "customer",
    "items",
    "subtotal",
    "shipping_cost",
    "deposit_amount",
    "total",
    "currency",
    "delivery_method",
    "shipping_address",
    "pickup_location",
    "ready_at",
    "payment_status",
    "status",
)
CUSTOMER_KEYS = ("name", "platform_id", "phone", "email")
ITEM_KEYS = ("sku", "name", "quantity", "unit_price", "line_total")
PICKUP_LOCATION_KEYS = ("name", "address")
EXTRA_KEYS = ("id", "lead_id", "conversation_id", "updated_at")


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _address(value: dict[str, Any] | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {key: str(value.get(key) or "") for key in SHIPPING_ADDRESS_KEYS}


def _location(value: dict[str, Any] | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {key: str(value.get(key) or "") for key in PICKUP_LOCATION_KEYS}


def _same(value: Any) -> Any:
    return value


def build_order_json(
    order: Any,
    items: Iterable[Any],
    *,
    money_writer: Callable[[str], Callable[[Any], str]] = json_writer,
    time: Callable[[Any], str | None] = _time,
    document: Callable[[Any], dict[str, Any] | None] = _same,
) -> dict[str, Any]:
    """The JSON dict of ``order`` with ``items``.

    ``order`` and the items may be ORM objects or result rows with the column names of
    ``orders`` and ``order_items`` (the streaming query builds from rows). Rows read
    without the column types (the export's fast path) pass converters of the driver's
    values: ``money_writer(currency)`` gives the amount-to-JSON function of a currency,
    ``time`` writes a time, ``document`` reads a JSON column.
    """
    currency = order.currency
    money = money_writer(currency)
    data: dict[str, Any] = {
        "number": int(order.number),
        "created_at": time(order.created_at),
        "channel": order.channel,
        "customer": {
            "name": order.customer_name,
            "platform_id": order.customer_platform_id,
            "phone": order.customer_phone,
            "email": order.email,
        },
        "items": [
            {
                "sku": item.sku,
                "name": item.name,
                "quantity": int(item.quantity),
                "unit_price": money(item.unit_price),
                "line_total": money(item.line_total),
            }
            for item in items
        ],
        "subtotal": money(order.subtotal),
        "shipping_cost": money(order.shipping_cost),
        "deposit_amount": money(order.deposit_amount),
        "total": money(order.total),
        "currency": currency,
        "delivery_method": order.delivery_method,
        "shipping_address": _address(document(order.shipping_address)),
        "pickup_location": _location(document(order.pickup_location)),
        "ready_at": time(order.ready_at),
        "payment_status": order.payment_status,
        "status": order.status,
        "id": order.id,
        "lead_id": order.lead_id,
        "conversation_id": order.conversation_id,
        "updated_at": time(order.updated_at),
    }
    return data


def order_to_json(order: Any) -> dict[str, Any]:
    """The contract JSON dict of an ``Order`` whose ``items`` are loaded."""
    return build_order_json(order, order.items)


def order_detail_to_json(order: Any) -> dict[str, Any]:
    """:func:`order_to_json` plus ``history``, ``receipts`` and ``notes`` (all loaded)."""
    data = order_to_json(order)
    data["history"] = [
        {
            "field": change.field,
            "from": change.from_value,
            "to": change.to_value,
            "actor": change.actor,
            "actor_name": change.actor_name,
            "note": change.note,
            "at": _time(change.created_at),
        }
        for change in order.history
    ]
    data["receipts"] = [
        {
            "id": receipt.id,
            "file_path": receipt.file_path,
            "media_type": receipt.media_type,
            "message_id": receipt.message_id,
            "ai_note": receipt.ai_note,
            "received_at": _time(receipt.received_at),
        }
        for receipt in order.receipts
    ]
    data["notes"] = [
        {"author": note.author, "text": note.text, "at": _time(note.created_at)}
        for note in order.notes
    ]
    return data
