"""XLSX export: typed cells (money numbers, dates, phones as text), read back with openpyxl."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import openpyxl
import pytest
from tendero_exporters.xlsx_exporter import XlsxExporter


async def stream_of(orders: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for order in orders:
        yield order


async def export(
    exporter: Any, orders: list[dict[str, Any]], rows: str = "orders"
) -> tuple[Any, int]:
    out = io.BytesIO()
    count = await exporter.write(stream_of(orders), rows, out)
    out.seek(0)
    return openpyxl.load_workbook(out), count


def records(sheet: Any) -> list[dict[str, Any]]:
    values = list(sheet.iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


async def test_money_cells_are_numbers_and_phones_are_text(
    exporters: dict[str, Any], make_order: Any, pickup_order: Any
) -> None:
    workbook, count = await export(exporters["xlsx"], [make_order(), pickup_order()])
    assert count == 2
    sheet = workbook["Orders"]
    rows = records(sheet)
    first = rows[0]
    assert first["number"] == 1001
    assert first["total"] == pytest.approx(1348.50)
    assert isinstance(first["subtotal"], float)
    assert first["customer_phone"] == "5215512345678"
    assert first["customer_platform_id"] == "5215512345678"
    assert first["shipping_postal_code"] == "03940"
    assert first["customer_name"] == "José Ñúñez Peña"
    assert first["item_count"] == 3
    assert rows[1]["customer_platform_id"] == "17841400000000001"
    assert rows[1]["ready_at"] == datetime(2026, 3, 14, 12, 0)

    header = [c.value for c in sheet[1]]
    total_cell = sheet.cell(row=2, column=header.index("total") + 1)
    assert total_cell.data_type == "n" and total_cell.number_format == "#,##0.00"
    phone_cell = sheet.cell(row=2, column=header.index("customer_phone") + 1)
    assert phone_cell.data_type == "s"


async def test_created_at_is_a_datetime_cell_in_the_given_wall_clock(
    exporters: dict[str, Any], make_order: Any
) -> None:
    workbook, _ = await export(exporters["xlsx"], [make_order()])
    sheet = workbook["Orders"]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("created_at") + 1)
    assert cell.value == datetime(2026, 3, 14, 9, 26, 53)
    assert cell.is_date and cell.number_format == "yyyy-mm-dd hh:mm:ss"


async def test_currency_precision_sets_the_number_format(
    exporters: dict[str, Any], make_order: Any
) -> None:
    order = make_order(currency="JPY", subtotal="1250", shipping_cost="0", total="1250")
    workbook, _ = await export(exporters["xlsx"], [order])
    sheet = workbook["Orders"]
    header = [c.value for c in sheet[1]]
    assert sheet.cell(row=2, column=header.index("total") + 1).number_format == "#,##0"


async def test_hostile_text_is_a_string_not_a_formula(
    exporters: dict[str, Any], make_order: Any
) -> None:
    hostile = '=HYPERLINK("http://evil.example","clic")'
    workbook, _ = await export(exporters["xlsx"], [make_order(customer_name=hostile)])
    sheet = workbook["Orders"]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("customer_name") + 1)
    assert cell.data_type == "s"
    assert cell.value == hostile


async def test_item_rows(exporters: dict[str, Any], make_order: Any, pickup_order: Any) -> None:
    workbook, count = await export(exporters["xlsx"], [make_order(), pickup_order()], "items")
    assert count == 4
    rows = records(workbook["Items"])
    assert [(r["number"], r["item_sku"], r["item_quantity"]) for r in rows] == [
        (1001, "PLY-AZ-M", 2),
        (1001, "GOR-01", 1),
        (1002, "PLY-AZ-M", 2),
        (1002, "GOR-01", 1),
    ]
    assert rows[0]["item_line_total"] == pytest.approx(499.0)
    assert rows[3]["pickup_location"] == "Tienda Coyoacán"


async def test_long_exports_continue_on_a_new_sheet(make_order: Any) -> None:
    exporter = XlsxExporter()
    exporter.max_rows_per_sheet = 4  # header + 3 rows per sheet
    orders = [make_order(number=n) for n in range(1, 8)]
    workbook, count = await export(exporter, orders)
    assert count == 7
    assert workbook.sheetnames == ["Orders", "Orders (2)", "Orders (3)"]
    numbers = [r["number"] for name in workbook.sheetnames for r in records(workbook[name])]
    assert numbers == list(range(1, 8))


def test_describes_itself(exporters: dict[str, Any]) -> None:
    xlsx = exporters["xlsx"]
    assert (xlsx.name, xlsx.extension) == ("xlsx", "xlsx")
    assert xlsx.media_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
