"""The catalog service: the one place that reads and writes ``products``.

Callers get :class:`ProductView` snapshots, never ORM rows. Every write keeps
``search_text`` current, and every write that changes what search indexes (names, SKUs,
categories, descriptions, attributes, ``active``; imports always) bumps the **catalog
version** (a row in ``sequences``) in the same transaction. Product search caches its
index per :class:`Database` and rebuilds it when the version (or the highest product
id) it reads differs — so a change committed by any process (the CLI
importing while the server runs, another server) is seen by the next search. Search
results are re-read from the table by id, so price, stock and ``active`` in a result are
always current even between rebuilds.

Removal policy (``delete``, ``replace`` and ``clear`` imports): a product that some order
item still points to is **deactivated**, not deleted — the order keeps its link (stock
goes back to it when the order is cancelled) and the panel can still open it; a product
no order references is deleted.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pluggy
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tendero.catalog.facets import CatalogFacets
from tendero.catalog.fields import PARSERS, FieldError
from tendero.catalog.importer import (
    ImportMode,
    ImportReport,
    ParsedFile,
    ProgressCallback,
    RowError,
    parse_table,
    read_table,
)
from tendero.catalog.search import IndexRow, SearchIndex
from tendero.catalog.text import build_search_text, words
from tendero.catalog.views import ProductPage, ProductView
from tendero.db import Database
from tendero.db.models import OrderItem, Product
from tendero.db.models import Sequence as Counter
from tendero.db.types import utcnow
from tendero.errors import Conflict, NotFound, ValidationFailed
from tendero.plugins import call_firstresult

CATALOG_VERSION = "catalog_version"
"""Name of the ``sequences`` row bumped by every catalog write."""

CHUNK = 1000  # rows per statement in bulk writes (well under SQLite's variable limit)
REQUIRED_FOR_NEW = ("name", "price")
# Search results are re-read from the table, so changing only these fields does not
# make the search index stale (a stock change must not cost an index rebuild).
FRESH_FIELDS = frozenset({"price", "stock", "image_url"})


async def bump_catalog_version(session: AsyncSession) -> None:
    """Mark the catalog as changed, inside the caller's transaction.

    The catalog service calls this on every write. Code that changes ``products``
    without the service (it should not) must call it too, or product search keeps
    serving its cached index until the next catalog write.
    """
    dialect = session.bind.dialect.name if session.bind is not None else ""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Counter).values(name=CATALOG_VERSION, value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Counter.name], set_={"value": Counter.value + 1}
    )
    await session.execute(stmt)


def fingerprint_columns() -> tuple[sa.ScalarSelect[Any], sa.ScalarSelect[Any]]:
    """The two values of the catalog fingerprint as scalar subqueries, so a caller can
    read them in a statement it makes anyway (the agent reads them with the settings
    version, once per turn)."""
    return (
        sa.select(Counter.value).where(Counter.name == CATALOG_VERSION).scalar_subquery(),
        sa.select(sa.func.max(Product.id)).scalar_subquery(),
    )


def as_fingerprint(version: int | None, top: int | None) -> tuple[int, int]:
    return (int(version or 0), int(top or 0))


async def _fingerprint(session: AsyncSession) -> tuple[int, int]:
    """(catalog version, highest product id): changes whenever the catalog does.

    The highest id also catches rows inserted without the service (a bulk loader).
    """
    version, top = (await session.execute(sa.select(*fingerprint_columns()))).one()
    return as_fingerprint(version, top)


async def _index_rows(session: AsyncSession, *, active: bool) -> list[IndexRow]:
    """What the search index needs of every active (or every inactive) product."""
    result = await session.execute(
        sa.select(
            Product.id,
            Product.sku,
            Product.name,
            Product.category,
            Product.description,
            Product.attributes,
        ).where(Product.active.is_(active))
    )
    return [
        IndexRow(r.id, r.sku, r.name, r.category or "", r.description or "", r.attributes or {})
        for r in result
    ]


@dataclass
class _IndexCache:
    fingerprint: tuple[int, int] | None = None
    index: SearchIndex | None = None
    facets: CatalogFacets | None = None  # families and values, from the same rows
    rows: list[IndexRow] = field(default_factory=list)  # the active products' text
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The products no longer sold, indexed on demand (to tell a shopper so).
    inactive_fingerprint: tuple[int, int] | None = None
    inactive: SearchIndex | None = None


# One cached index per Database object (a process normally has one).
_INDEX_CACHES: weakref.WeakKeyDictionary[Database, _IndexCache] = weakref.WeakKeyDictionary()


class _RollBack(Exception):
    """Raised inside the import transaction to undo it (strict mode with errors)."""


class Catalog:
    """Products: create, edit, list, import and search.

    ``plugins`` is the plugin manager; when given, :meth:`search` goes through the
    ``search_products`` hook so a plugin may bring its own search.
    """

    def __init__(
        self,
        db: Database,
        plugins: pluggy.PluginManager | None = None,
        *,
        fingerprint: tuple[int, int] | None = None,
    ) -> None:
        self.db = db
        self.plugins = plugins
        # The catalog fingerprint read by the caller moments ago (``fingerprint_columns``):
        # search then skips reading it again. Set it per unit of work (a turn), never
        # for longer: it is what tells this process of catalog changes made elsewhere.
        self.fingerprint = fingerprint

    # --- reading ----------------------------------------------------------------------

    async def get(self, product_id: int) -> ProductView:
        """The product with this id (active or not); :class:`NotFound` if there is none."""
        async with self.db.read_session() as session:
            product = await session.get(Product, product_id)
            if product is None:
                raise NotFound(f"Product {product_id} does not exist.")
            return ProductView.from_model(product)

    async def find_by_sku(self, sku: str) -> ProductView | None:
        """The product with this SKU (case-insensitive, active or not), or ``None``."""
        sku = sku.strip()
        if not sku:
            return None
        async with self.db.read_session() as session:
            product = await session.scalar(
                sa.select(Product).where(Product.sku == sku)
            ) or await session.scalar(
                sa.select(Product)
                .where(sa.func.lower(Product.sku) == sku.lower())
                .order_by(Product.id)
                .limit(1)
            )
            return ProductView.from_model(product) if product is not None else None

    async def get_by_sku(self, sku: str) -> ProductView:
        """The product with this SKU (case-insensitive); :class:`NotFound` if there is none."""
        product = await self.find_by_sku(sku)
        if product is None:
            raise NotFound(f"No product has the SKU {sku.strip()!r}.")
        return product

    async def get_many(
        self, product_ids: Iterable[int], *, active_only: bool = False
    ) -> list[ProductView]:
        """Products by id, in the order given; unknown ids (and inactive ones when
        ``active_only``) are left out."""
        ids = list(dict.fromkeys(product_ids))
        if not ids:
            return []
        found: dict[int, ProductView] = {}
        async with self.db.read_session() as session:
            for start in range(0, len(ids), CHUNK):
                stmt = sa.select(Product).where(Product.id.in_(ids[start : start + CHUNK]))
                if active_only:
                    stmt = stmt.where(Product.active.is_(True))
                for product in await session.scalars(stmt):
                    found[product.id] = ProductView.from_model(product)
        return [found[i] for i in ids if i in found]

    async def list_products(
        self,
        *,
        search: str = "",
        page: int = 1,
        per_page: int = 50,
        active: bool | None = None,
        category: str | None = None,
    ) -> ProductPage:
        """One page of products for the panel, by name.

        ``search`` keeps products whose name, SKU, category, description or attributes
        contain every word of it (accents and case ignored); ``active`` filters on the
        flag (``None``: all); ``category`` filters on an exact category.
        """
        page = max(1, page)
        per_page = max(1, min(per_page, 500))
        conditions: list[sa.ColumnElement[bool]] = []
        for word in words(search):
            conditions.append(Product.search_text.contains(word, autoescape=True))
        if active is not None:
            conditions.append(Product.active.is_(active))
        if category is not None:
            conditions.append(Product.category == category)
        async with self.db.read_session() as session:
            total = await session.scalar(
                sa.select(sa.func.count()).select_from(Product).where(*conditions)
            )
            rows = await session.scalars(
                sa.select(Product)
                .where(*conditions)
                .order_by(Product.name, Product.id)
                .offset((page - 1) * per_page)
                .limit(per_page)
            )
            items = [ProductView.from_model(p) for p in rows]
        return ProductPage(items=items, total=int(total or 0), page=page, per_page=per_page)

    async def count(self, *, active: bool | None = None) -> int:
        """How many products there are (``active`` filters on the flag)."""
        stmt = sa.select(sa.func.count()).select_from(Product)
        if active is not None:
            stmt = stmt.where(Product.active.is_(active))
        async with self.db.read_session() as session:
            return int(await session.scalar(stmt) or 0)

    async def categories(self) -> list[str]:
        """The distinct non-empty categories of active products, sorted."""
        async with self.db.read_session() as session:
            rows = await session.scalars(
                sa.select(Product.category)
                .where(Product.active.is_(True), Product.category != "")
                .distinct()
                .order_by(Product.category)
            )
            return list(rows)

    # --- writing ----------------------------------------------------------------------

    async def create(self, data: Mapping[str, Any] | None = None, **fields: Any) -> ProductView:
        """Add a product. Fields as in the catalog import format (README, "Products"): ``name`` and ``price`` required;
        ``sku`` unique (case-insensitive). :class:`ValidationFailed` lists every problem."""
        values = _clean({**(data or {}), **fields}, creating=True)
        async with self.db.session() as session:
            if values.get("sku"):
                await self._check_sku_free(session, values["sku"], None)
            now = utcnow()
            product = Product(
                sku=values.get("sku"),
                name=values["name"],
                price=values["price"],
                stock=values.get("stock"),
                description=values.get("description", ""),
                category=values.get("category", ""),
                image_url=values.get("image_url", ""),
                active=values.get("active", True),
                attributes=values.get("attributes", {}),
                created_at=now,
                updated_at=now,
            )
            product.search_text = _search_text_of(product)
            session.add(product)
            try:
                await session.flush()
            except IntegrityError:
                raise Conflict(f"The SKU {values.get('sku')!r} is already used.") from None
            await bump_catalog_version(session)
            return ProductView.from_model(product)

    async def update(
        self, product_id: int, data: Mapping[str, Any] | None = None, **fields: Any
    ) -> ProductView:
        """Change some fields of a product (only those given); returns the new state."""
        values = _clean({**(data or {}), **fields}, creating=False)
        async with self.db.session() as session:
            product = await self._load_for_update(session, product_id)
            if values.get("sku") and values["sku"] != product.sku:
                await self._check_sku_free(session, values["sku"], product_id)
            for key, value in values.items():
                setattr(product, key, value)
            product.search_text = _search_text_of(product)
            product.updated_at = utcnow()
            try:
                await session.flush()
            except IntegrityError:
                raise Conflict(f"The SKU {values.get('sku')!r} is already used.") from None
            if not set(values) <= FRESH_FIELDS:
                await bump_catalog_version(session)
            return ProductView.from_model(product)

    async def set_stock(self, product_id: int, stock: int | str | None) -> ProductView:
        """Set the stock count (``None`` or empty: not tracked)."""
        return await self.update(product_id, stock=stock)

    async def set_price(self, product_id: int, price: Any) -> ProductView:
        """Set the price (a decimal >= 0; text is parsed like the import does)."""
        return await self.update(product_id, price=price)

    async def set_active(self, product_id: int, active: bool) -> ProductView:
        """Show (``True``) or hide (``False``) a product from the agent."""
        return await self.update(product_id, active=active)

    async def delete(self, product_id: int) -> str:
        """Remove a product: ``"deleted"``, or ``"deactivated"`` when an order item still
        refers to it (see the module docstring)."""
        async with self.db.session() as session:
            product = await self._load_for_update(session, product_id)
            referenced = await session.scalar(
                sa.select(OrderItem.id).where(OrderItem.product_id == product_id).limit(1)
            )
            await bump_catalog_version(session)
            if referenced is not None:
                product.active = False
                product.updated_at = utcnow()
                return "deactivated"
            await session.delete(product)
            return "deleted"

    async def _load_for_update(self, session: AsyncSession, product_id: int) -> Product:
        product = await session.get(Product, product_id, with_for_update=True)
        if product is None:
            raise NotFound(f"Product {product_id} does not exist.")
        return product

    async def _check_sku_free(self, session: AsyncSession, sku: str, own_id: int | None) -> None:
        stmt = sa.select(Product.id, Product.name, Product.sku).where(
            sa.func.lower(Product.sku) == sku.lower()
        )
        if own_id is not None:
            stmt = stmt.where(Product.id != own_id)
        clash = (await session.execute(stmt.limit(1))).first()
        if clash is not None:
            taken = "" if clash.sku == sku else f" as {clash.sku!r}"
            raise Conflict(
                f"The SKU {sku!r} is already used{taken} by {clash.name!r} (product {clash.id})."
            )

    # --- import -----------------------------------------------------------------------

    async def import_file(
        self,
        source: str | Path | bytes | BinaryIO | None,
        *,
        mode: ImportMode | str = ImportMode.ADD,
        strict: bool = False,
        filename: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ImportReport:
        """Import a CSV or XLSX catalog file (columns as in the README) in one transaction.

        ``source`` is a path, the file's bytes or a binary file object (``filename``
        helps tell the format of bytes; the content decides first). Modes:

        * ``add``: rows whose SKU exists update that product (only the file's columns
          change); other rows are inserted.
        * ``replace``: like ``add``, then every product the file does not mention is
          deactivated (an order refers to it) or deleted — except products whose SKU
          is on a rejected row, which are left as they are. Rows of the file are
          active unless their ``active`` cell says otherwise.
        * ``clear``: every product is deactivated or deleted the same way; with a file,
          its rows are then imported (the same result as ``replace``).

        Rejected rows are listed in the report with their line numbers; the other rows
        are imported — unless ``strict``, when nothing is written if any row is bad.
        A problem with the file as a whole raises :class:`ValidationFailed`.
        """
        try:
            mode = ImportMode(mode)
        except ValueError:
            raise ValidationFailed(
                f"Unknown import mode {mode!r}: use add, replace or clear."
            ) from None
        parsed: ParsedFile | None = None
        report = ImportReport(mode=mode, strict=strict)
        if source is None:
            if mode is not ImportMode.CLEAR:
                raise ValidationFailed(f"Mode {mode.value} needs a file to import.")
        else:
            data, filename = _read_source(source, filename)
            rows, warnings = await asyncio.to_thread(read_table, data, filename)
            parsed = await asyncio.to_thread(parse_table, rows, progress=progress)
            report.rows = parsed.total_rows
            report.errors.extend(parsed.errors)
            report.warnings.extend(warnings + parsed.warnings)
            if strict and report.errors:
                return report
        try:
            async with self.db.session() as session:
                await self.apply_import(session, parsed, report, progress)
                if strict and report.errors:
                    raise _RollBack
        except _RollBack:
            report.created = report.updated = report.deactivated = report.deleted = 0
            report.applied = False
            return report
        report.errors.sort(key=lambda e: e.line)
        report.applied = True
        return report

    async def clear(self) -> ImportReport:
        """Empty the catalog (products referenced by orders are deactivated instead)."""
        return await self.import_file(None, mode=ImportMode.CLEAR)

    async def apply_import(
        self,
        session: AsyncSession,
        parsed: ParsedFile | None,
        report: ImportReport,
        progress: ProgressCallback | None,
    ) -> None:
        """Upsert the parsed rows by SKU inside ``session`` (the caller's transaction), as
        ``report.mode`` says, counting what happened in ``report``. The CSV/XLSX import and
        the API's product writes share it."""
        existing = (
            await session.execute(
                sa.select(
                    Product.id,
                    Product.sku,
                    Product.name,
                    Product.category,
                    Product.description,
                    Product.attributes,
                    Product.active,
                )
            )
        ).all()
        by_sku = {row.sku.casefold(): row for row in existing if row.sku}
        now = utcnow()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        touched: set[int] = set()
        reactivate = report.mode is not ImportMode.ADD
        for row in parsed.rows if parsed else []:
            values = row.fields
            sku = values.get("sku")
            current = by_sku.get(sku.casefold()) if sku else None
            if current is None:
                missing = [name for name in REQUIRED_FOR_NEW if name not in values]
                if missing:
                    report.errors.append(_missing_columns_error(row.line, sku, missing))
                    continue
                inserts.append(_new_product_values(values, row.attributes, now))
                continue
            touched.add(current.id)
            updates.append(
                _updated_product_values(current, row, parsed, now, reactivate=reactivate)
            )
        if report.strict and report.errors:
            return  # the caller rolls back; nothing was written yet

        if report.mode is not ImportMode.ADD:
            protected = parsed.rejected_skus if parsed else set()
            stale = [
                r
                for r in existing
                if r.id not in touched and not (r.sku and r.sku.casefold() in protected)
            ]
            await self._remove(session, stale, report, now)

        total = len(updates) + len(inserts)
        done = 0
        for batch, statement in ((updates, sa.update(Product)), (inserts, sa.insert(Product))):
            for start in range(0, len(batch), CHUNK):
                chunk = batch[start : start + CHUNK]
                await session.execute(statement, chunk)
                done += len(chunk)
                if progress is not None:
                    progress("Saving", done, total)
        report.updated = len(updates)
        report.created = len(inserts)
        await bump_catalog_version(session)

    async def _remove(
        self, session: AsyncSession, stale: list[Any], report: ImportReport, now: datetime
    ) -> None:
        """Deactivate the referenced products among ``stale``, delete the others."""
        if not stale:
            return
        referenced = set(
            await session.scalars(
                sa.select(OrderItem.product_id).where(OrderItem.product_id.is_not(None)).distinct()
            )
        )
        to_deactivate = [r.id for r in stale if r.id in referenced and r.active]
        to_delete = [r.id for r in stale if r.id not in referenced]
        for start in range(0, len(to_deactivate), CHUNK):
            await session.execute(
                sa.update(Product)
                .where(Product.id.in_(to_deactivate[start : start + CHUNK]))
                .values(active=False, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        for start in range(0, len(to_delete), CHUNK):
            await session.execute(
                sa.delete(Product)
                .where(Product.id.in_(to_delete[start : start + CHUNK]))
                .execution_options(synchronize_session=False)
            )
        report.deactivated = len(to_deactivate)
        report.deleted = len(to_delete)

    # --- search -----------------------------------------------------------------------

    async def search(self, query: str, limit: int = 10) -> list[ProductView]:
        """Products for a shopper's words, best first: through the ``search_products``
        hook when a plugin manager was given (a plugin may answer first), else
        :meth:`fuzzy_search`. Inactive products are never returned."""
        if self.plugins is None:
            return await self.fuzzy_search(query, limit=limit)
        result = await call_firstresult(
            self.plugins, "search_products", query=query, limit=limit, catalog=self
        )
        if result is None:
            return await self.fuzzy_search(query, limit=limit)
        return [p for p in result if getattr(p, "active", False)][:limit]

    async def fuzzy_search(self, query: str, limit: int = 10) -> list[ProductView]:
        """The built-in search (see :mod:`tendero.catalog.search`): typos, accents,
        singular/plural, Spanish/English words; exact SKU, then exact name first;
        ``[]`` when nothing matches well enough. Only active products."""
        if limit <= 0 or not query or not query.strip():
            return []
        index = await self._search_index()
        ids = index.search(query, limit=limit)
        return await self.get_many(ids, active_only=True)

    async def discontinued_match(self, query: str) -> ProductView | None:
        """The inactive product ``query`` names best (``None`` when none matches): the
        shopper may be asking for something no longer sold (say so, never offer it)."""
        if not query or not query.strip():
            return None
        cache = _INDEX_CACHES.setdefault(self.db, _IndexCache())
        if cache.inactive is not None and cache.inactive_fingerprint == self.fingerprint:
            ids = cache.inactive.search(query, limit=1)
            found = await self.get_many(ids) if ids else []
            return found[0] if found and not found[0].active else None
        async with self.db.read_session() as session:
            fingerprint = await _fingerprint(session)
            if cache.inactive is None or cache.inactive_fingerprint != fingerprint:
                rows = await _index_rows(session, active=False)
                cache.inactive = await asyncio.to_thread(SearchIndex, rows)
                cache.inactive_fingerprint = fingerprint
        ids = cache.inactive.search(query, limit=1)
        found = await self.get_many(ids) if ids else []
        return found[0] if found and not found[0].active else None

    async def _search_index(self) -> SearchIndex:
        cache = _INDEX_CACHES.get(self.db)
        if cache is None:
            cache = _INDEX_CACHES.setdefault(self.db, _IndexCache())
        fingerprint = self.fingerprint
        if fingerprint is None:
            async with self.db.read_session() as session:
                fingerprint = await _fingerprint(session)
        if cache.index is not None and cache.fingerprint == fingerprint:
            return cache.index
        async with cache.lock:
            async with self.db.read_session() as session:
                # Read the fingerprint before the rows: the index is then at least as
                # new as the fingerprint it is stored under (never older).
                fingerprint = await _fingerprint(session)
                if cache.index is not None and cache.fingerprint == fingerprint:
                    return cache.index
                rows = await _index_rows(session, active=True)
            if len(rows) > 2000:
                index = await asyncio.to_thread(SearchIndex, rows)
                facets = await asyncio.to_thread(CatalogFacets.build, rows)
            else:
                index, facets = SearchIndex(rows), CatalogFacets.build(rows)
            cache.index, cache.facets, cache.fingerprint = index, facets, fingerprint
            cache.rows = rows
            return index

    async def active_rows(self) -> list[IndexRow]:
        """Name, category, description and attributes of every active product (the rows
        the search index was built from; kept while the catalog does not change)."""
        await self._search_index()
        return _INDEX_CACHES[self.db].rows

    async def facets(self) -> CatalogFacets:
        """The active catalog's families and attribute values (see :mod:`.facets`),
        built with the search index and kept while the catalog does not change."""
        await self._search_index()
        facets = _INDEX_CACHES[self.db].facets
        assert facets is not None
        return facets


# --- helpers ----------------------------------------------------------------------------


def _clean(data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """Validate the fields a caller gave; every problem is listed in one error."""
    problems: list[str] = []
    unknown = sorted(set(data) - set(PARSERS))
    if unknown:
        problems.append(f"unknown field(s): {', '.join(unknown)}")
    clean: dict[str, Any] = {}
    for key, value in data.items():
        parser = PARSERS.get(key)
        if parser is None:
            continue
        if key in ("name", "price") and isinstance(value, str) and not value.strip():
            value = None
        try:
            clean[key] = parser(value)
        except FieldError as exc:
            problems.append(str(exc))
    if creating:
        for key in REQUIRED_FOR_NEW:
            if key not in data:
                problems.append(f"{key} is required")
    if problems:
        raise ValidationFailed("The product is not valid.", details=problems)
    return clean


def _search_text_of(product: Product) -> str:
    return build_search_text(
        name=product.name,
        sku=product.sku,
        category=product.category or "",
        description=product.description or "",
        attributes=product.attributes or {},
    )


def _new_product_values(
    values: Mapping[str, Any], attributes: dict[str, str], now: datetime
) -> dict[str, Any]:
    row = {
        "sku": values.get("sku"),
        "name": values["name"],
        "price": values["price"],
        "stock": values.get("stock"),
        "description": values.get("description", ""),
        "category": values.get("category", ""),
        "image_url": values.get("image_url", ""),
        "active": values.get("active", True),
        "attributes": attributes,
        "created_at": now,
        "updated_at": now,
    }
    row["search_text"] = build_search_text(
        name=row["name"],
        sku=row["sku"],
        category=row["category"],
        description=row["description"],
        attributes=attributes,
    )
    return row


def _updated_product_values(
    current: Any, row: Any, parsed: ParsedFile, now: datetime, *, reactivate: bool
) -> dict[str, Any]:
    """An existing product's new values: the file's columns change, the rest stays."""
    values: dict[str, Any] = {"id": current.id, **row.fields, "updated_at": now}
    values.pop("sku", None)  # matched ignoring case: keep the catalog's spelling
    if reactivate and "active" not in values:
        values["active"] = True
    attributes = dict(current.attributes or {})
    if parsed.attribute_columns:
        for name in row.cleared_attributes:
            attributes.pop(name, None)
        attributes.update(row.attributes)
        values["attributes"] = attributes
    values["search_text"] = build_search_text(
        name=values.get("name", current.name),
        sku=values.get("sku", current.sku),
        category=values.get("category", current.category or ""),
        description=values.get("description", current.description or ""),
        attributes=attributes,
    )
    return values


def _missing_columns_error(line: int, sku: str | None, missing: list[str]) -> RowError:
    what = " and ".join(missing)
    if sku:
        reason = f"SKU {sku!r} is not in the catalog, and a new product needs {what} (the file has no {what} column)"
    else:
        reason = f"a row without SKU makes a new product, which needs {what} (the file has no {what} column)"
    return RowError(line=line, reason=reason, sku=sku)


def _read_source(
    source: str | Path | bytes | BinaryIO, filename: str | None
) -> tuple[bytes, str | None]:
    if isinstance(source, bytes | bytearray):
        return bytes(source), filename
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            return path.read_bytes(), filename or path.name
        except OSError as exc:
            raise ValidationFailed(f"Cannot read {str(path)!r}: {exc.strerror or exc}") from None
    return source.read(), filename or getattr(source, "name", None)
