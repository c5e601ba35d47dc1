"""Products through the API: list them, and create or update them by SKU.

Writes use the catalog's own field rules (:data:`tendero.catalog.fields.PARSERS`, the
ones the CSV/XLSX import applies) and its import machinery, in one transaction: when
any item is refused, nothing is written and every problem is reported with the item's
index.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from sqlalchemy.exc import IntegrityError
from tendero.app import DATABASE, PLUGINS
from tendero.catalog import Catalog
from tendero.catalog.fields import PARSERS, FieldError, cell_text, parse_active
from tendero.catalog.importer import ImportMode, ImportReport, ParsedFile, ParsedRow

from tendero_web.api.errors import ApiError, bad_request, dumps, invalid
from tendero_web.api.params import check_params, limit_from, next_link, read_json

MAX_ITEMS = 1000
PRODUCT_FIELDS = tuple(PARSERS)  # sku, name, price, stock, description, ... attributes
REQUIRED_FOR_NEW = ("name", "price")


class _Refused(Exception):
    """Raised inside the write transaction to roll it back."""


# --- listing -----------------------------------------------------------------------------


def _encode_cursor(page: int, per_page: int) -> str:
    return base64.urlsafe_b64encode(f"p{page}:{per_page}".encode()).decode().rstrip("=")


def _decode_cursor(token: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        page, per_page = raw.removeprefix("p").split(":")
        result = int(page), int(per_page)
        if result[0] < 1 or not 1 <= result[1] <= 500 or not raw.startswith("p"):
            raise ValueError(raw)
        return result
    except (ValueError, UnicodeDecodeError):
        raise bad_request(
            f"invalid cursor {token!r}",
            [{"field": "cursor", "message": "use next_cursor as it was given"}],
        ) from None


def _active_param(raw: str | None) -> bool | None:
    if raw is None or not raw.strip() or raw.strip().lower() == "all":
        return None
    try:
        return parse_active(raw)
    except FieldError:
        raise bad_request(
            "active must be true, false or all",
            [{"field": "active", "message": f"{raw!r} is not true, false or all"}],
        ) from None


async def list_products(request: web.Request) -> web.Response:
    """``GET /api/v1/products``: products by name; ``q`` searches, ``active`` filters.

    The cursor remembers the page size it was made with.
    """
    query = request.query
    check_params(query, ("q", "active", "category", "limit", "cursor"))
    cursor = query.get("cursor", "").strip()
    page, per_page = _decode_cursor(cursor) if cursor else (1, limit_from(query))
    catalog = Catalog(request.app[DATABASE], request.app[PLUGINS])
    result = await catalog.list_products(
        search=query.get("q", "").strip(),
        page=page,
        per_page=per_page,
        active=_active_param(query.get("active")),
        category=query.get("category"),
    )
    next_cursor = _encode_cursor(page + 1, per_page) if result.has_next else None
    headers = {"Link": next_link(request, next_cursor)} if next_cursor else {}
    return web.json_response(
        {
            "products": [p.to_dict() for p in result.items],
            "total": result.total,
            "next_cursor": next_cursor,
        },
        headers=headers,
        dumps=dumps,
    )


# --- creating and updating ---------------------------------------------------------------


def _check_item(index: int, item: Any, problems: list[dict[str, Any]]) -> ParsedRow | None:
    """One item as a checked import row (``line`` holds its index), or ``None``."""
    if not isinstance(item, Mapping):
        problems.append({"index": index, "message": "each product must be a JSON object"})
        return None
    found: list[dict[str, Any]] = []
    for key in item:
        if key not in PARSERS:
            found.append(
                {
                    "index": index,
                    "field": key,
                    "message": f"unknown field {key!r}; use: {', '.join(PRODUCT_FIELDS)}",
                }
            )
    fields: dict[str, Any] = {}
    for key, value in item.items():
        if key not in PARSERS or key == "attributes":
            continue
        if key in REQUIRED_FOR_NEW and (
            value is None or (isinstance(value, str) and not value.strip())
        ):
            found.append({"index": index, "field": key, "message": f"{key} is empty"})
            continue
        try:
            fields[key] = PARSERS[key](value)
        except FieldError as exc:
            found.append({"index": index, "field": key, "message": str(exc)})
    attributes: dict[str, str] = {}
    cleared: tuple[str, ...] = ()
    if "attributes" in item:
        try:
            attributes = PARSERS["attributes"](item["attributes"])
            # An attribute given as null or "" is removed from the product.
            cleared = tuple(
                cell_text(k) for k, v in (item["attributes"] or {}).items() if not cell_text(v)
            )
        except FieldError as exc:
            found.append({"index": index, "field": "attributes", "message": str(exc)})
    if fields.get("sku") is None and not any(p.get("field") == "sku" for p in found):
        found.append(
            {
                "index": index,
                "field": "sku",
                "message": "sku is required (products are matched by SKU)",
            }
        )
    if found:
        problems.extend(found)
        return None
    return ParsedRow(line=index, fields=fields, attributes=attributes, cleared_attributes=cleared)


def _check_items(items: list[Any]) -> ParsedFile:
    problems: list[dict[str, Any]] = []
    rows: list[ParsedRow] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        row = _check_item(index, item, problems)
        if row is None:
            continue
        sku = row.fields["sku"].casefold()
        if sku in first_index:
            problems.append(
                {
                    "index": index,
                    "field": "sku",
                    "message": f"duplicate SKU {row.fields['sku']!r} (already item {first_index[sku]})",
                }
            )
            continue
        first_index[sku] = index
        rows.append(row)
    if problems:
        raise invalid(
            f"{len({p['index'] for p in problems})} of {len(items)} product(s) are not valid; "
            "nothing was written",
            problems,
        )
    attribute_names = {name for row in rows for name in (*row.attributes, *row.cleared_attributes)}
    return ParsedFile(
        columns=frozenset(key for row in rows for key in row.fields),
        attribute_columns=tuple(sorted(attribute_names)),
        rows=rows,
        errors=[],
        warnings=[],
        total_rows=len(rows),
        rejected_skus=set(),
    )


async def upsert_products(request: web.Request) -> web.Response:
    """``POST /api/v1/products``: create or update products by SKU (object or array).

    An existing SKU (case-insensitive) changes only the fields given; a new SKU needs
    ``name`` and ``price``. All or nothing.
    """
    check_params(request.query, ())
    body = await read_json(request)
    items = body if isinstance(body, list) else [body]
    if not items:
        raise bad_request("the array is empty; send at least one product")
    if len(items) > MAX_ITEMS:
        raise bad_request(f"at most {MAX_ITEMS} products per request, not {len(items)}")
    parsed = _check_items(items)
    catalog = Catalog(request.app[DATABASE], request.app[PLUGINS])
    report = ImportReport(mode=ImportMode.ADD, strict=True)
    try:
        async with request.app[DATABASE].session() as session:
            # The import's own upsert (by SKU, only the given fields change, the search
            # index's version bumped) so API writes and file imports cannot drift apart.
            await catalog.apply_import(session, parsed, report, None)
            if report.errors:
                raise _Refused
    except IntegrityError:
        # Another request created one of these SKUs meanwhile (the unique index said so).
        raise ApiError(
            409, "conflict", "a product was written meanwhile with one of these SKUs; try again"
        ) from None
    except _Refused:
        by_index = {row.line: row for row in parsed.rows}
        details = []
        for error in report.errors:
            row = by_index[error.line]
            for field in REQUIRED_FOR_NEW:
                if field not in row.fields:
                    details.append(
                        {
                            "index": error.line,
                            "field": field,
                            "message": f"SKU {row.fields['sku']!r} is not in the catalog; "
                            f"a new product needs {field}",
                        }
                    )
        raise invalid(
            f"{len(report.errors)} of {len(items)} product(s) are not valid; nothing was written",
            details,
        ) from None
    products = []
    for row in parsed.rows:
        product = await catalog.find_by_sku(row.fields["sku"])
        if product is not None:
            products.append(product.to_dict())
    return web.json_response(
        {"created": report.created, "updated": report.updated, "products": products},
        dumps=dumps,
    )
