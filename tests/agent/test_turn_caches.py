"""What a turn keeps between turns, and that it never goes stale (SQLite and PostgreSQL).

A turn reads the live settings version and the catalog fingerprint in one statement
(``Commerce.store``); the published document is re-read only when that version changed,
and product search trusts the fingerprint instead of reading it again. A second
``Database`` on the same URL stands for another process (the CLI, the panel of another
server): what it publishes or adds must be seen by the very next turn.
"""

from __future__ import annotations

import sqlalchemy as sa
from tendero.agent.actions import Commerce
from tendero.agent.state import ConversationState
from tendero.catalog import Catalog
from tendero.db import Database
from tendero.store.service import publish_document

from tests.agent.test_actions import make_store


async def publish_named(db: Database, name: str, *, flat_rate: str = "99") -> None:
    doc = make_store(flat_rate=flat_rate)
    doc.company.name = name
    async with db.session() as session:
        await publish_document(session, doc)


def count_statements(db: Database) -> list[str]:
    """Every SQL statement the read engine runs from now on (the turn's reads)."""
    seen: list[str] = []

    @sa.event.listens_for(db.read_engine.sync_engine, "before_cursor_execute")
    def _record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    return seen


async def test_a_published_change_is_seen_by_the_next_turn(database_url: str) -> None:
    db, other = Database(database_url), Database(database_url)
    try:
        await publish_named(db, "Tienda Uno")
        first = Commerce(db)
        assert (await first.store()).company.name == "Tienda Uno"
        version = await first.settings_version()

        # Unchanged: the next turn gets the same document without reading it again.
        statements = count_statements(db)
        second = Commerce(db)
        assert await second.store() is await first.store()
        assert await second.settings_version() == version
        assert not any("store_settings_versions.document" in s for s in statements)

        # Published elsewhere (another process): the next turn sees it.
        await publish_named(other, "Tienda Dos", flat_rate="150")
        third = Commerce(db)
        store = await third.store()
        assert store.company.name == "Tienda Dos"
        assert store.shipping.flat_rate == 150
        assert await third.settings_version() == version + 1

        # Published in this process too.
        await publish_named(db, "Tienda Tres")
        assert (await Commerce(db).store()).company.name == "Tienda Tres"
    finally:
        await other.dispose()
        await db.dispose()


async def test_a_catalog_change_is_seen_by_the_next_turns_search(database_url: str) -> None:
    db, other = Database(database_url), Database(database_url)
    try:
        await publish_named(db, "Tienda")
        await Catalog(db).create(sku="CAP-NEG", name="Gorra Negra", price="250", stock=3)
        turn = Commerce(db)
        await turn.store()
        found = await turn.search(ConversationState(), "gorra")
        assert [p["name"] for p in found.data["products"]] == ["Gorra Negra"]

        # The search index is cached; the fingerprint read with the settings version
        # tells the next turn that another process added a product.
        await Catalog(other).create(sku="CAP-ROJ", name="Gorra Roja", price="260", stock=5)
        statements = count_statements(db)
        turn = Commerce(db)
        await turn.store()
        found = await turn.search(ConversationState(), "gorra roja")
        assert found.data["products"][0]["name"] == "Gorra Roja"

        # And a product taken off sale elsewhere is no longer offered.
        [red] = [p for p in found.data["products"] if p["name"] == "Gorra Roja"]
        await Catalog(other).update(red["id"], active=False)
        turn = Commerce(db)
        await turn.store()
        found = await turn.search(ConversationState(), "gorra")
        assert [p["name"] for p in found.data["products"]] == ["Gorra Negra"]
        # One statement per turn for the version and the fingerprint, none for the
        # fingerprint again inside search.
        assert sum("max(products.id)" in s for s in statements) == 2 + 2  # + the two index rebuilds
    finally:
        await other.dispose()
        await db.dispose()
