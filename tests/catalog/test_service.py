"""The catalog service on SQLite and PostgreSQL: validation, edits, listing, removal."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from tendero.catalog import Catalog, ProductView
from tendero.db import Database
from tendero.db.models import Lead, Order, OrderItem, Product
from tendero.errors import Conflict, NotFound, ValidationFailed


async def test_create_get_and_update(db: Database) -> None:
    catalog = Catalog(db)
    made = await catalog.create(
        sku="TEE-M",
        name="Playera Negra",
        price="1,249.50",
        stock="3",
        attributes={"talla": "M", "color": "negro", "empty": ""},
    )
    assert isinstance(made, ProductView)
    assert made.price == Decimal("1249.50") and made.stock == 3 and made.active
    assert made.attributes == {"talla": "M", "color": "negro"}

    assert (await catalog.get(made.id)).name == "Playera Negra"
    assert (await catalog.get_by_sku("tee-m")).id == made.id  # case-insensitive

    changed = await catalog.update(made.id, name="Playera Negra Dry-Fit", category="Ropa")
    assert changed.name == "Playera Negra Dry-Fit" and changed.category == "Ropa"
    assert changed.price == Decimal("1249.50")  # untouched fields stay

    assert (await catalog.set_stock(made.id, None)).stock is None
    assert (await catalog.set_stock(made.id, 7)).stock == 7
    assert (await catalog.set_price(made.id, "99.9")).price == Decimal("99.90")

    async with db.read_session() as session:
        text = await session.scalar(sa.select(Product.search_text).where(Product.id == made.id))
    assert "dry" in text and "ropa" in text and "negro" in text and "tee" in text


async def test_validation_lists_every_problem(db: Database) -> None:
    catalog = Catalog(db)
    with pytest.raises(ValidationFailed) as info:
        await catalog.create(name="  ", price="-3", stock="2.5", colour="x")
    details = " | ".join(info.value.details)
    assert "name is required" in details
    assert "negative" in details
    assert "whole number" in details
    assert "unknown field(s): colour" in details

    with pytest.raises(ValidationFailed, match="not valid") as info:
        await catalog.create(name="Sin precio")
    assert info.value.details == ["price is required"]

    made = await catalog.create(name="Gorra", price=10)
    with pytest.raises(ValidationFailed):
        await catalog.set_stock(made.id, -1)
    with pytest.raises(NotFound):
        await catalog.get(made.id + 1000)
    with pytest.raises(NotFound):
        await catalog.get_by_sku("NOPE")


async def test_sku_is_unique_ignoring_case(db: Database) -> None:
    catalog = Catalog(db)
    first = await catalog.create(sku="ABC-1", name="Uno", price=1)
    with pytest.raises(Conflict, match="ABC-1"):
        await catalog.create(sku="abc-1", name="Dos", price=2)
    other = await catalog.create(sku="XYZ", name="Tres", price=3)
    with pytest.raises(Conflict):
        await catalog.update(other.id, sku="Abc-1")
    assert (await catalog.get(first.id)).sku == "ABC-1"


async def test_list_pages_and_text_search(db: Database) -> None:
    catalog = Catalog(db)
    for i in range(7):
        await catalog.create(
            sku=f"P{i}", name=f"Proteína {i}", price=10 + i, category="Suplementos"
        )
    await catalog.create(sku="CAF", name="Café molido", price=99, active=False)

    page = await catalog.list_products(per_page=3, page=2)
    assert page.total == 8 and page.pages == 3 and len(page.items) == 3
    assert page.has_next and page.has_previous

    found = await catalog.list_products(search="PROTEINA 3")
    assert [p.sku for p in found.items] == ["P3"]
    assert (await catalog.list_products(search="cafe")).total == 1
    assert (await catalog.list_products(search="cafe", active=True)).total == 0
    assert (await catalog.list_products(search="suplementos")).total == 7
    assert await catalog.count(active=True) == 7


async def _order_referencing(db: Database, product: ProductView) -> None:
    async with db.session() as session:
        lead = Lead(channel="whatsapp", platform_id="5215550000000", name="Ana")
        session.add(lead)
        await session.flush()
        order = Order(
            number=1001,
            channel="whatsapp",
            lead_id=lead.id,
            currency="MXN",
            subtotal=product.price,
            shipping_cost=Decimal(0),
            deposit_amount=Decimal(0),
            total=product.price,
            delivery_method="shipping",
            payment_status="awaiting_payment",
            status="new",
        )
        order.items.append(
            OrderItem(
                product_id=product.id,
                sku=product.sku or "",
                name=product.name,
                unit_price=product.price,
                quantity=1,
                line_total=product.price,
            )
        )
        session.add(order)


async def test_delete_keeps_products_that_orders_refer_to(db: Database) -> None:
    catalog = Catalog(db)
    sold = await catalog.create(sku="SOLD", name="Vendido", price=5)
    unsold = await catalog.create(sku="NEW", name="Nuevo", price=5)
    await _order_referencing(db, sold)

    assert await catalog.delete(sold.id) == "deactivated"
    assert (await catalog.get(sold.id)).active is False
    assert await catalog.delete(unsold.id) == "deleted"
    with pytest.raises(NotFound):
        await catalog.get(unsold.id)
