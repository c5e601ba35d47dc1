"""The OpenAPI 3.1 document of the API, served at ``/api/v1/openapi.json``.

Statuses, payment statuses and delivery methods are read from the orders module and
product fields from the catalog's rules, so the document cannot drift from the code;
the tests validate real answers against these schemas.
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web
from tendero import __version__
from tendero.orders import DeliveryMethod, OrderStatus, PaymentStatus
from tendero.orders.serialize import SHIPPING_ADDRESS_KEYS

from tendero_web.api.errors import dumps
from tendero_web.api.params import DEFAULT_LIMIT, MAX_LIMIT
from tendero_web.api.products import MAX_ITEMS

MONEY = {
    "type": "string",
    "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
    "description": 'A decimal amount in the currency\'s minor units, e.g. "1249.50".',
    "examples": ["1249.50"],
}
DATE_TIME = {"type": "string", "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _object(
    properties: dict[str, Any], required: tuple[str, ...] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
        **extra,
    }


def _enum(values: Any) -> dict[str, Any]:
    return {"type": "string", "enum": [v.value for v in values]}


def _schemas() -> dict[str, Any]:
    status = _enum(OrderStatus)
    payment = _enum(PaymentStatus)
    return {
        "Customer": _object(
            {
                "name": {"type": "string"},
                "platform_id": {
                    "type": "string",
                    "description": "The id the channel addresses the customer by "
                    "(WhatsApp wa_id, Messenger PSID, Instagram IGSID).",
                },
                "phone": {"type": "string"},
                "email": {"type": "string"},
            }
        ),
        "Address": _object({key: {"type": "string"} for key in SHIPPING_ADDRESS_KEYS}),
        "PickupLocation": _object({"name": {"type": "string"}, "address": {"type": "string"}}),
        "OrderItem": _object(
            {
                "sku": {"type": ["string", "null"]},
                "name": {"type": "string"},
                "quantity": {"type": "integer", "minimum": 1},
                "unit_price": MONEY,
                "line_total": MONEY,
            }
        ),
        "OrderStatus": status,
        "PaymentStatus": payment,
        "DeliveryMethod": _enum(DeliveryMethod),
        "Order": _object(
            {
                "number": {"type": "integer", "examples": [1001]},
                "created_at": DATE_TIME,
                "channel": {
                    "type": "string",
                    "description": "whatsapp, facebook, instagram (or a plugin's channel).",
                },
                "customer": _ref("Customer"),
                "items": {"type": "array", "items": _ref("OrderItem")},
                "subtotal": MONEY,
                "shipping_cost": MONEY,
                "deposit_amount": MONEY,
                "total": MONEY,
                "currency": {"type": "string", "examples": ["MXN"]},
                "delivery_method": _ref("DeliveryMethod"),
                "shipping_address": _nullable(_ref("Address")),
                "pickup_location": _nullable(_ref("PickupLocation")),
                "ready_at": _nullable(DATE_TIME),
                "payment_status": _ref("PaymentStatus"),
                "status": _ref("OrderStatus"),
                "id": {"type": "integer", "description": "Internal id (an addition)."},
                "lead_id": {"type": ["integer", "null"]},
                "conversation_id": {"type": ["integer", "null"]},
                "updated_at": _nullable(DATE_TIME),
            },
            description="The Order JSON of the contract; `tendero orders export --format "
            "json` writes the same objects. New keys may be added, never renamed.",
        ),
        "StatusChange": _object(
            {
                "field": {"type": "string", "enum": ["status", "payment_status"]},
                "from": {"type": ["string", "null"]},
                "to": {"type": "string"},
                "actor": {"type": "string", "enum": ["agent", "merchant", "system"]},
                "actor_name": {"type": ["string", "null"]},
                "note": {"type": ["string", "null"]},
                "at": DATE_TIME,
            }
        ),
        "Receipt": _object(
            {
                "id": {"type": "integer"},
                "file_path": {"type": "string", "description": "Relative to the data folder."},
                "media_type": {"type": "string"},
                "message_id": {"type": ["integer", "null"]},
                "ai_note": {"type": ["string", "null"]},
                "received_at": DATE_TIME,
            }
        ),
        "Note": _object(
            {"author": {"type": ["string", "null"]}, "text": {"type": "string"}, "at": DATE_TIME}
        ),
        "OrderDetail": {
            "allOf": [
                _ref("Order"),
                _object(
                    {
                        "history": {"type": "array", "items": _ref("StatusChange")},
                        "receipts": {"type": "array", "items": _ref("Receipt")},
                        "notes": {"type": "array", "items": _ref("Note")},
                    }
                ),
            ],
            "description": "An order with its status history, payment receipts and notes.",
        },
        "OrderPage": _object(
            {
                "orders": {"type": "array", "items": _ref("Order")},
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "Pass as `cursor` for the next page; null on the last.",
                },
            }
        ),
        "StatusMove": _object(
            {
                "status": _ref("OrderStatus"),
                "expected": {
                    **_ref("OrderStatus"),
                    "description": "The status you saw; the move is refused (409 stale) "
                    "when the order has moved since.",
                },
                "note": {"type": "string", "maxLength": 2000},
            },
            required=("status",),
            additionalProperties=False,
        ),
        "PaymentMove": _object(
            {
                "payment_status": _ref("PaymentStatus"),
                "expected": {
                    **_ref("PaymentStatus"),
                    "description": "The payment status you saw (stale check).",
                },
                "note": {"type": "string", "maxLength": 2000},
            },
            required=("payment_status",),
            additionalProperties=False,
        ),
        "Product": _object(
            {
                "id": {"type": "integer"},
                "sku": {"type": ["string", "null"]},
                "name": {"type": "string"},
                "price": MONEY,
                "stock": {
                    "type": ["integer", "null"],
                    "description": "null: stock is not tracked (unlimited).",
                },
                "description": {"type": "string"},
                "category": {"type": "string"},
                "image_url": {"type": "string"},
                "active": {"type": "boolean"},
                "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
                "created_at": _nullable(DATE_TIME),
                "updated_at": _nullable(DATE_TIME),
            }
        ),
        "ProductInput": _object(
            {
                "sku": {"type": "string", "maxLength": 100},
                "name": {"type": "string", "maxLength": 300},
                "price": {
                    "type": ["string", "number"],
                    "description": "An amount >= 0 (text is read like the CSV import: "
                    '"1249.50", "$1,249.50").',
                },
                "stock": {
                    "type": ["integer", "string", "null"],
                    "description": 'A whole number >= 0; null or "" stops tracking stock.',
                },
                "description": {"type": "string"},
                "category": {"type": "string", "maxLength": 200},
                "image_url": {"type": "string", "description": 'An http(s) URL, or "".'},
                "active": {"type": ["boolean", "string", "integer"]},
                "attributes": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "number", "null"]},
                    "description": 'Merged into the product\'s attributes; a null or "" '
                    "value removes that attribute.",
                },
            },
            required=("sku",),
            additionalProperties=False,
            description="A product matched by SKU (case-insensitive): an existing one "
            "changes only the fields given; a new one needs name and price.",
        ),
        "ProductPage": _object(
            {
                "products": {"type": "array", "items": _ref("Product")},
                "total": {"type": "integer"},
                "next_cursor": {"type": ["string", "null"]},
            }
        ),
        "ProductWriteResult": _object(
            {
                "created": {"type": "integer"},
                "updated": {"type": "integer"},
                "products": {"type": "array", "items": _ref("Product")},
            }
        ),
        "ErrorDetail": _object(
            {
                "message": {"type": "string"},
                "field": {"type": "string", "description": "The field or parameter at fault."},
                "index": {
                    "type": "integer",
                    "description": "The position of the item at fault in an array body.",
                },
            },
            required=("message",),
        ),
        "Error": _object(
            {
                "error": _object(
                    {
                        "code": {
                            "type": "string",
                            "description": "Stable: bad_request, unauthorized, not_found, "
                            "method_not_allowed, validation_failed, illegal_move, stale, "
                            "conflict, internal_error.",
                        },
                        "message": {"type": "string"},
                        "details": {"type": "array", "items": _ref("ErrorDetail")},
                    }
                )
            }
        ),
    }


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _json(description: str, schema: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema)}},
        **extra,
    }


def _query(
    name: str, description: str, schema: dict[str, Any], *, repeat: bool = False
) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "query", "description": description}
    if repeat:
        param |= {"schema": {"type": "array", "items": schema}, "style": "form", "explode": True}
    else:
        param["schema"] = schema
    return param


def _order_filters() -> list[dict[str, Any]]:
    any_of = " Repeat the parameter for any of several values."
    day = {"type": "string", "format": "date"}
    return [
        _query("status", "Order status." + any_of, _ref("OrderStatus"), repeat=True),
        _query("payment_status", "Payment status." + any_of, _ref("PaymentStatus"), repeat=True),
        _query(
            "channel",
            "Channel (whatsapp, facebook, instagram)." + any_of,
            {"type": "string"},
            repeat=True,
        ),
        _query(
            "delivery_method", "shipping or pickup." + any_of, _ref("DeliveryMethod"), repeat=True
        ),
        _query(
            "pickup_location", "Pickup location name." + any_of, {"type": "string"}, repeat=True
        ),
        _query("since", "From this day on (YYYY-MM-DD, the store's time zone).", day),
        _query("until", "Up to and including this day (YYYY-MM-DD, store time zone).", day),
        _query(
            "q",
            "Search: number (#1001), customer name, email, phone or platform id, product "
            "name or SKU; every word must match, accents and case ignored.",
            {"type": "string"},
        ),
    ]


def _page_params(what: str) -> list[dict[str, Any]]:
    return [
        _query(
            "limit",
            f"{what} per page.",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        ),
        _query("cursor", "The next_cursor of the previous page (opaque).", {"type": "string"}),
    ]


NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "description": "The order number, e.g. 1001.",
    "schema": {"type": "integer", "minimum": 1},
}
NEXT_LINK = {
    "Link": {
        "description": 'The next page: `<url>; rel="next"` (absent on the last page).',
        "schema": {"type": "string"},
    }
}
COMMON_ERRORS = {
    "400": _error("Malformed request: bad query parameter or unparsable JSON body."),
    "401": {
        **_error("Missing, unknown or revoked token."),
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
}


def _paths() -> dict[str, Any]:
    move_errors = {
        **COMMON_ERRORS,
        "404": _error("No order has this number."),
        "409": _error(
            "The move is not allowed from the order's state (code illegal_move, the "
            "message says why and which moves are) or the order changed since `expected` "
            "(code stale)."
        ),
        "422": _error("The body does not validate; details name each field."),
    }
    return {
        "/api/v1/orders": {
            "get": {
                "operationId": "listOrders",
                "summary": "List orders, newest first",
                "tags": ["orders"],
                "parameters": [*_order_filters(), *_page_params("Orders")],
                "responses": {
                    "200": _json("One page of orders.", "OrderPage", headers=NEXT_LINK),
                    **COMMON_ERRORS,
                },
            }
        },
        "/api/v1/orders/export": {
            "get": {
                "operationId": "exportOrders",
                "summary": "Export the filtered orders as a file (streamed)",
                "description": "The same exporters as `tendero orders export`. The file "
                "is streamed as it is written: any number of orders fits.",
                "tags": ["orders"],
                "parameters": [
                    _query(
                        "format",
                        "Exporter name: csv, xlsx, json (JSON lines) or a plugin's.",
                        {"type": "string", "examples": ["csv", "xlsx", "json"]},
                    ),
                    _query(
                        "rows",
                        "One row per order, or one row per item.",
                        {"type": "string", "enum": ["orders", "items"], "default": "orders"},
                    ),
                    *_order_filters(),
                ],
                "responses": {
                    "200": {
                        "description": "The file, with a Content-Disposition filename.",
                        "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
                        "content": {
                            "text/csv": {"schema": {"type": "string"}},
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                                "schema": {
                                    "type": "string",
                                    "contentMediaType": "application/octet-stream",
                                }
                            },
                            "application/x-ndjson": {
                                "schema": {"type": "string"},
                                "description": "One Order JSON object per line.",
                            },
                        },
                    },
                    **COMMON_ERRORS,
                },
            }
        },
        "/api/v1/orders/{number}": {
            "get": {
                "operationId": "getOrder",
                "summary": "One order with its history, receipts and notes",
                "tags": ["orders"],
                "parameters": [NUMBER],
                "responses": {
                    "200": _json("The order.", "OrderDetail"),
                    **COMMON_ERRORS,
                    "404": _error("No order has this number."),
                },
            }
        },
        "/api/v1/orders/{number}/status": {
            "post": {
                "operationId": "moveOrderStatus",
                "summary": "Move the order status (as the merchant)",
                "description": "Shipping: new → processing → shipped → delivered; pickup: "
                "new → preparing → ready_for_pickup → picked_up; any status that is not "
                "final → cancelled (stock returned). Fires order_status_changed.",
                "tags": ["orders"],
                "parameters": [NUMBER],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("StatusMove")}},
                },
                "responses": {
                    "200": _json("The order after the move.", "OrderDetail"),
                    **move_errors,
                },
            }
        },
        "/api/v1/orders/{number}/payment": {
            "post": {
                "operationId": "moveOrderPayment",
                "summary": "Move the payment status (as the merchant)",
                "description": "E.g. confirm a payment (paid), reject a receipt (rejected) "
                "or record a refund. Fires payment_status_changed.",
                "tags": ["orders"],
                "parameters": [NUMBER],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("PaymentMove")}},
                },
                "responses": {
                    "200": _json("The order after the move.", "OrderDetail"),
                    **move_errors,
                },
            }
        },
        "/api/v1/products": {
            "get": {
                "operationId": "listProducts",
                "summary": "List products by name",
                "tags": ["products"],
                "parameters": [
                    _query(
                        "q",
                        "Words that name, SKU, category, description or attributes contain.",
                        {"type": "string"},
                    ),
                    _query(
                        "active",
                        "true, false or all (default all).",
                        {"type": "string", "enum": ["true", "false", "all"]},
                    ),
                    _query("category", "Only this exact category.", {"type": "string"}),
                    *_page_params("Products"),
                ],
                "responses": {
                    "200": _json("One page of products.", "ProductPage", headers=NEXT_LINK),
                    **COMMON_ERRORS,
                },
            },
            "post": {
                "operationId": "upsertProducts",
                "summary": "Create or update products by SKU",
                "description": "A product object or an array of them (at most "
                f"{MAX_ITEMS}), checked with the same rules as the CSV/XLSX import. All or "
                "nothing: when any item is refused, nothing is written and the 422 "
                "answer lists every problem with the item's index.",
                "tags": ["products"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    _ref("ProductInput"),
                                    {
                                        "type": "array",
                                        "items": _ref("ProductInput"),
                                        "maxItems": MAX_ITEMS,
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json("What was created and updated.", "ProductWriteResult"),
                    **COMMON_ERRORS,
                    "409": _error("A SKU was created meanwhile by another request."),
                    "422": _error("Some items are not valid; nothing was written."),
                },
            },
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "The OpenAPI document."}},
            }
        },
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tendero API",
            "version": __version__,
            "description": "Orders and products of a Tendero store. Every endpoint but "
            "this document needs `Authorization: Bearer <token>` (create one with "
            "`tendero tokens create`). Errors are always JSON in the Error shape.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [{"name": "orders"}, {"name": "products"}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `tendero tokens create` (starts with tdr_).",
                }
            },
        },
    }


async def serve_openapi(request: web.Request) -> web.Response:
    """``GET /api/v1/openapi.json`` (public: it holds no data)."""
    return web.json_response(openapi_document(), dumps=dumps)
