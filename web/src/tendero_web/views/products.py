"""Panel pages: the Products page and the catalog import.

* ``GET /products`` — the catalog as a table: search (``q``: name, SKU, category,
  description, attributes; accents and case ignored), a status filter and page numbers.
* ``POST /products/{id}`` — the inline edit of one row (price, stock, active). The row's
  form also sends the values it showed (``was_*``): a field the merchant changed is only
  written when nobody changed it meanwhile (an order taking stock, an import, another
  user), so a stale form never overwrites newer data. Fields are checked with the
  importer's rules (:mod:`tendero.catalog.fields`) plus the store currency's decimals.
  A browser without JS gets a redirect back (or the page again with the errors); the
  row script (``static/products.js``) asks for JSON and updates the row in place.
* ``/products/import`` — upload a CSV or XLSX file (modes add/replace/clear, optionally
  strict) through :meth:`tendero.catalog.Catalog.import_file`; the per-row report is
  kept in the data folder and shown on its own page, so a reload keeps it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from tendero.app import DATABASE, PLUGINS, SETTINGS
from tendero.catalog import Catalog, FieldError, ImportMode, ProductView, parse_price, parse_stock
from tendero.catalog.importer import PRODUCT_COLUMNS
from tendero.db.types import utcnow
from tendero.errors import Conflict, NotFound, ValidationFailed
from tendero.exporting import neutralise
from tendero.money import minor_unit

from tendero_web import panel, security

routes = web.RouteTableDef()

PER_PAGE = 50
STATUSES = ("all", "active", "inactive")
IMPORT_EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".ods")
IMPORT_ACCEPT = ",".join(IMPORT_EXTENSIONS)
REPORTS_FOLDER = "imports"
REPORTS_KEPT = 30  # the newest import reports kept in the data folder
REPORT_ROWS_SHOWN = 500  # rejected rows listed on the page (all are in the CSV)
_REPORT_ID = re.compile(r"^[0-9a-f]{16}$")


# --- the list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    """What the list shows: search words, status filter, page (all from the URL)."""

    q: str = ""
    status: str = "all"
    page: int = 1

    @classmethod
    def from_params(cls, params: MultiDict[str] | MultiDictProxy[str]) -> ListQuery:
        status = params.get("status", "all")
        try:
            page = max(1, int(params.get("page", "1")))
        except ValueError:
            page = 1
        return cls(
            q=params.get("q", "").strip()[:200],
            status=status if status in STATUSES else "all",
            page=page,
        )

    @classmethod
    def from_text(cls, query_string: str) -> ListQuery:
        """From a query string (the ``back`` field a row form carries)."""
        return cls.from_params(MultiDict(parse_qsl(query_string.lstrip("?"))))

    @property
    def active(self) -> bool | None:
        return {"all": None, "active": True, "inactive": False}[self.status]

    def params(self, **changes: Any) -> dict[str, str]:
        """URL parameters (defaults left out), with ``changes`` applied."""
        values = {"q": self.q, "status": self.status, "page": str(self.page)}
        values.update({k: str(v) for k, v in changes.items()})
        defaults = {"q": "", "status": "all", "page": "1"}
        return {k: v for k, v in values.items() if v != defaults[k]}

    def url(self, **changes: Any) -> str:
        params = self.params(**changes)
        return "/products" + ("?" + urlencode(params) if params else "")


@dataclass
class RowEdit:
    """A row shown again after a refused edit: what was typed, and what was wrong."""

    values: dict[str, Any]
    errors: dict[str, str]
    message: str = ""


def _catalog(request: web.Request) -> Catalog:
    return Catalog(request.app[DATABASE], request.app[PLUGINS])


@routes.get("/products", name="products")
async def products_page(request: web.Request) -> web.Response:
    return await _render_list(request, ListQuery.from_params(request.query))


async def _render_list(
    request: web.Request,
    query: ListQuery,
    *,
    edits: dict[int, RowEdit] | None = None,
    status: int = 200,
) -> web.Response:
    catalog = _catalog(request)
    page = await catalog.list_products(
        search=query.q, page=query.page, per_page=PER_PAGE, active=query.active
    )
    if page.total and query.page > page.pages:  # a page past the end: show the last one
        query = ListQuery(query.q, query.status, page.pages)
        page = await catalog.list_products(
            search=query.q, page=query.page, per_page=PER_PAGE, active=query.active
        )
    doc = await panel.store(request)
    return await panel.render(
        request,
        "products/list.html",
        {
            "page": page,
            "query": query,
            "back": urlencode(query.params()),
            "edits": edits or {},
            "currency": doc.currency,
            "statuses": STATUSES,
        },
        status=status,
    )


# --- inline edit --------------------------------------------------------------------------


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _price_problem(raw: str, currency: str, _: Any) -> tuple[Decimal | None, str]:
    """The price typed, or a message for the merchant (importer rules + currency)."""
    if not raw:
        return None, _("Enter a price.")
    try:
        price = parse_price(raw)
    except FieldError as exc:
        if exc.code == "negative":
            return None, _("The price cannot be negative.")
        if exc.code == "ambiguous":
            return None, _(
                "{value} is ambiguous: write it without a thousands separator, like 1249.50.",
                value=raw,
            )
        if exc.code == "too_large":
            return None, _("The price is too large.")
        if exc.code != "decimals":
            return None, _("{value} is not an amount: write it like 1249.50.", value=raw)
        price = None
    quantum = minor_unit(currency)
    if price is None or price != price.quantize(quantum):
        places = max(0, -int(quantum.as_tuple().exponent))
        return None, _(
            "{currency} amounts have at most {places} decimals.", currency=currency, places=places
        )
    return price, ""


def _stock_problem(raw: str, _: Any) -> tuple[int | None, str]:
    """The stock typed (``None``: not tracked), or a message for the merchant."""
    try:
        return parse_stock(raw), ""
    except FieldError as exc:
        if exc.code == "negative":
            return None, _("Stock cannot be negative (leave it empty for unlimited).")
        if exc.code == "too_large":
            return None, _("The stock is too large.")
        return None, _("Stock must be a whole number (leave it empty for unlimited).")


def _shown(text: Any, parse: Any) -> Any:
    """A ``was_*`` value the row showed, parsed; ``...`` when absent or unreadable."""
    if text is None:
        return ...
    try:
        return parse(str(text))
    except (FieldError, ValueError):
        return ...


@routes.post(r"/products/{product_id:\d+}", name="product_update")
async def update_product(request: web.Request) -> web.StreamResponse:
    _ = await panel.gettext(request)
    form = await request.post()
    product_id = int(request.match_info["product_id"])
    back = ListQuery.from_text(str(form.get("back", "")))
    catalog = _catalog(request)
    try:
        current = await catalog.get(product_id)
    except NotFound:
        return await _gone(request, back)

    doc = await panel.store(request)
    typed = {
        "price": str(form.get("price", "")).strip(),
        "stock": str(form.get("stock", "")).strip(),
        "active": form.get("active") not in (None, "", "0"),
    }
    errors: dict[str, str] = {}
    price, errors["price"] = _price_problem(typed["price"], doc.currency, _)
    stock, errors["stock"] = _stock_problem(typed["stock"], _)
    errors = {field: message for field, message in errors.items() if message}
    if errors:
        edit = RowEdit(typed, errors, _("Not saved: fix the marked fields."))
        return await _refused(request, back, product_id, edit, status=422)

    new = {"price": price, "stock": stock, "active": typed["active"]}
    was = {
        "price": _shown(form.get("was_price"), parse_price),
        "stock": _shown(form.get("was_stock"), parse_stock),
        "active": _shown(form.get("was_active"), lambda t: t == "1"),
    }
    now = {"price": current.price, "stock": current.stock, "active": current.active}
    changes = {}
    stale = []
    for field, value in new.items():
        before = now[field] if was[field] is ... else was[field]
        if value == before:
            continue  # not changed by the merchant: never written
        if now[field] != before:
            stale.append(field)
        changes[field] = value
    if stale:
        return await _changed_meanwhile(request, back, current, stale)
    if not changes:
        return await _saved(request, back, current, _("Nothing to save: no value changed."))
    try:
        product = await catalog.update(product_id, changes)
    except NotFound:
        return await _gone(request, back)
    except (ValidationFailed, Conflict) as exc:  # the same rules; kept for safety
        edit = RowEdit(typed, {}, str(exc))
        return await _refused(request, back, product_id, edit, status=422)
    return await _saved(request, back, product, _("Saved {name}.", name=product.name))


async def _product_json(request: web.Request, product: ProductView) -> dict[str, Any]:
    fmt = await panel.formats(request)
    return {
        "id": product.id,
        "price": str(product.price),
        "price_display": fmt.money(product.price),
        "stock": "" if product.stock is None else str(product.stock),
        "active": product.active,
    }


async def _saved(
    request: web.Request, back: ListQuery, product: ProductView, message: str
) -> web.StreamResponse:
    if _wants_json(request):
        return web.json_response(
            {"ok": True, "message": message, "product": await _product_json(request, product)}
        )
    await panel.flash(request, message, "success")
    raise web.HTTPSeeOther(back.url() + f"#product-{product.id}")


async def _refused(
    request: web.Request, back: ListQuery, product_id: int, edit: RowEdit, *, status: int
) -> web.StreamResponse:
    """Nothing was written: answer with the messages (JSON, or the page again)."""
    if _wants_json(request):
        return web.json_response(
            {"ok": False, "message": edit.message, "errors": edit.errors}, status=status
        )
    return await _render_list(request, back, edits={product_id: edit}, status=status)


async def _changed_meanwhile(
    request: web.Request, back: ListQuery, current: ProductView, stale: list[str]
) -> web.StreamResponse:
    _ = await panel.gettext(request)
    labels = {"price": _("price"), "stock": _("stock"), "active": _("active")}
    message = _(
        "Not saved: this product's {fields} changed meanwhile (an order, an import or "
        "another user). The current values are shown; change them again if needed.",
        fields=", ".join(labels[f] for f in stale),
    )
    if _wants_json(request):
        return web.json_response(
            {
                "ok": False,
                "message": message,
                "errors": {},
                "product": await _product_json(request, current),
            },
            status=409,
        )
    edit = RowEdit({}, {}, message)  # the row shows the current values
    return await _render_list(request, back, edits={current.id: edit}, status=409)


async def _gone(request: web.Request, back: ListQuery) -> web.StreamResponse:
    _ = await panel.gettext(request)
    message = _(
        "This product no longer exists (it was deleted meanwhile, by an import or another "
        "user). Nothing was saved."
    )
    if _wants_json(request):
        return web.json_response({"ok": False, "message": message, "gone": True}, status=404)
    await panel.flash(request, message, "error")
    raise web.HTTPSeeOther(back.url())


# --- import -------------------------------------------------------------------------------


def _reports_dir(request: web.Request) -> Path:
    return request.app[SETTINGS].data_dir / REPORTS_FOLDER


@routes.get("/products/import", name="products_import")
async def import_page(request: web.Request) -> web.Response:
    return await _render_import(request)


async def _render_import(
    request: web.Request,
    *,
    errors: dict[str, str] | None = None,
    details: list[str] | None = None,
    mode: str = ImportMode.ADD.value,
    strict: bool = False,
    status: int = 200,
) -> web.Response:
    return await panel.render(
        request,
        "products/import.html",
        {
            "errors": errors or {},
            "details": details or [],
            "mode": mode,
            "strict": strict,
            "modes": [m.value for m in ImportMode],
            "accept": IMPORT_ACCEPT,
            "max_bytes": request.client_max_size,
            "max_mb": _megabytes(request.client_max_size),
        },
        status=status,
    )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


@routes.post("/products/import", name="products_import_run")
async def run_import(request: web.Request) -> web.Response:
    _ = await panel.gettext(request)
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge:
        message = _(
            "The file is too large: the panel accepts files up to {size} MB. Split the "
            "catalog into several files, or use `tendero products import` on the server.",
            size=_megabytes(request.client_max_size),
        )
        return await _render_import(request, errors={"file": message}, status=413)

    mode = str(form.get("mode", ImportMode.ADD.value))
    strict = form.get("strict") is not None
    if mode not in {m.value for m in ImportMode}:
        mode = ImportMode.ADD.value
    again = {"mode": mode, "strict": strict}
    upload = form.get("file")
    data = b""
    filename = ""
    if isinstance(upload, web.FileField):
        filename = upload.filename or ""
        data = upload.file.read()
    errors: dict[str, str] = {}
    if mode != ImportMode.ADD.value and form.get("confirm") is None:
        errors["confirm"] = _(
            "Tick the box to confirm: products that are not in the file will be removed."
        )
    if not data and mode != ImportMode.CLEAR.value:
        errors["file"] = (
            _("The file {name} is empty.", name=filename) if filename else _("Choose a file.")
        )
    elif data and not filename.lower().endswith(IMPORT_EXTENSIONS):
        errors["file"] = _(
            "{name} is not a CSV or Excel file: choose a .csv or .xlsx file.",
            name=filename or _("The file"),
        )
    if errors:
        return await _render_import(request, errors=errors, status=422, **again)

    try:
        report = await _catalog(request).import_file(
            data or None, mode=mode, strict=strict, filename=filename or None
        )
    except ValidationFailed as exc:
        message = _("The file cannot be imported: {reason}", reason=exc.message)
        return await _render_import(
            request, errors={"file": message}, details=exc.details, status=422, **again
        )

    report_id = _save_report(request, report.to_dict(), filename)
    if not report.applied:
        await panel.flash(request, _("Nothing was imported: fix the rejected rows."), "error")
    elif report.errors:
        await panel.flash(request, _("Imported, but some rows were rejected."), "error")
    else:
        await panel.flash(request, _("Catalog imported."), "success")
    raise panel.redirect(request, "products_import_report", report_id=report_id)


def _save_report(request: web.Request, report: dict[str, Any], filename: str) -> str:
    """Keep ``report`` in the data folder (the newest few); returns its id."""
    folder = _reports_dir(request)
    folder.mkdir(parents=True, exist_ok=True)
    report_id = secrets.token_hex(8)
    user = request.get(security.USER)
    report = {
        **report,
        "filename": filename,
        "imported_at": utcnow().isoformat(),
        "by": user.email if user is not None else "",
    }
    (folder / f"{report_id}.json").write_text(json.dumps(report), encoding="utf-8")
    old = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in old[REPORTS_KEPT:]:
        path.unlink(missing_ok=True)
    return report_id


def _load_report(request: web.Request) -> dict[str, Any]:
    report_id = request.match_info["report_id"]
    path = _reports_dir(request) / f"{report_id}.json"
    if not _REPORT_ID.match(report_id) or not path.is_file():
        raise web.HTTPNotFound(text="This import report is no longer kept.")
    return json.loads(path.read_text(encoding="utf-8"))


@routes.get("/products/import/{report_id}", name="products_import_report")
async def import_report(request: web.Request) -> web.Response:
    report = _load_report(request)
    return await panel.render(
        request,
        "products/report.html",
        {
            "report": report,
            "report_id": request.match_info["report_id"],
            "shown_errors": report["errors"][:REPORT_ROWS_SHOWN],
        },
    )


@routes.get("/products/import/{report_id}/rejected.csv", name="products_import_rejected")
async def rejected_rows_csv(request: web.Request) -> web.Response:
    """The rejected rows of an import as CSV (line, sku, name, reason), for Excel."""
    report = _load_report(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "sku", "name", "reason"])
    for error in report["errors"]:
        writer.writerow(
            [
                error["line"],
                neutralise(error["sku"] or ""),
                neutralise(error["name"]),
                error["reason"],
            ]
        )
    return _csv_response("\ufeff" + out.getvalue(), "rejected-rows.csv")


@routes.get("/products/template.csv", name="products_template")
async def import_template(request: web.Request) -> web.Response:
    """An empty catalog file with the header row (UTF-8 with BOM, so Excel reads it)."""
    return _csv_response("\ufeff" + ",".join(PRODUCT_COLUMNS) + "\r\n", "products-template.csv")


def _csv_response(text: str, filename: str) -> web.Response:
    return web.Response(
        body=text.encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
