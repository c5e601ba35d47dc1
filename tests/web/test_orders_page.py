"""The Orders page: the table, filters in the URL, keyset pages, counters and exports."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import pytest
import tendero_sample_exporter
from tendero.orders import Customer
from tendero.settings import Settings
from tendero_web.i18n import Formats

from tests.orders.conftest import place
from tests.web.harness import Panel, running_panel
from tests.web.orders_data import FORMULA_NAME, SCRIPT_NAME, publish_store, seed_orders

ROW_NUMBER = re.compile(r'<tr data-number="(\d+)"')


def numbers(page: str) -> list[int]:
    """The order numbers of the table, top to bottom."""
    return [int(n) for n in ROW_NUMBER.findall(page)]


async def get(client: Any, path: str, status: int = 200) -> str:
    async with client.get(path, allow_redirects=False) as resp:
        text = await resp.text()
        assert resp.status == status, text[:2000]
        return text


async def test_lists_orders_newest_first_with_money_and_dates(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await get(client, "/orders")
    assert numbers(page) == [1004, 1003, 1002, 1001]
    fmt = Formats("es", "MX", "MXN", "America/Mexico_City")
    assert fmt.money("598.00") in page  # 1001: 499 + 99 shipping
    # 1001 was placed at 15:00 UTC, 09:00 in Mexico City.
    created = datetime(2026, 11, 17, 18, 0, tzinfo=UTC)
    assert fmt.datetime(created, "short") in page
    assert 'href="/orders/1001"' in page and "#1001" in page
    assert 'aria-label="WhatsApp"' in page and "<title>Instagram</title>" in page
    assert "Recoger · Roma" in page
    assert "2 × Creatina 300g" in page
    assert 'data-status="processing"' in page and 'data-payment="proof_received"' in page


async def test_customer_text_is_shown_as_text(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await get(client, "/orders")
    assert SCRIPT_NAME not in page
    assert html.escape(SCRIPT_NAME, quote=False) in page
    assert "&#34;http://x&#34;" in page or "&quot;http://x&quot;" in page
    assert '<a href="http://x"' not in page


async def test_empty_states(panel: Panel) -> None:
    await publish_store(panel)
    client = await panel.logged_in()
    page = await get(client, "/orders")
    assert numbers(page) == []
    assert "Todavía no hay pedidos" in page
    await seed_orders(panel)
    page = await get(client, "/orders?q=nobody-has-this-name")
    assert numbers(page) == []
    assert "Ningún pedido coincide con estos filtros" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=new", [1004, 1003, 1002]),
        ("status=processing", [1001]),
        ("status=new&status=processing", [1004, 1003, 1002, 1001]),
        ("payment_status=proof_received", [1002]),
        ("payment_status=awaiting_payment", [1004, 1003, 1001]),
        ("channel=whatsapp", [1004, 1001]),
        ("channel=instagram&channel=facebook", [1003, 1002]),
        ("delivery_method=pickup", [1003, 1002]),
        ("delivery_method=shipping", [1004, 1001]),
        ("pickup_location=Roma", [1003]),
        # The store is in Mexico City: 1002 was placed on the 18th, 12:00 local.
        ("since=2026-11-18&until=2026-11-19", [1003, 1002]),
        ("since=2026-11-20", [1004]),
        ("until=2026-11-17", [1001]),
        ("q=%231002", [1002]),
        ("q=bruno", [1002]),
        ("q=ANA+nunez", [1001]),
        ("q=ana%40example.com", [1001]),
        ("q=5215500000000", [1004]),
        ("q=creatina", [1004, 1003, 1002]),
        ("q=PROT-1", [1003, 1001]),
        ("channel=whatsapp&q=creatina", [1004]),
    ],
)
async def test_filters_and_search_narrow_the_table_and_stay_in_the_url(
    panel: Panel, query: str, expected: list[int]
) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await get(client, f"/orders?{query}")
    assert numbers(page) == expected
    # The event stream of the page and the export form keep the same filters.
    events = re.search(r'data-events-url="([^"]+)"', page)
    assert events and events.group(1).startswith("/orders/events?")
    name = query.split("=")[0]
    assert f"{name}=" in events.group(1)
    form = page[page.index('id="export-form"') :]
    assert f'<input type="hidden" name="{name}"' in form[: form.index("</form>")]


async def test_the_form_shows_the_filters_of_the_url(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await get(client, "/orders?status=new&status=processing&channel=instagram&q=bruno")
    assert re.search(r'<select name="status"[^>]*multiple', page)
    assert re.search(r'<option value="new" selected>', page)
    assert re.search(r'<option value="processing" selected>', page)
    assert re.search(r'<option value="instagram" selected>', page)
    assert 'value="bruno"' in page
    # Locations come from the published store.
    assert '<option value="Centro">' in page and '<option value="Roma">' in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=bogus", "bogus"),
        ("payment_status=nope", "nope"),
        ("delivery_method=drone", "drone"),
        ("since=yesterday", "yesterday"),
        ("until=2026-13-40", "2026-13-40"),
        ("since=2026-11-20&until=2026-11-01", ""),
        ("after=not-a-cursor", ""),
        ("q=" + "x" * 300, ""),
    ],
)
async def test_bad_filter_values_are_answered_clearly(
    panel: Panel, query: str, message: str
) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await get(client, f"/orders?{query}", status=400)
    assert 'data-testid="filter-errors"' in page
    assert message in page
    assert numbers(page) == []
    assert 'id="order-filters"' in page  # the form is there to fix it


async def test_keyset_pages_walk_every_order_once(
    panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tendero_web.views import orders as orders_view

    monkeypatch.setattr(orders_view, "PAGE_SIZE", 3)
    seeded = await seed_orders(panel)
    same_time = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    for index in range(5):  # equal created_at: the id breaks the tie
        await place(
            panel.db,
            seeded.store,
            [(seeded.protein, 1)],
            customer=Customer(f"Cliente {index}"),
            now=same_time,
        )
    client = await panel.logged_in()
    seen: list[int] = []
    path = "/orders?channel=whatsapp"
    pages = 0
    while path:
        page = await get(client, html.unescape(path))
        seen += numbers(page)
        pages += 1
        if pages > 1:
            assert 'data-testid="first-page"' in page
            assert 'href="/orders?channel=whatsapp"' in page
        match = re.search(r'<a href="([^"]+)" rel="next"', page)
        path = match.group(1) if match else ""
        if path:
            assert "channel=whatsapp" in path and "after=" in path
    assert seen == [1009, 1008, 1007, 1006, 1005, 1004, 1001]
    assert len(set(seen)) == len(seen)
    assert pages == 3


async def test_counters_follow_the_filters(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    fmt = Formats("es", "MX", "MXN", "America/Mexico_City")
    page = await get(client, "/orders")
    assert '<strong id="counter-new-orders">3</strong>' in page
    assert '<strong id="counter-payments-to-verify">1</strong>' in page
    # 598 + 700 + 849 + 449 (350 + 99 shipping)
    assert f'<strong id="counter-revenue">{fmt.money("2596")}</strong>' in page
    page = await get(client, "/orders?channel=whatsapp")
    assert '<strong id="counter-new-orders">1</strong>' in page
    assert '<strong id="counter-payments-to-verify">0</strong>' in page
    assert f'<strong id="counter-revenue">{fmt.money("1047")}</strong>' in page


async def test_revenue_is_for_the_last_30_days_unless_dates_are_given(panel: Panel) -> None:
    store = await publish_store(panel)
    from tests.orders.conftest import add_product

    product = await add_product(panel.db, "Té verde", "100.00", stock=None)
    now = datetime.now(UTC)
    await place(panel.db, store, [(product, 1)], channel="instagram", now=now - timedelta(days=2))
    await place(panel.db, store, [(product, 2)], channel="whatsapp", now=now - timedelta(days=45))
    client = await panel.logged_in()
    fmt = Formats("es", "MX", "MXN", "America/Mexico_City")
    page = await get(client, "/orders")
    assert "Ventas · últimos 30 días" in page
    # The store's flat shipping is added to each order's items.
    recent = fmt.money(str(100 + store.shipping.flat_rate))
    assert f'<strong id="counter-revenue">{recent}</strong>' in page
    assert '<strong id="counter-new-orders">2</strong>' in page  # to-do counts: all time
    since = (now - timedelta(days=60)).date().isoformat()
    page = await get(client, f"/orders?since={since}")
    both = fmt.money(str(300 + 2 * store.shipping.flat_rate))
    assert "Ventas · últimos 30 días" not in page
    assert f'<strong id="counter-revenue">{both}</strong>' in page


async def test_the_chart_shows_the_last_30_days_by_channel(panel: Panel) -> None:
    store = await publish_store(panel)
    from tests.orders.conftest import add_product

    product = await add_product(panel.db, "Té verde", "100.00", stock=None)
    now = datetime.now(UTC)
    await place(panel.db, store, [(product, 1)], channel="instagram", now=now - timedelta(hours=1))
    await place(panel.db, store, [(product, 2)], channel="whatsapp", now=now - timedelta(days=3))
    await place(panel.db, store, [(product, 1)], channel="whatsapp", now=now - timedelta(days=90))
    client = await panel.logged_in()
    page = await get(client, "/orders")
    svg = re.search(r"<svg[^>]*id=\"sales-chart\".*?</svg>", page, re.S)
    assert svg, "no chart"
    chart = svg.group(0)
    assert 'role="img"' in chart and "<title id=" in chart and "<desc id=" in chart
    bars = re.findall(r'data-channel="(\w+)" data-orders="(\d+)"', chart)
    assert sorted(bars) == [("instagram", "1"), ("whatsapp", "1")]  # the 90-day one is out
    assert "chart-legend" in chart and "Instagram" in chart


# --- export --------------------------------------------------------------------------------


async def download(client: Any, path: str) -> tuple[bytes, dict[str, str]]:
    async with client.get(path, allow_redirects=False) as resp:
        body = await resp.read()
        assert resp.status == 200, body[:2000]
        return body, dict(resp.headers)


async def test_the_menu_lists_every_exporter_and_each_downloads_the_filter(
    settings: Settings,
) -> None:
    async with running_panel(settings, extra_plugins=(tendero_sample_exporter,)) as panel:
        await panel.create_owner()
        await seed_orders(panel)
        client = await panel.logged_in()
        page = await get(client, "/orders?channel=whatsapp")
        for name, label in [
            ("csv", "CSV"),
            ("xlsx", "XLSX"),
            ("json", "JSON"),
            ("tsv", "TSV (number, total)"),
        ]:
            assert f'value="{name}"' in page and label in page
        # The export form carries the current filters.
        form = page[page.index('id="export-form"') :]
        assert (
            '<input type="hidden" name="channel" value="whatsapp">' in form[: form.index("</form>")]
        )

        stamp = datetime.now(UTC).astimezone(Formats("es", "MX", "MXN", "America/Mexico_City").tz)
        expected_name = f"orders-{stamp:%Y%m%d}"

        body, headers = await download(client, "/orders/export?format=csv&channel=whatsapp")
        assert headers["Content-Disposition"] == f'attachment; filename="{expected_name}.csv"'
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
        assert len(rows) == 2
        text = body.decode("utf-8-sig")
        assert "1004" in text and "1001" in text and "1002" not in text
        assert SCRIPT_NAME in text  # text in a CSV file, not markup

        body, headers = await download(
            client, "/orders/export?format=xlsx&rows=items&delivery_method=pickup"
        )
        assert headers["Content-Disposition"].endswith('.xlsx"')
        sheet = openpyxl.load_workbook(io.BytesIO(body)).active
        values = [[cell.value for cell in row] for row in sheet.iter_rows()]
        assert len(values) == 1 + 3  # header + 2 items of 1003 + 1 of 1002
        flat = json.dumps(values, default=str)
        assert "Creatina 300g" in flat
        # A formula in a customer's name stays text, never a live formula.
        cells = [cell for row in sheet.iter_rows() for cell in row]
        assert FORMULA_NAME in [cell.value for cell in cells]
        assert all(cell.data_type != "f" for cell in cells)

        body, headers = await download(client, "/orders/export?format=json&q=bruno")
        lines = [json.loads(line) for line in body.decode().splitlines()]
        assert [o["number"] for o in lines] == [1002]
        assert lines[0]["customer"]["name"] == "Bruno Díaz"

        body, headers = await download(client, "/orders/export?format=tsv&status=new")
        assert headers["Content-Disposition"].endswith('.tsv"')
        assert [line.split("\t")[0] for line in body.decode().splitlines()] == [
            "1004",
            "1003",
            "1002",
        ]


async def test_formula_names_are_neutralised_in_the_csv(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    body, _ = await download(client, "/orders/export?format=csv&channel=facebook")
    text = body.decode("utf-8-sig")
    assert FORMULA_NAME not in [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "HYPERLINK" in text


async def test_a_bad_export_request_goes_back_with_a_message(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    for query in ("format=pdf", "format=csv&rows=lines", "format=csv&status=bogus"):
        async with client.get(f"/orders/export?{query}", allow_redirects=False) as resp:
            assert resp.status == 303
            location = resp.headers["Location"]
        assert location.startswith("/orders")
        page = await get(client, location)
        assert "flash-error" in page


async def test_logged_out_export_is_refused(panel: Panel) -> None:
    client = panel.client()
    async with client.get("/orders/export?format=csv", allow_redirects=False) as resp:
        assert resp.status == 303
        assert resp.headers["Location"].startswith("/login")
