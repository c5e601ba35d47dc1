"""The JSON API under ``/api/v1/`` (bearer tokens) and its OpenAPI document.

Modules: :mod:`~tendero_web.api.middleware` (authentication, JSON errors),
:mod:`~tendero_web.api.orders`, :mod:`~tendero_web.api.products`,
:mod:`~tendero_web.api.openapi`; request parsing in :mod:`~tendero_web.api.params`,
the error shape in :mod:`~tendero_web.api.errors`. ``docs/api.md`` shows it in use.
"""

from __future__ import annotations

from aiohttp import web

from tendero_web.api import orders, products
from tendero_web.api.middleware import api_middleware
from tendero_web.api.openapi import serve_openapi


def setup_api(app: web.Application) -> None:
    """Mount the API routes and its middleware on ``app`` (before it starts)."""
    app.middlewares.append(api_middleware)
    add = app.router.add_route
    add("GET", "/api/v1/openapi.json", serve_openapi, name="api_openapi")
    add("GET", "/api/v1/orders", orders.list_orders, name="api_orders")
    # Before /orders/{number}, which would otherwise take "export" for a number.
    add("GET", "/api/v1/orders/export", orders.export_orders, name="api_orders_export")
    add("GET", "/api/v1/orders/{number}", orders.order_detail, name="api_order")
    add("POST", "/api/v1/orders/{number}/status", orders.move_status, name="api_order_status")
    add("POST", "/api/v1/orders/{number}/payment", orders.move_payment, name="api_order_payment")
    add("GET", "/api/v1/products", products.list_products, name="api_products")
    add("POST", "/api/v1/products", products.upsert_products, name="api_products_write")
