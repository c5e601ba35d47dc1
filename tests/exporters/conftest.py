"""Orders in the ORDER JSON format (ARCHITECTURE.md §3) for the exporter tests."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import pytest
from tendero.plugins import create_plugin_manager, flatten

BASE_ORDER: dict[str, Any] = {
    "number": 1001,
    "created_at": "2026-03-14T09:26:53-06:00",
    "channel": "whatsapp",
    "customer": {
        "name": "José Ñúñez Peña",
        "platform_id": "5215512345678",
        "phone": "5215512345678",
        "email": "jose@example.mx",
    },
    "items": [
        {
            "sku": "PLY-AZ-M",
            "name": "Playera azul algodón",
            "quantity": 2,
            "unit_price": "249.50",
            "line_total": "499.00",
        },
        {
            "sku": "GOR-01",
            "name": "Gorra bordada",
            "quantity": 1,
            "unit_price": "750.50",
            "line_total": "750.50",
        },
    ],
    "subtotal": "1249.50",
    "shipping_cost": "99.00",
    "deposit_amount": "0.00",
    "total": "1348.50",
    "currency": "MXN",
    "delivery_method": "shipping",
    "shipping_address": {
        "street": "Av. Insurgentes Sur",
        "house_number": "1602",
        "interior": "4B",
        "neighborhood": "Crédito Constructor",
        "postal_code": "03940",
        "city": "Ciudad de México",
        "state": "CDMX",
        "references": "Portón café, junto a la farmacia",
    },
    "pickup_location": None,
    "ready_at": None,
    "payment_status": "pending",
    "status": "new",
}


def build_order(**changes: Any) -> dict[str, Any]:
    """A realistic order; keyword arguments replace top-level keys; ``customer_*``
    keys replace customer fields."""
    order = copy.deepcopy(BASE_ORDER)
    for key, value in changes.items():
        if key.startswith("customer_"):
            order["customer"][key.removeprefix("customer_")] = value
        else:
            order[key] = value
    return order


def build_pickup_order(number: int = 1002) -> dict[str, Any]:
    return build_order(
        number=number,
        channel="instagram",
        delivery_method="pickup",
        shipping_address=None,
        pickup_location={"name": "Tienda Coyoacán", "address": "Francisco Sosa 205"},
        ready_at="2026-03-14T12:00:00-06:00",
        deposit_amount="674.25",
        customer_platform_id="17841400000000001",
        customer_phone="",
    )


async def stream_of(orders: Iterable[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    """The async iterator an exporter reads (the orders service yields one like it)."""
    for order in orders:
        yield order


@pytest.fixture
def make_order() -> Callable[..., dict[str, Any]]:
    return build_order


@pytest.fixture
def pickup_order() -> Callable[..., dict[str, Any]]:
    return build_pickup_order


@pytest.fixture
def aiter() -> Callable[[Iterable[dict[str, Any]]], AsyncIterator[dict[str, Any]]]:
    return stream_of


@pytest.fixture(scope="session")
def exporters() -> dict[str, Any]:
    """The built-in exporters, loaded through the plugin hook as the app does."""
    pm = create_plugin_manager(allow=["exporters"])
    return {e.name: e for e in flatten(pm.hook.register_exporters())}
