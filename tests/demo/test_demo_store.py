"""The demo store loads into an empty database only, through the real import and publish."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from tendero.catalog import Catalog
from tendero.db import Database
from tendero.db.models import Product
from tendero.demo import DEMO_STORE_NAME, DatabaseState, database_state, load_demo_store
from tendero.demo.store import clabe_check_digit, demo_document, is_valid_clabe
from tendero.errors import Conflict
from tendero.store.service import get_published_with_version, publish_document


def test_clabe_check_digit() -> None:
    # A published example CLABE (Banxico's documentation): 032180000118359719.
    assert clabe_check_digit("03218000011835971") == "9"
    assert is_valid_clabe("032180000118359719")
    assert not is_valid_clabe("032180000118359718")
    assert not is_valid_clabe("03218000011835971")


def test_demo_document_is_complete() -> None:
    doc = demo_document()
    assert doc.company.name == DEMO_STORE_NAME
    assert doc.currency == "MXN" and doc.company.country == "MX"
    assert doc.workflow.value == "shipping_and_pickup"
    assert doc.shipping.free_threshold is not None and doc.shipping.flat_rate > 0
    assert 0 < doc.pickup.advance_payment_percent < 100
    assert doc.pickup.preparation_minutes > 0


async def test_loads_into_an_empty_database(db: Database) -> None:
    assert await database_state(db) is DatabaseState.EMPTY
    summary = await load_demo_store(db)

    assert summary.products == 32
    assert summary.active_products == 31
    assert summary.locations == 2
    assert summary.settings_version == 1
    assert await database_state(db) is DatabaseState.DEMO

    async with db.read_session() as session:
        doc, version = await get_published_with_version(session)
        products = {p.sku: p for p in await session.scalars(sa.select(Product))}
    assert version == 1
    assert doc.company.name == DEMO_STORE_NAME
    assert doc.company.language == "es" and doc.company.timezone == "America/Mexico_City"
    assert doc.company.greeting.startswith("¡Hola!")
    assert doc.fx_rates == {"USD": demo_document().fx_rates["USD"]}
    assert doc.unpaid_expiry_hours == 48
    assert [loc.name for loc in doc.locations] == ["Sucursal Roma Norte", "Sucursal Del Valle"]
    assert all(
        loc.address and loc.hours and loc.map_url.startswith("https://") for loc in doc.locations
    )
    account = doc.default_bank_account
    assert account is not None and account.default
    assert is_valid_clabe(account.account_number)

    # Variants are rows with their own SKU, price, stock and attributes.
    chocolate = products["TFR-WHEY-CHO-2LB"]
    assert chocolate.attributes == {"sabor": "chocolate", "tamaño": "2 lb"}
    assert products["TFR-PLAY-M"].attributes == {"talla": "M", "color": "negro"}
    assert products["TFR-WHEY-CHO-5LB"].price > chocolate.price
    assert products["TFR-WHEY-FRE-5LB"].stock == 0  # sold out
    assert products["TFR-TOALLA"].stock is None  # stock not tracked
    assert not products["TFR-THERMO-90"].active
    assert all(re.fullmatch(r"TFR-[A-Z0-9-]+", sku) for sku in products)

    # The importer's products are searchable like any other.
    hits = await Catalog(db).search("proteina chocolate", limit=5)
    assert hits


async def test_refuses_a_database_that_is_not_empty(db: Database) -> None:
    await load_demo_store(db)
    with pytest.raises(Conflict, match="not empty"):
        await load_demo_store(db)


async def test_refuses_someone_elses_store(db: Database) -> None:
    doc = demo_document()
    doc.company.name = "Abarrotes Doña Lupe"
    async with db.session() as session:
        await publish_document(session, doc, by="merchant")
    assert await database_state(db) is DatabaseState.OTHER
    with pytest.raises(Conflict, match="not empty"):
        await load_demo_store(db)
    async with db.read_session() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Product)) == 0
