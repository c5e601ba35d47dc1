"""``tendero products import`` and ``list`` run as real processes (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openpyxl
import sqlalchemy as sa
from tendero.catalog import Catalog
from tendero.db import Database
from tendero.db.models import Lead, Order, OrderItem, Product

DATA = Path(__file__).parent / "data"

BAD_ROWS = (
    "sku,name,price,stock,color\n"  # line 1
    "A-1,Gorra roja,249.00,5,rojo\n"  # line 2: fine
    "A-2,Gorra azul,doscientos,5,azul\n"  # line 3: bad price
    "\n"  # line 4: blank, skipped but counted
    "A-3,,100,1,\n"  # line 5: no name
    "A-1,Gorra roja otra vez,260,1,\n"  # line 6: duplicate SKU
    "A-4,Playera,299.5,-2,negro\n"  # line 7: negative stock
    'A-5,Sudadera,"1,249.50",3,gris\n'  # line 8: fine
)


async def products_in(url: str) -> dict[str, Product]:
    db = Database(url)
    try:
        async with db.read_session() as session:
            rows = await session.scalars(sa.select(Product))
            return {p.sku or p.name: p for p in rows}
    finally:
        await db.dispose()


async def test_good_file_imports_and_lists(cli, database_url: str) -> None:
    result = cli("products", "import", str(DATA / "bilingual.csv"))
    assert result.returncode == 0, result.stderr
    assert "14 created, 0 updated, 0 rejected" in result.stderr
    products = await products_in(database_url)
    assert products["PRO-CH-2LB"].price == Decimal("899")
    assert products["PRO-CH-2LB"].attributes == {"flavor": "chocolate", "size": "2lb"}
    assert products["OLD-PROT"].active is False

    listed = cli("products", "list", "--search", "proteina whey", check=True)
    assert "PRO-VA-2LB" in listed.stdout and "CAF-MOLIDO" not in listed.stdout
    assert "3 of 3 products shown" in listed.stderr


async def test_bad_rows_are_reported_with_line_numbers(
    cli, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD_ROWS, encoding="utf-8")
    result = cli("products", "import", str(path))
    assert result.returncode == 1
    report = result.stderr
    lines = {
        int(line.split("│")[1]): line
        for line in report.splitlines()
        if line.count("│") >= 4 and line.split("│")[1].strip().isdigit()
    }
    assert set(lines) == {3, 5, 6, 7}
    assert "doscientos" in lines[3] and "not an amount" in lines[3]
    assert "name is empty" in lines[5]
    assert "duplicate SKU 'A-1'" in lines[6] and "line 2" in lines[6]
    assert "negative" in lines[7]
    assert "2 created, 0 updated, 4 rejected" in report
    products = await products_in(database_url)
    assert set(products) == {"A-1", "A-5"}
    assert products["A-5"].price == Decimal("1249.50")
    assert products["A-1"].attributes == {"color": "rojo"}


async def test_strict_imports_nothing_when_a_row_is_bad(
    cli, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD_ROWS, encoding="utf-8")
    result = cli("products", "import", str(path), "--strict")
    assert result.returncode == 1
    assert "Nothing imported (--strict)" in result.stderr
    assert await products_in(database_url) == {}


async def test_bom_semicolons_comma_decimals_and_spanish_headers(
    cli, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    text = (
        " SKU ;Nombre;Precio;Existencias;Descripción;Categoría;Activo;Sabor\r\n"
        "CAF-1;Café de olla;189,50;;Con canela;Cafés;sí;canela\r\n"
        'CAF-2;"Café; molido";1.249,00;4;;Cafés;no;\r\n'
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = cli("products", "import", str(path), check=True)
    assert "2 created" in result.stderr
    products = await products_in(database_url)
    olla, molido = products["CAF-1"], products["CAF-2"]
    assert (olla.name, olla.price, olla.stock, olla.active) == (
        "Café de olla",
        Decimal("189.5"),
        None,
        True,
    )
    assert olla.description == "Con canela" and olla.category == "Cafés"
    assert olla.attributes == {"Sabor": "canela"}
    assert (molido.name, molido.price, molido.stock, molido.active) == (
        "Café; molido",
        Decimal("1249"),
        4,
        False,
    )
    assert molido.attributes == {}


async def test_xlsx_first_sheet(cli, database_url: str, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["sku", "name", "price", "stock", "talla"])
    sheet.append(["TEE-S", "Playera", 199.9, 10, "S"])
    sheet.append(["TEE-M", "Playera", "1249,50", None, "M"])
    sheet.append([])
    sheet.append(["TEE-L", "Playera", -5, 1, "L"])  # line 5
    workbook.create_sheet("ignored").append(["sku", "name", "price"])
    path = tmp_path / "catalog.xlsx"
    workbook.save(path)
    result = cli("products", "import", str(path))
    assert result.returncode == 1
    assert "│    5 │ TEE-L" in result.stderr and "negative" in result.stderr
    products = await products_in(database_url)
    assert set(products) == {"TEE-S", "TEE-M"}
    assert products["TEE-S"].price == Decimal("199.9") and products["TEE-S"].stock == 10
    assert products["TEE-M"].price == Decimal("1249.5") and products["TEE-M"].stock is None
    assert products["TEE-M"].attributes == {"talla": "M"}


async def test_add_mode_upserts_by_sku(cli, database_url: str, tmp_path: Path) -> None:
    cli("products", "import", str(DATA / "bilingual.csv"), check=True)
    update = tmp_path / "stock.csv"
    update.write_text(
        "sku,stock,price\npro-ch-2lb,3,950\nGOR-ROJ,,249\nNEW-1,1,10\n", encoding="utf-8"
    )
    result = cli("products", "import", str(update))
    assert result.returncode == 1  # NEW-1 is new but the file has no name column
    assert "NEW-1" in result.stderr and "needs name" in result.stderr
    assert "0 created, 2 updated, 1 rejected" in result.stderr
    products = await products_in(database_url)
    assert len(products) == 14
    chocolate = products["PRO-CH-2LB"]
    assert (chocolate.stock, chocolate.price) == (3, Decimal("950"))
    assert chocolate.name == "Proteína Whey Chocolate 2lb"  # columns not in the file stay
    assert chocolate.attributes == {"flavor": "chocolate", "size": "2lb"}
    assert products["GOR-ROJ"].stock is None  # empty stock: not tracked

    # The search index sees the new price at once (another process wrote it).
    db = Database(database_url)
    try:
        found = await Catalog(db).fuzzy_search("PRO-CH-2LB")
    finally:
        await db.dispose()
    assert found[0].price == Decimal("950.00")


async def _order_for(url: str, sku: str) -> None:
    db = Database(url)
    try:
        async with db.session() as session:
            product = await session.scalar(sa.select(Product).where(Product.sku == sku))
            lead = Lead(channel="instagram", platform_id="ig-1", name="Luis")
            session.add(lead)
            await session.flush()
            order = Order(
                number=1001,
                channel="instagram",
                lead_id=lead.id,
                currency="MXN",
                subtotal=product.price,
                shipping_cost=Decimal(0),
                deposit_amount=Decimal(0),
                total=product.price,
                delivery_method="pickup",
                payment_status="not_required",
                status="new",
            )
            order.items.append(
                OrderItem(
                    product_id=product.id,
                    sku=sku,
                    name=product.name,
                    unit_price=product.price,
                    quantity=1,
                    line_total=product.price,
                )
            )
            session.add(order)
    finally:
        await db.dispose()


async def test_replace_mode_makes_the_file_the_catalog(
    cli, database_url: str, tmp_path: Path
) -> None:
    cli("products", "import", str(DATA / "bilingual.csv"), check=True)
    await _order_for(database_url, "SHK-600")
    new = tmp_path / "new.csv"
    new.write_text(
        "sku,name,price,active\n"
        "PRO-CH-2LB,Proteína Whey Chocolate 2lb,900,\n"
        "OLD-PROT,Proteína Vieja,100,sí\n"  # comes back active
        "GOR-ROJ,Gorra roja,mil,\n"  # rejected: stays as it is
        "NEW-1,Nuevo,10,\n",
        encoding="utf-8",
    )
    result = cli("products", "import", str(new), "--mode", "replace")
    assert result.returncode == 1
    assert "1 created, 2 updated, 1 deactivated, 10 deleted, 1 rejected" in result.stderr
    products = await products_in(database_url)
    assert set(products) == {"PRO-CH-2LB", "OLD-PROT", "GOR-ROJ", "NEW-1", "SHK-600"}
    assert products["SHK-600"].active is False  # an order refers to it
    assert products["OLD-PROT"].active is True
    assert products["GOR-ROJ"].price == Decimal("249")


async def test_clear_mode_without_a_file(cli, database_url: str) -> None:
    cli("products", "import", str(DATA / "bilingual.csv"), check=True)
    await _order_for(database_url, "BOT-1L")
    result = cli("products", "import", "--mode", "clear", check=True)
    assert "1 deactivated, 13 deleted" in result.stderr
    products = await products_in(database_url)
    assert list(products) == ["BOT-1L"] and products["BOT-1L"].active is False
    missing = cli("products", "import")
    assert missing.returncode != 0 and "FILE is required" in missing.stderr


async def test_file_level_problems_are_one_clear_error(cli, tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("producto,nombre,precio\nx,y,1\n", encoding="utf-8")
    result = cli("products", "import", str(path))
    assert result.returncode == 1
    assert "both mean name" in result.stderr
