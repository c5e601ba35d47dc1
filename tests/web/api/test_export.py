"""GET /api/v1/orders/export streams the CLI's exporters: csv, xlsx, json lines."""

from __future__ import annotations

import csv
import io
import json

import aiohttp
import openpyxl
import pytest
import sqlalchemy as sa
from tendero.db.models import Order
from tendero.demo.orders import generate_orders

from tests.web.api.conftest import Api
from tests.web.api.test_orders import newest_first


async def export(api: Api, **params: str) -> tuple[bytes, dict[str, str]]:
    async with api.client.get(
        f"{api.url}/api/v1/orders/export", params=params, headers=api.auth()
    ) as resp:
        assert resp.status == 200, await resp.text()
        chunks = []
        async for chunk in resp.content.iter_any():
            chunks.append(chunk)
        return b"".join(chunks), dict(resp.headers)


async def test_each_format_streams_and_parses(api: Api) -> None:
    await generate_orders(api.db, 240, seed=3)
    expected = await newest_first(api, Order.status.in_(["new", "cancelled"]))
    async with api.db.read_session() as session:
        item_rows = await session.scalar(
            sa.text(
                "SELECT count(*) FROM order_items JOIN orders ON orders.id = order_items.order_id "
                "WHERE orders.status IN ('new', 'cancelled')"
            )
        )
    filters = {"status": "new,cancelled"}

    body, headers = await export(api, format="csv", **filters)
    assert headers["Content-Type"].startswith("text/csv")
    assert "Content-Length" not in headers
    assert headers["Transfer-Encoding"] == "chunked"  # streamed, not built first
    disposition = headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="orders-') and disposition.endswith('.csv"')
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table[0][0] == "number"
    assert [int(row[0]) for row in table[1:]] == expected

    body, headers = await export(api, format="csv", rows="items", **filters)
    assert "orders-items-" in headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert "item_sku" in table[0]
    assert len(table) - 1 == item_rows

    body, headers = await export(api, format="xlsx", **filters)
    assert headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert headers["Content-Disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "number"
    assert [int(r[0]) for r in rows[1:]] == expected

    body, headers = await export(api, format="json", **filters)
    assert headers["Content-Type"].startswith("application/x-ndjson")
    orders = [json.loads(line) for line in body.decode().splitlines()]
    assert [o["number"] for o in orders] == expected
    listed = (await api.get("/api/v1/orders", params={**filters, "limit": "3"})).json["orders"]
    # The API's order JSON and the export's are the same objects.
    assert orders[:3] == listed


async def test_export_filters_by_date_and_search(api: Api) -> None:
    await generate_orders(api.db, 60, seed=5)
    everything = (await api.get("/api/v1/orders", params={"limit": "500"})).json["orders"]
    name = everything[0]["customer"]["name"]
    body, _ = await export(api, format="json", q=name)
    numbers = [json.loads(line)["number"] for line in body.decode().splitlines()]
    listed = (await api.get("/api/v1/orders", params={"q": name, "limit": "500"})).json["orders"]
    assert numbers == [o["number"] for o in listed] and numbers


async def test_empty_export_and_bad_requests(api: Api) -> None:
    body, _ = await export(api, format="csv")
    assert body.decode("utf-8-sig").splitlines()[0].startswith("number,")
    assert len(body.decode("utf-8-sig").splitlines()) == 1
    for params, field in (
        ({}, "format"),
        ({"format": "pdf"}, "format"),
        ({"format": "csv", "rows": "lines"}, "rows"),
        ({"format": "csv", "status": "gone"}, "status"),
        ({"format": "csv", "limit": "5"}, "limit"),
    ):
        answer = await api.get("/api/v1/orders/export", params=params)
        assert answer.status == 400, params
        assert answer.headers["Content-Type"].startswith("application/json")
        assert field in json.dumps(answer.json["error"]), params


async def test_a_failure_midway_breaks_the_download_instead_of_ending_it(api: Api) -> None:
    """Once the file is on its way, an error must not look like a complete (short) file."""
    await api.place()
    with pytest.raises(aiohttp.ClientPayloadError):
        async with api.client.get(
            f"{api.url}/api/v1/orders/export", params={"format": "broken"}, headers=api.auth()
        ) as resp:
            assert resp.status == 200
            await resp.read()
    # The server is fine afterwards.
    assert (await api.get("/api/v1/orders")).status == 200
