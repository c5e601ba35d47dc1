"""The Orders page and an order's detail page, in a real browser, on SQLite and PostgreSQL.

The server holds the demo store with its generated orders (all finished and in the past);
each test adds the orders it acts on from another process, the way the agent or a
second server would.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import openpyxl
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import OWNER_EMAIL, Server, logged_in_page


@pytest.fixture
def orders_page(
    browser: Any, request: pytest.FixtureRequest, orders_server: Server
) -> Iterator[Any]:
    yield from logged_in_page(browser, request, orders_server)


def query_of(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def row_numbers(page: Any) -> list[int]:
    return [
        int(n)
        for n in page.get_by_test_id("order-row").evaluate_all(
            "rows => rows.map(r => r.dataset.number)"
        )
    ]


def test_table_icons_filters_search_and_pages(
    orders_page: Any, orders_server: Server, shot: Any
) -> None:
    page = orders_page
    seeded = orders_server.order("Valeria Quintanilla", channel="instagram", items=2)

    page.goto(orders_server.url("/orders"))
    rows = page.get_by_test_id("order-row")
    expect(rows).to_have_count(50)  # one page; more are on the next
    first = rows.first
    expect(first).to_have_attribute("data-number", str(seeded))  # newest first
    expect(first.get_by_role("img", name="Instagram")).to_be_visible()
    expect(first).to_contain_text("Valeria Quintanilla")
    for channel in ("WhatsApp", "Instagram", "Messenger"):
        assert rows.get_by_role("img", name=channel).count() > 0, f"no {channel} icon"
    shot(page, "all-orders")

    # Filter by status: the URL says so, every row has that status.
    page.locator("#filter-status").select_option("delivered")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"status=delivered"))
    count = rows.count()
    assert count > 0
    expect(rows.locator('[data-status="delivered"]')).to_have_count(count)
    expect(page.locator("#filter-status")).to_have_value("delivered")

    # ... and by channel on top of it.
    page.locator("#filter-channel").select_option("whatsapp")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"channel=whatsapp"))
    assert query_of(page)["status"] == ["delivered"]
    narrowed = rows.count()
    assert 0 < narrowed < count
    expect(rows.get_by_role("img", name="WhatsApp")).to_have_count(narrowed)
    expect(rows.locator('[data-status="delivered"]')).to_have_count(narrowed)
    shot(page, "delivered-whatsapp")

    # The back button returns to the previous filter.
    page.go_back()
    page.wait_for_url(lambda url: "channel=whatsapp" not in url and "status=delivered" in url)
    assert "channel" not in query_of(page)
    expect(rows).to_have_count(count)
    # The form shows the filter the table shows (not the value chosen on the later page).
    expect(page.locator("#filter-channel")).to_have_value("")

    # Search by customer name (any case, no accents needed), then by #number.
    page.goto(orders_server.url("/orders"))
    page.locator("#filter-q").fill("valeria quintanilla")
    page.locator("#filter-q").press("Enter")
    page.wait_for_url(re.compile(r"q=valeria"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-number", str(seeded))

    page.locator("#filter-q").fill(f"#{seeded - 1}")
    page.locator("#filter-q").press("Enter")
    page.wait_for_url(re.compile(r"q=%23"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-number", str(seeded - 1))
    shot(page, "search-number")

    # Next page: older orders, none of the first page's.
    page.goto(orders_server.url("/orders"))
    first_page = row_numbers(page)
    page.get_by_test_id("next-page").click()
    page.wait_for_url(re.compile(r"after="))
    expect(rows.first).not_to_have_attribute("data-number", str(first_page[0]))
    second_page = row_numbers(page)
    assert second_page and max(second_page) < min(first_page)
    assert not set(first_page) & set(second_page)
    expect(page.get_by_test_id("first-page")).to_be_visible()
    shot(page, "next-page")


def test_detail_status_moves_payment_and_notes(
    orders_page: Any, orders_server: Server, shot: Any
) -> None:
    page = orders_page
    number = orders_server.order("Rodrigo Albarrán", channel="whatsapp", receipt=True)

    page.goto(orders_server.url("/orders?q=Rodrigo+Albarr%C3%A1n"))
    page.get_by_role("link", name=f"#{number}").click()
    expect(page).to_have_url(re.compile(rf"/orders/{number}$"))
    expect(page.get_by_role("heading", name=f"Order #{number}")).to_be_visible()
    status = page.locator("#order-status")
    payment = page.locator("#order-payment")
    expect(status).to_have_text("New")
    expect(payment).to_have_text("Receipt to verify")
    receipt = page.get_by_test_id("order-receipts").get_by_role("img")
    expect(receipt).to_be_visible()
    assert receipt.evaluate("img => img.naturalWidth") > 0, "the receipt image did not load"
    shot(page, "new")

    # Only the moves the rules allow are offered: a new order is not shipped yet.
    expect(page.get_by_role("button", name="Start processing")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel order")).to_be_visible()
    expect(page.get_by_role("button", name="Mark as shipped")).to_have_count(0)
    expect(page.get_by_role("button", name="Mark as delivered")).to_have_count(0)

    page.get_by_role("button", name="Start processing").click()
    expect(page.get_by_text(f"Order #{number} is now “Processing”.")).to_be_visible()
    expect(status).to_have_text("Processing")
    history = page.get_by_test_id("order-history")
    move = history.get_by_role("row").filter(has_text="Processing")
    expect(move).to_have_count(1)
    expect(move).to_contain_text("New")
    expect(move).to_contain_text(OWNER_EMAIL)
    expect(page.get_by_role("button", name="Start processing")).to_have_count(0)
    expect(page.get_by_role("button", name="Mark as shipped")).to_be_visible()

    # Cancelling asks first; saying no changes nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Cancel order").click()
    expect(status).to_have_text("Processing")

    page.get_by_role("button", name="Confirm payment").click()
    expect(page.get_by_text(f"Payment of order #{number}: “Paid”.")).to_be_visible()
    expect(payment).to_have_text("Paid")
    expect(page.get_by_role("button", name="Confirm payment")).to_have_count(0)
    expect(history.get_by_role("row").filter(has_text="Receipt to verify")).not_to_have_count(0)
    shot(page, "processing-paid")

    note = "Llamar antes de enviar <b>urgente</b>"
    page.get_by_label("Add a note (only you and your team see it)").fill(note)
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Note added.")).to_be_visible()
    expect(page.get_by_test_id("order-notes").get_by_text(note, exact=True)).to_be_visible()
    shot(page, "note")

    # What the page showed is what is stored.
    shown = orders_server.tendero("orders", "show", str(number))
    assert '"status": "processing"' in shown and '"payment_status": "paid"' in shown
    assert "urgente" in shown


def test_a_new_order_appears_without_reload(
    orders_page: Any, orders_server: Server, shot: Any
) -> None:
    page = orders_page
    with page.expect_response(lambda r: "/orders/events" in r.url):
        page.goto(orders_server.url("/orders"))
    page.evaluate("window.notReloaded = true")
    before = page.locator("#counter-new-orders").inner_text()

    number = orders_server.order("Ximena Live", channel="facebook")
    row = page.locator(f'[data-testid="order-row"][data-number="{number}"]')
    expect(row).to_be_visible(timeout=15_000)
    expect(row).to_contain_text("Ximena Live")
    expect(row.get_by_role("img", name="Messenger")).to_be_visible()
    expect(page.get_by_test_id("order-row").first).to_have_attribute("data-number", str(number))
    expect(page.locator("#counter-new-orders")).to_have_text(str(int(before) + 1))
    assert page.evaluate("window.notReloaded") is True
    shot(page, "live-row")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_of_the_current_filter(
    orders_page: Any, orders_server: Server, shot: Any, tmp_path: Path, fmt: str
) -> None:
    page = orders_page
    page.goto(orders_server.url("/orders?status=delivered&channel=instagram"))
    shown = row_numbers(page)
    assert 0 < len(shown) < 50, "the filter should fit on one page"

    page.get_by_text("Export", exact=True).click()
    page.get_by_test_id(f"export-format-{fmt}").check()
    shot(page, "menu")
    with page.expect_download() as download_info:
        page.get_by_test_id("export-download").click()
    download = download_info.value
    assert download.suggested_filename.endswith(f".{fmt}")
    path = tmp_path / download.suggested_filename
    download.save_as(path)

    if fmt == "csv":
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM: Excel would garble accents"
        table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    else:
        sheet = openpyxl.load_workbook(path, read_only=True).active
        table = [list(row) for row in sheet.iter_rows(values_only=True)]
    header, body = (
        table[0],
        [row for row in table[1:] if any(cell not in (None, "") for cell in row)],
    )
    for column in ("number", "status", "channel", "customer_name", "total"):
        assert column in header, f"{column} missing from {header}"
    numbers = [int(row[header.index("number")]) for row in body]
    assert sorted(numbers) == sorted(shown)
    assert {row[header.index("status")] for row in body} == {"delivered"}
    assert {row[header.index("channel")] for row in body} == {"instagram"}
