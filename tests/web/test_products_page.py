"""The Products page: list, search, filter, pages, inline edit, and the catalog import
(SQLite and PostgreSQL, the real app over a socket, logged in through the form)."""

from __future__ import annotations

import html
import io
import re
from decimal import Decimal

import aiohttp
import openpyxl
from tendero.catalog import Catalog, ProductView

from tests.web.harness import Panel, csrf_of

SCRIPT = "<script>alert(1)</script>"


async def get_html(client: aiohttp.ClientSession, path: str) -> str:
    async with client.get(path, allow_redirects=False) as resp:
        assert resp.status == 200, (path, resp.status)
        return await resp.text()


async def logged_in(panel: Panel, language: str = "en") -> aiohttp.ClientSession:
    """A logged-in client that reads the panel in ``language``."""
    client = await panel.logged_in()
    async with client.get(f"/lang?to={language}", allow_redirects=False) as resp:
        assert resp.status == 303
    return client


def edit_form(product: ProductView, **typed: str) -> dict[str, str]:
    """What a row's form sends: the values shown (``was_*``) and what was typed."""
    shown = {
        "price": str(product.price),
        "stock": "" if product.stock is None else str(product.stock),
        "active": "1" if product.active else "0",
    }
    data = {f"was_{key}": value for key, value in shown.items()}
    data.update({"price": shown["price"], "stock": shown["stock"], "back": ""})
    if product.active:
        data["active"] = "1"
    data.update(typed)
    return {k: v for k, v in data.items() if v is not None}


def names_in(page: str) -> list[str]:
    return [html.unescape(n) for n in re.findall(r"<strong>(.*?)</strong>", page)]


# --- list, search, filter, pages ------------------------------------------------------------


async def test_list_search_filter_and_pages(panel: Panel) -> None:
    catalog = Catalog(panel.db)
    await catalog.create(sku="CAF-OLLA", name="Café de Olla", price="89.5", category="Bebidas")
    await catalog.create(sku="PRO-VAI", name="Proteína Vainilla", price=899, active=False)
    rows = "\n".join(f"GEN-{n:03d},Producto {n:03d},10,{n}" for n in range(1, 56))
    await catalog.import_file(("sku,name,price,stock\n" + rows).encode(), filename="a.csv")
    client = await logged_in(panel)

    first = await get_html(client, "/products")
    assert "57 products" in first and "page 1 of 2" in first
    assert 'href="/products?page=2"' in first
    assert len(names_in(first)) == 50
    assert "$89.50" in first  # the price in the store currency (MXN)
    second = await get_html(client, "/products?page=2")
    assert len(names_in(second)) == 7

    for query in ("cafe", "CAFÉ olla", "caf-olla", "bebidas"):
        found = await get_html(client, f"/products?q={query}")
        assert names_in(found) == ["Café de Olla"], query

    # Accents and case ignored; the filter keeps or drops the inactive product.
    assert names_in(await get_html(client, "/products?q=PROTEINA")) == ["Proteína Vainilla"]
    assert names_in(await get_html(client, "/products?q=proteina&status=inactive")) == [
        "Proteína Vainilla"
    ]
    assert names_in(await get_html(client, "/products?q=proteina&status=active")) == []
    inactive = await get_html(client, "/products?status=inactive")
    assert names_in(inactive) == ["Proteína Vainilla"] and "1 product" in inactive
    # A page past the end shows the last page; rubbish parameters fall back to defaults.
    assert len(names_in(await get_html(client, "/products?page=99"))) == 7
    assert len(names_in(await get_html(client, "/products?page=x&status=bogus"))) == 50
    assert "No product matches" in await get_html(client, "/products?q=zzzz")


async def test_customer_text_is_escaped(panel: Panel) -> None:
    await Catalog(panel.db).create(
        name=SCRIPT, price=1, category=SCRIPT, attributes={"color": SCRIPT}
    )
    client = await logged_in(panel)
    page = await get_html(client, "/products")
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- inline edit ----------------------------------------------------------------------------


async def test_inline_edit_saves_and_goes_back_to_the_same_list(panel: Panel) -> None:
    catalog = Catalog(panel.db)
    product = await catalog.create(sku="GOR-R", name="Gorra Roja", price=199, stock=3)
    client = await logged_in(panel)
    data = edit_form(product, price="1,249.50", stock="7", back="q=gorra&page=1")
    data.pop("active")  # unticked: hide it from the agent
    resp = await panel.post_form(client, f"/products/{product.id}", data, page="/products")
    assert resp.status == 303
    assert resp.headers["Location"] == f"/products?q=gorra#product-{product.id}"
    saved = await catalog.get(product.id)
    assert (saved.price, saved.stock, saved.active) == (Decimal("1249.50"), 7, False)
    assert "Saved Gorra Roja." in await get_html(client, "/products?q=gorra")

    # Empty stock: no longer tracked. The JSON answer (the row script) has the new row.
    token = csrf_of(await get_html(client, "/products"))
    async with client.post(
        f"/products/{product.id}",
        data=edit_form(saved, stock=""),
        headers={"Accept": "application/json", "X-CSRF-Token": token},
    ) as resp:
        assert resp.status == 200
        answer = await resp.json()
    assert answer["ok"] and answer["product"]["stock"] == ""
    assert answer["product"]["price_display"].endswith("$1,249.50")
    assert (await catalog.get(product.id)).stock is None


async def test_bad_values_are_refused_next_to_the_field(panel: Panel) -> None:
    catalog = Catalog(panel.db)
    product = await catalog.create(sku="TE-1", name="Té Verde", price="50.00", stock=4)
    client = await logged_in(panel)
    cases = [
        ("price", "abc", "abc is not an amount"),
        ("price", "", "Enter a price."),
        ("price", "-5", "The price cannot be negative."),
        ("price", "0.125", "MXN amounts have at most 2 decimals."),
        ("price", "1.23456", "MXN amounts have at most 2 decimals."),
        ("price", "1,249", "is ambiguous"),
        ("stock", "-1", "Stock cannot be negative"),
        ("stock", "2.5", "Stock must be a whole number"),
        ("stock", "muchos", "Stock must be a whole number"),
    ]
    for field, value, message in cases:
        # A good change in the other field is not saved either: nothing changes.
        other = {"price": "60", "stock": "9"}
        other[field] = value
        data = edit_form(product, **other)
        resp = await panel.post_form(client, f"/products/{product.id}", data, page="/products")
        assert resp.status == 422, (field, value)
        page = await resp.text()
        assert html.escape(message, quote=False) in page, (field, value)
        assert f'id="{field}-{product.id}-error">' in page
        assert re.search(
            rf'name="{field}" id="{field}-{product.id}" value="{re.escape(html.escape(value))}"'
            rf'[^>]*aria-invalid="true"',
            page,
            re.S,
        ), (field, value)
        assert (await catalog.get(product.id)) == product, (field, value)

        token = csrf_of(page)
        async with client.post(
            f"/products/{product.id}",
            data=data,
            headers={"Accept": "application/json", "X-CSRF-Token": token},
        ) as json_resp:
            assert json_resp.status == 422
            answer = await json_resp.json()
        assert not answer["ok"] and message in answer["errors"][field]
        assert (await catalog.get(product.id)) == product


async def test_a_stale_or_deleted_product_is_answered_clearly(panel: Panel) -> None:
    catalog = Catalog(panel.db)
    product = await catalog.create(sku="MAT-1", name="Mate", price=100, stock=5)
    client = await logged_in(panel)
    shown = edit_form(product)  # the row as the merchant saw it
    await catalog.set_stock(product.id, 4)  # an order took one meanwhile

    resp = await panel.post_form(
        client, f"/products/{product.id}", {**shown, "stock": "10"}, page="/products"
    )
    assert resp.status == 409
    page = await resp.text()
    assert "stock changed meanwhile" in page
    assert f'name="stock" id="stock-{product.id}" value="4"' in page  # the current value
    assert (await catalog.get(product.id)).stock == 4

    # Changing only the price of the same stale row is fine: stock is not written.
    resp = await panel.post_form(
        client, f"/products/{product.id}", {**shown, "price": "120"}, page="/products"
    )
    assert resp.status == 303
    now = await catalog.get(product.id)
    assert (now.price, now.stock) == (Decimal("120.00"), 4)

    assert await catalog.delete(product.id) == "deleted"
    resp = await panel.post_form(
        client, f"/products/{product.id}", {**shown, "price": "130"}, page="/products"
    )
    assert resp.status == 303 and resp.headers["Location"] == "/products"
    assert "no longer exists" in await get_html(client, "/products")
    token = csrf_of(await get_html(client, "/products"))
    async with client.post(
        f"/products/{product.id}",
        data=shown,
        headers={"Accept": "application/json", "X-CSRF-Token": token},
    ) as json_resp:
        assert json_resp.status == 404
        assert (await json_resp.json())["gone"] is True


async def test_post_without_csrf_token_is_refused(panel: Panel) -> None:
    catalog = Catalog(panel.db)
    product = await catalog.create(name="Gorra", price=10)
    client = await logged_in(panel)
    async with client.post(f"/products/{product.id}", data=edit_form(product, price="1")) as resp:
        assert resp.status == 403
    form = aiohttp.FormData()
    form.add_field("file", b"name,price\nX,1\n", filename="a.csv")
    async with client.post("/products/import", data=form) as resp:
        assert resp.status == 403
    assert await catalog.get(product.id) == product
    assert await catalog.count() == 1


# --- import ---------------------------------------------------------------------------------


async def upload(
    panel: Panel,
    client: aiohttp.ClientSession,
    content: bytes,
    filename: str,
    *,
    headers: dict[str, str] | None = None,
    **fields: str,
) -> aiohttp.ClientResponse:
    token = csrf_of(await get_html(client, "/products/import"))
    form = aiohttp.FormData()
    form.add_field("csrf_token", token)
    for key, value in fields.items():
        form.add_field(key, value)
    form.add_field("file", content, filename=filename, content_type="application/octet-stream")
    return await client.post(
        "/products/import", data=form, allow_redirects=False, headers=headers or {}
    )


async def report_of(client: aiohttp.ClientSession, resp: aiohttp.ClientResponse) -> str:
    assert resp.status == 303, await resp.text()
    location = resp.headers["Location"]
    assert re.fullmatch(r"/products/import/[0-9a-f]{16}", location)
    return await get_html(client, location)


def counter(page: str, name: str) -> int:
    match = re.search(rf'data-testid="count-{name}">(\d+)<', page)
    assert match, name
    return int(match.group(1))


async def test_import_a_good_csv_then_one_with_a_bad_row(panel: Panel) -> None:
    catalog = Catalog(panel.db)
    await catalog.create(sku="CAF-1", name="Café", price=80)
    client = await logged_in(panel)
    good = (
        "\ufeffsku;name;price;stock;sabor\n"
        "CAF-1;Café de Olla;89,50;10;canela\n"
        "PRO-1;Proteína;899;;vainilla\n"
    ).encode()
    page = await report_of(client, await upload(panel, client, good, "catalogo.csv"))
    assert "Every row was imported." in page and "catalogo.csv" in page
    assert (counter(page, "rows"), counter(page, "created"), counter(page, "updated")) == (2, 1, 1)
    assert counter(page, "rejected") == 0
    cafe = await catalog.get_by_sku("CAF-1")
    assert (cafe.name, cafe.price, cafe.attributes) == (
        "Café de Olla",
        Decimal("89.50"),
        {"sabor": "canela"},
    )

    bad = (
        "sku,name,price,stock\n"
        "GOR-1,Gorra,150,2\n"
        "GOR-2,Gorra Azul,abc,1\n"
        f"GOR-3,{SCRIPT},-4,1\n"
        "GOR-4,Gorra Verde,150,-2\n"
    ).encode()
    resp = await upload(panel, client, bad, "gorras.csv")
    page = await report_of(client, resp)
    assert "Imported, except 3 rejected rows" in page
    assert (counter(page, "created"), counter(page, "rejected")) == (1, 3)
    rejected = re.findall(r'<tr><td class="num">(\d+)</td><td>(.*?)</td>', page)
    assert rejected == [("3", "GOR-2"), ("4", "GOR-3"), ("5", "GOR-4")]
    assert "price &#39;abc&#39; is not an amount" in page
    assert "stock -2 is negative" in page
    assert SCRIPT not in page and "&lt;script&gt;" in page
    assert (await catalog.get_by_sku("GOR-1")).price == Decimal("150.00")
    assert await catalog.find_by_sku("GOR-2") is None

    # The report stays on its own page (a reload shows it again) and as CSV.
    report_url = resp.headers["Location"]
    assert "GOR-4" in await get_html(client, report_url)
    async with client.get(report_url + "/rejected.csv") as csv_resp:
        text = (await csv_resp.read()).decode("utf-8-sig")
    assert text.splitlines()[0] == "line,sku,name,reason"
    assert text.splitlines()[2].startswith("4,GOR-3,")

    # All or nothing: the same file with strict imports nothing.
    resp = await upload(panel, client, bad.replace(b"GOR-1", b"GOR-9"), "g.csv", strict="1")
    page = await report_of(client, resp)
    assert "Nothing was imported: 3 of 4 rows were rejected" in page
    assert await catalog.find_by_sku("GOR-9") is None


async def test_import_an_xlsx_file_in_replace_mode(panel: Panel) -> None:
    catalog = Catalog(panel.db)
    await catalog.create(sku="OLD-1", name="Viejo", price=1)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["SKU", "Nombre", "Precio", "Existencias", "Activo", "Talla"])
    sheet.append(["TEE-M", "Playera", 249.9, 5, "sí", "M"])
    sheet.append(["TEE-L", "Playera", 249.9, 0, "no", "L"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    client = await logged_in(panel)

    # Replace needs a confirmation.
    resp = await upload(panel, client, buffer.getvalue(), "catalogo.xlsx", mode="replace")
    assert resp.status == 422
    assert "Tick the box to confirm" in await resp.text()
    assert await catalog.count() == 1

    resp = await upload(
        panel, client, buffer.getvalue(), "catalogo.xlsx", mode="replace", confirm="1"
    )
    page = await report_of(client, resp)
    assert (counter(page, "created"), counter(page, "deleted")) == (2, 1)
    large = await catalog.get_by_sku("TEE-L")
    assert (large.price, large.stock, large.active, large.attributes) == (
        Decimal("249.90"),
        0,
        False,
        {"Talla": "L"},
    )
    assert await catalog.find_by_sku("OLD-1") is None


async def test_files_that_cannot_be_imported_are_refused_clearly(panel: Panel) -> None:
    client = await logged_in(panel)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    cases = [
        (png, "foto.png", "foto.png is not a CSV or Excel file"),
        (png, "foto.csv", "The file is not a CSV or XLSX file."),
        (b"PK\x03\x04not really a zip", "roto.xlsx", "Cannot read the spreadsheet"),
        (b"", "vacio.csv", "The file vacio.csv is empty."),
        (b"color,talla\nrojo,M\n", "sin-nombre.csv", "needs a &#39;name&#39; column"),
    ]
    for content, filename, message in cases:
        resp = await upload(panel, client, content, filename)
        assert resp.status == 422, filename
        page = await resp.text()
        assert message in page, filename
        assert 'aria-invalid="true"' in page
    resp = await upload(panel, client, b"", "")
    assert "Choose a file." in await resp.text()
    assert await Catalog(panel.db).count() == 0


async def test_files_over_the_size_limit_are_refused(panel: Panel) -> None:
    client = await logged_in(panel)
    too_big = b"sku,name,price\n" + b"X" * (9 * 1024 * 1024)
    resp = await upload(panel, client, too_big, "big.csv")
    assert resp.status == 413
    assert "too large" in await resp.text() and "8 MB" in await resp.text()

    # Sent with the token in the header (as a script would), the page itself answers.
    token = csrf_of(await get_html(client, "/products/import"))
    resp = await upload(panel, client, too_big, "big.csv", headers={"X-CSRF-Token": token})
    assert resp.status == 413
    page = await resp.text()
    assert "The file is too large: the panel accepts files up to 8 MB." in page
    assert await Catalog(panel.db).count() == 0


async def test_template_download(panel: Panel) -> None:
    client = await logged_in(panel)
    assert 'href="/products/template.csv"' in await get_html(client, "/products/import")
    async with client.get("/products/template.csv") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in resp.headers["Content-Disposition"]
        body = await resp.read()
    assert body.decode("utf-8-sig").strip() == (
        "sku,name,price,stock,description,category,image_url,active"
    )
