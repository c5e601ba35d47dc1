"""The draft / publish life cycle, on SQLite and PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import sqlalchemy as sa
from tendero.db import Database
from tendero.db.models import StoreSettingsVersion
from tendero.errors import Conflict, ValidationFailed
from tendero.store import StoreDocument, service

CLABE = "032180000118359719"


def complete_document(**changes) -> StoreDocument:
    return StoreDocument.model_validate(
        {
            "company": {"name": "Dulces Lupita"},
            "workflow": "shipping_and_pickup",
            "shipping": {"flat_rate": "99.00", "free_threshold": "1000"},
            "locations": [{"name": "Centro", "address": "Av. Juárez 10"}],
            "bank_accounts": [
                {"bank_name": "BBVA", "account_holder": "Lupita", "account_number": CLABE}
            ],
        }
        | changes
    )


async def set_(db: Database, key: str, value: str) -> StoreDocument:
    async with db.session() as session:
        return await service.set_value(session, key, value, by="test")


async def test_nothing_published_gives_defaults(db):
    async with db.read_session() as session:
        assert await service.get_published_version(session) is None
        assert await service.get_published(session) == StoreDocument()
        assert await service.get_draft(session) == StoreDocument()
        assert not await service.has_draft(session)
        assert await service.history(session) == []


async def test_publish_document_publishes_without_a_draft(db):
    async with db.session() as session:
        assert await service.publish_document(session, complete_document(), by="demo") == 1
    async with db.read_session() as session:
        doc, version = await service.get_published_with_version(session)
        assert version == 1
        assert doc == complete_document()
        assert doc.shipping.flat_rate == Decimal("99.00")
        assert not await service.has_draft(session)
        [entry] = await service.history(session)
        assert (entry.version, entry.published_by) == (1, "demo")
        assert entry.published_at.tzinfo is not None


async def test_stored_money_is_decimal_strings(db):
    async with db.session() as session:
        await service.publish_document(session, complete_document())
    async with db.read_session() as session:
        stored = await session.scalar(sa.select(StoreSettingsVersion.document))
    assert stored["shipping"] == {"flat_rate": "99.00", "free_threshold": "1000.00"}


async def test_publish_document_refuses_with_every_error(db):
    async with db.session() as session:
        with pytest.raises(ValidationFailed) as caught:
            await service.publish_document(session, StoreDocument())
    assert caught.value.details == [
        "locations: the shipping_and_pickup workflow needs at least one store location",
        "bank_accounts: at least one bank account is needed: the shipping_and_pickup workflow"
        " takes payment by bank transfer",
    ]
    async with db.read_session() as session:
        assert await service.get_published_version(session) is None


async def test_draft_is_isolated_from_the_live_settings(db):
    async with db.session() as session:
        await service.publish_document(session, complete_document())
    await set_(db, "shipping.flat_rate", "120")
    async with db.read_session() as session:
        assert (await service.get_published(session)).shipping.flat_rate == Decimal("99")
        assert (await service.get_draft(session)).shipping.flat_rate == Decimal("120")
        assert await service.has_draft(session)
    async with db.session() as session:
        assert await service.publish(session, by="ana") == 2
    async with db.read_session() as session:
        assert (await service.get_published(session)).shipping.flat_rate == Decimal("120")
        assert not await service.has_draft(session)
        assert [v.version for v in await service.history(session)] == [2, 1]
        assert (await service.history(session))[0].published_by == "ana"
        assert (await service.get_version(session, 1)).shipping.flat_rate == Decimal("99")


async def test_discard_returns_to_the_live_settings(db):
    async with db.session() as session:
        await service.publish_document(session, complete_document())
    await set_(db, "company.name", "Otra")
    async with db.session() as session:
        assert await service.discard(session) is True
    async with db.session() as session:
        assert await service.discard(session) is False
        assert not await service.has_draft(session)
        assert (await service.get_draft(session)).company.name == "Dulces Lupita"
        assert await service.get_published_version(session) == 1


async def test_publishing_without_a_draft_is_a_conflict(db):
    async with db.session() as session:
        with pytest.raises(Conflict, match="nothing to publish: there is no draft"):
            await service.publish(session)


async def test_set_value_nested_paths_and_list_indexes(db):
    await set_(db, "company.name", "Café Ñandú")
    await set_(db, "company.agent_name", "123")  # JSON number, kept as text
    await set_(db, "locations.0", '{"name": "Centro", "address": "Calle 1"}')  # appends
    await set_(db, "locations.1", '{"name": "Norte", "address": "Calle 2"}')
    await set_(db, "locations.0.name", "Centro Histórico")
    await set_(
        db,
        "bank_accounts",
        f'[{{"bank_name": "BBVA", "account_holder": "Ana", "account_number": "{CLABE}"}}]',
    )
    await set_(
        db,
        "bank_accounts.1",
        '{"bank_name": "Banorte", "account_holder": "Ana", "account_number": "12345"}',
    )
    await set_(db, "bank_accounts.1.default", "true")
    await set_(db, "bank_accounts.0.account_number", CLABE)  # 18 digits as JSON: kept as text
    await set_(db, "shipping.free_threshold", "500.5")
    await set_(db, "pickup", '{"advance_payment_percent": 50}')
    await set_(db, "fx_rates.usd", "0.055")
    doc = await set_(db, "fx_rates", '{"EUR": 0.05, "USD": "0.055"}')
    assert doc.company.name == "Café Ñandú"
    assert doc.company.agent_name == "123"
    assert [loc.name for loc in doc.locations] == ["Centro Histórico", "Norte"]
    assert doc.bank_accounts[0].account_number == CLABE
    assert doc.default_bank_account.bank_name == "Banorte"
    assert doc.shipping.free_threshold == Decimal("500.5")
    assert doc.pickup.preparation_minutes == 0  # the whole object was replaced
    assert doc.fx_rates == {"EUR": Decimal("0.05"), "USD": Decimal("0.055")}
    doc = await set_(db, "fx_rates.EUR", "null")
    assert doc.fx_rates == {"USD": Decimal("0.055")}
    async with db.read_session() as session:
        assert await service.get_draft(session) == doc
        assert await service.get_published_version(session) is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "shiping.flat_rate",
            "5",
            "unknown setting 'shiping.flat_rate' (did you mean 'shipping.flat_rate'?)",
        ),
        (
            "shipping.rate",
            "5",
            "unknown setting 'shipping.rate' (did you mean 'shipping.flat_rate'?)",
        ),
        ("nothing", "5", "unknown setting 'nothing': the settings are company, currency"),
        (
            "company.name.first",
            "x",
            "unknown setting 'company.name.first': 'company.name' is a single value",
        ),
        (
            "locations.3",
            "{}",
            "no item 3 in 'locations': it is empty; set 'locations.0' to a whole object to add one",
        ),
        ("locations.0.name", "x", "no item 0 in 'locations'"),
        ("locations.first", "x", "'locations' is a list: follow it with an item number"),
        ("shipping..flat_rate", "5", "bad setting key 'shipping..flat_rate'"),
    ],
)
async def test_set_value_refuses_unknown_keys(db, key, value, message):
    with pytest.raises(ValidationFailed) as caught:
        await set_(db, key, value)
    assert caught.value.message.startswith(message)
    async with db.read_session() as session:
        assert not await service.has_draft(session)


@pytest.mark.parametrize(
    ("key", "value", "detail"),
    [
        (
            "pickup.advance_payment_percent",
            "101",
            "pickup.advance_payment_percent: must be 0 (off) or a whole percent from 1 to 100 (got 101)",
        ),
        ("currency", "PESOS", "currency: unknown currency 'PESOS'"),
        ("shipping.flat_rate", "-3", "shipping.flat_rate: an amount cannot be negative (got -3)"),
        (
            "shipping.flat_rate",
            "1.005",
            "shipping.flat_rate: 1.005 has more decimals than MXN allows (2)",
        ),
        ("company.timezone", "Mars/Olympus", "company.timezone: unknown time zone 'Mars/Olympus'"),
        ("locations.0", '{"name": "Centro"}', "locations[0].address: required"),
        (
            "bank_accounts.0",
            '{"bank_name": "B", "account_holder": "A", "account_number": "032180000118359713"}',
            "bank_accounts[0].account_number: invalid CLABE check digit (expected 9, got 3)",
        ),
        ("unpaid_expiry_hours", "0", "unpaid_expiry_hours: must be a whole number of hours from 1"),
    ],
)
async def test_set_value_validates_that_field(db, key, value, detail):
    with pytest.raises(ValidationFailed) as caught:
        await set_(db, key, value)
    assert caught.value.message == f"cannot set {key!r}"
    assert caught.value.details[0].startswith(detail)
    async with db.read_session() as session:
        assert not await service.has_draft(session)


async def test_set_leaves_rules_across_fields_to_publish(db):
    # Pickup only, no location yet: a fine draft, not a publishable one.
    await set_(db, "workflow", "pickup_only")
    await set_(db, "pickup.advance_payment_percent", "20")
    await set_(db, "company.country", "CO")
    await set_(
        db,
        "bank_accounts.0",
        '{"bank_name": "B", "account_holder": "A", "account_number": "111111111111111111"}',
    )
    await set_(db, "company.country", "MX")  # accepted here; publish re-checks the CLABE
    await set_(
        db,
        "bank_accounts.1",
        '{"bank_name": "C", "account_holder": "A", "account_number": "9", "default": true}',
    )
    await set_(db, "bank_accounts.0.default", "true")
    async with db.session() as session:
        with pytest.raises(ValidationFailed) as caught:
            await service.publish(session)
    assert caught.value.details == [
        "locations: the pickup_only workflow needs at least one store location",
        "bank_accounts: only one account can be the default (bank_accounts[0], bank_accounts[1] are marked as default)",
        "bank_accounts[0].account_number: invalid CLABE check digit (expected 5, got 1)",
    ]
    async with db.read_session() as session:
        assert await service.has_draft(session)  # kept for the merchant to fix
        assert await service.get_published_version(session) is None


async def test_save_draft_replaces_the_draft(db):
    async with db.session() as session:
        await service.publish_document(session, complete_document())
    async with db.session() as session:
        await service.save_draft(session, complete_document(currency="USD"), by="panel")
        await service.save_draft(session, complete_document(currency="EUR"), by="panel")
    async with db.read_session() as session:
        assert (await service.get_draft(session)).currency == "EUR"
        assert (await service.get_published(session)).currency == "MXN"


async def test_concurrent_publishes_get_distinct_versions(db):
    async def publish_one(name: str) -> int:
        async with db.session() as session:
            version = await service.publish_document(
                session, complete_document(company={"name": name})
            )
            await asyncio.sleep(0.05)  # hold the transaction open so the others overlap
            return version

    versions = await asyncio.gather(*(publish_one(f"Tienda {i}") for i in range(4)))
    assert sorted(versions) == [1, 2, 3, 4]
    async with db.read_session() as session:
        assert [v.version for v in await service.history(session)] == [4, 3, 2, 1]


async def test_concurrent_draft_edits_all_land(db):
    keys = ["company.name", "company.agent_name", "company.greeting", "company.return_policy"]
    await asyncio.gather(*(set_(db, key, f"valor {i}") for i, key in enumerate(keys)))
    async with db.read_session() as session:
        company = (await service.get_draft(session)).company
    assert [getattr(company, key.split(".")[1]) for key in keys] == [f"valor {i}" for i in range(4)]


async def test_concurrent_publish_of_one_draft_publishes_it_once(db):
    await set_(db, "workflow", "shipping_only")
    await set_(
        db,
        "bank_accounts.0",
        f'{{"bank_name": "B", "account_holder": "A", "account_number": "{CLABE}"}}',
    )

    async def publish_once() -> int | str:
        try:
            async with db.session() as session:
                return await service.publish(session)
        except Conflict:
            return "conflict"

    results = await asyncio.gather(publish_once(), publish_once())
    assert sorted(results, key=str) == [1, "conflict"]
