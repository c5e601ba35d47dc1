"""Product search quality on a small bilingual catalog (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tendero.catalog import Catalog, ProductView
from tendero.db import Database
from tendero.plugins import create_plugin_manager

DATA = Path(__file__).parent / "data"


@pytest.fixture
async def catalog(db: Database) -> Catalog:
    catalog = Catalog(db)
    report = await catalog.import_file(DATA / "bilingual.csv")
    assert report.ok and report.created == 14
    return catalog


def skus(products: list[ProductView]) -> list[str | None]:
    return [p.sku for p in products]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # typos
        ("protien", {"PRO-CH-2LB", "PRO-VA-2LB", "PRO-FR-2LB", "BAR-CH"}),
        ("chocolte", {"PRO-CH-2LB", "BAR-CH"}),
        ("creatna", {"CRE-300"}),
        # accents and plurals
        ("proteina", {"PRO-CH-2LB", "PRO-VA-2LB", "PRO-FR-2LB", "BAR-CH"}),
        ("proteínas", {"PRO-CH-2LB", "PRO-VA-2LB", "PRO-FR-2LB", "BAR-CH"}),
        ("cafés", {"CAF-MOLIDO"}),
        ("cafe", {"CAF-MOLIDO"}),
        ("botellas", {"BOT-1L"}),
        ("shakers", {"SHK-600"}),
        ("boxes", {"BOX-GIFT"}),
        ("luces", {"LUZ-LED"}),
        # English words for Spanish names, and the other way round
        ("coffee", {"CAF-MOLIDO"}),
        ("strawberry protein", {"PRO-FR-2LB"}),
        ("vanilla", {"PRO-VA-2LB"}),
        ("black shirt", {"CAM-NEG-M"}),
        ("red cap", {"GOR-ROJ"}),
        ("bottle", {"BOT-1L"}),
        ("regalo", {"BOX-GIFT"}),
        ("camisa blanca", {"CAM-BLA-L"}),
        # stopwords around the product words
        ("do you have chocolate protein?", {"PRO-CH-2LB", "BAR-CH"}),
        ("hola, tienes proteína de vainilla?", {"PRO-VA-2LB"}),
    ],
)
async def test_finds_products(catalog: Catalog, query: str, expected: set[str]) -> None:
    assert set(skus(await catalog.fuzzy_search(query))) == expected


async def test_whey_proteins_rank_before_the_bar_for_a_plain_protein_query(
    catalog: Catalog,
) -> None:
    found = skus(await catalog.fuzzy_search("proteina"))
    assert found[-1] == "BAR-CH"


async def test_exact_sku_first_then_exact_name(catalog: Catalog) -> None:
    found = skus(await catalog.fuzzy_search("pro-va-2lb"))
    assert found[0] == "PRO-VA-2LB"
    found = skus(await catalog.fuzzy_search("quiero el PRO-CH-2LB por favor"))
    assert found[0] == "PRO-CH-2LB"
    found = skus(await catalog.fuzzy_search("Barra de proteína chocolate"))
    assert found[0] == "BAR-CH"


async def test_inactive_products_are_never_returned(catalog: Catalog) -> None:
    assert skus(await catalog.fuzzy_search("descontinuada")) == []
    assert "OLD-PROT" not in skus(await catalog.fuzzy_search("proteina vieja"))
    assert "OLD-PROT" not in skus(await catalog.fuzzy_search("OLD-PROT"))


@pytest.mark.parametrize(
    "query", ["xyzzy qwerty", "asdfgh", "the", "tienes?", "   ", "banana split"]
)
async def test_nonsense_finds_nothing(catalog: Catalog, query: str) -> None:
    assert await catalog.fuzzy_search(query) == []


async def test_changes_are_visible_at_once(db: Database, catalog: Catalog) -> None:
    shaker = await catalog.get_by_sku("SHK-600")
    assert skus(await catalog.fuzzy_search("shaker")) == ["SHK-600"]
    await catalog.update(shaker.id, name="Mezclador 600ml")
    await catalog.set_active(shaker.id, False)
    assert await catalog.fuzzy_search("shaker") == []
    # Another process's write (here: another Database object) is seen too.
    other = Database(db.url)
    try:
        await Catalog(other).create(sku="TERMO", name="Termo de acero", price=350)
        await Catalog(other).set_stock((await Catalog(other).get_by_sku("BOT-1L")).id, 0)
    finally:
        await other.dispose()
    assert skus(await catalog.fuzzy_search("termo acero")) == ["TERMO"]
    bottle = [p for p in await catalog.fuzzy_search("botella") if p.sku == "BOT-1L"]
    assert bottle and bottle[0].stock == 0


async def test_search_goes_through_the_plugin_hook(db: Database, catalog: Catalog) -> None:
    pm = create_plugin_manager(allow=["core"])
    hooked = Catalog(db, pm)
    assert skus(await hooked.search("coffee")) == ["CAF-MOLIDO"]

    class Fixed:
        from tendero import hookimpl

        @hookimpl
        async def search_products(
            self, query: str, limit: int, catalog: Catalog
        ) -> list[ProductView]:
            return [await catalog.get_by_sku("OLD-PROT"), await catalog.get_by_sku("GOR-ROJ")]

    pm.register(Fixed())
    assert skus(await hooked.search("anything")) == ["GOR-ROJ"]  # inactive filtered out
