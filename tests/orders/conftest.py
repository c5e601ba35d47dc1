"""Helpers for the orders tests: store documents, catalog rows and placed orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from tendero.db import Database
from tendero.db.models import Order, Product
from tendero.orders import CartLine, create_order
from tendero.store.document import Location, Pickup, Shipping, StoreDocument, Workflow

ADDRESS = {
    "street": "Insurgentes Sur",
    "house_number": "1602",
    "interior": "4B",
    "neighborhood": "Crédito Constructor",
    "postal_code": "03940",
    "city": "Ciudad de México",
    "state": "CDMX",
    "references": "Portón negro",
}
CUSTOMER = {
    "name": "Ana Núñez",
    "platform_id": "5215512345678",
    "phone": "+52 55 1234 5678",
    "email": "ana@example.com",
}


def make_store(
    *,
    currency: str = "MXN",
    workflow: Workflow = Workflow.SHIPPING_AND_PICKUP,
    flat_rate: str = "99",
    free_threshold: str | None = "1000",
    advance_percent: int = 0,
    preparation_minutes: int = 0,
    expiry_hours: int = 48,
) -> StoreDocument:
    return StoreDocument(
        currency=currency,
        workflow=workflow,
        shipping=Shipping(
            flat_rate=Decimal(flat_rate),
            free_threshold=None if free_threshold is None else Decimal(free_threshold),
        ),
        pickup=Pickup(
            advance_payment_percent=advance_percent, preparation_minutes=preparation_minutes
        ),
        locations=[
            Location(name="Centro", address="Madero 10, Centro, CDMX", hours="L-S 10-19"),
            Location(name="Roma", address="Orizaba 5, Roma Nte., CDMX"),
        ],
        unpaid_expiry_hours=expiry_hours,
    )


@pytest.fixture
def store() -> StoreDocument:
    return make_store()


async def add_product(
    db: Database,
    name: str = "Proteína Chocolate 1kg",
    price: str = "499.00",
    stock: int | None = 10,
    sku: str | None = None,
    active: bool = True,
) -> int:
    async with db.session() as session:
        product = Product(name=name, price=Decimal(price), stock=stock, sku=sku, active=active)
        session.add(product)
        await session.flush()
        return product.id


async def stock_of(db: Database, product_id: int) -> int | None:
    async with db.read_session() as session:
        product = await session.get(Product, product_id)
        assert product is not None
        return product.stock


async def place(
    db: Database,
    store: StoreDocument,
    lines: list[tuple[int, int]],
    *,
    method: str = "shipping",
    now: datetime | None = None,
    **kwargs: Any,
) -> Order:
    """Create an order in its own transaction, the way the agent does."""
    if method == "shipping":
        kwargs.setdefault("shipping_address", ADDRESS)
    else:
        kwargs.setdefault("pickup_location", "Centro")
    async with db.session() as session:
        return await create_order(
            session,
            lines=[CartLine(pid, qty) for pid, qty in lines],
            channel=kwargs.pop("channel", "whatsapp"),
            customer=kwargs.pop("customer", CUSTOMER),
            delivery_method=method,
            store=store,
            settings_version=1,
            now=now,
            **kwargs,
        )
