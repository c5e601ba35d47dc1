"""The panel on a phone screen, and customer text that tries to be HTML."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server, logged_in_page

PHONE = {"width": 375, "height": 812}
SECTIONS = ("Orders", "Conversations", "Products", "Settings", "Channels")
SCRIPT_NAME = "<script>alert(1)</script> Pérez"


@pytest.fixture
def phone_page(browser: Any, request: pytest.FixtureRequest, demo_server: Server) -> Iterator[Any]:
    yield from logged_in_page(
        browser, request, demo_server, viewport=PHONE, is_mobile=True, has_touch=True
    )


def page_width(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def assert_fits(page: Any) -> None:
    width = page_width(page)
    assert width <= PHONE["width"], (
        f"the page is {width}px wide on a {PHONE['width']}px phone; too wide: "
        + ", ".join(
            page.evaluate(
                """limit => Array.from(document.querySelectorAll('body *'))
                .filter(e => e.getBoundingClientRect().right > limit + 1
                             && !e.closest('.table-wrap'))
                .slice(0, 8)
                .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                          + (e.className && typeof e.className === 'string'
                             ? '.' + e.className.trim().split(/\\s+/).join('.') : ''))""",
                PHONE["width"],
            )
        )
    )


def test_orders_and_an_order_on_a_phone(phone_page: Any, demo_server: Server, shot: Any) -> None:
    page = phone_page
    number = demo_server.order("Mariana de la Phone Hernández", channel="whatsapp", items=3)

    page.goto(demo_server.url("/orders"))
    expect(page.get_by_test_id("order-row").first).to_be_visible()
    assert_fits(page)
    shot(page, "orders")

    # Every section of the top bar can be reached and opened.
    sections = page.get_by_role("navigation", name="Sections")
    for label in SECTIONS:
        link = sections.get_by_role("link", name=label)
        link.scroll_into_view_if_needed()
        expect(link).to_be_visible()
        box = link.bounding_box()
        assert box and box["width"] > 0 and box["x"] >= 0, f"{label} is off screen: {box}"
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    sections.get_by_role("link", name="Settings").click()
    expect(page).to_have_url(re.compile(r"/settings$"))
    assert_fits(page)
    shot(page, "settings")

    # The order detail: readable and its actions at hand.
    page.goto(demo_server.url(f"/orders/{number}"))
    expect(page.get_by_role("heading", name=f"Order #{number}")).to_be_visible()
    assert_fits(page)
    start = page.get_by_role("button", name="Start processing")
    start.scroll_into_view_if_needed()
    expect(start).to_be_visible()
    shot(page, "order")
    start.tap()
    expect(page.locator("#order-status")).to_have_text("Processing")
    assert_fits(page)


def test_customer_text_is_shown_as_text(owner_page: Any, demo_server: Server, shot: Any) -> None:
    page = owner_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    number = demo_server.order(SCRIPT_NAME, channel="instagram", receipt=True)

    page.goto(demo_server.url("/orders"))
    row = page.locator(f'[data-testid="order-row"][data-number="{number}"]')
    expect(row.locator(".customer-name")).to_have_text(SCRIPT_NAME)
    assert page.locator("script:not([src])").count() == 0

    page.goto(demo_server.url(f"/orders/{number}"))
    expect(page.get_by_test_id("order-customer")).to_contain_text(SCRIPT_NAME)
    assert page.locator("script:not([src])").count() == 0

    # Searching for it echoes it into the search box, still as text.
    page.goto(demo_server.url("/orders?q=" + "%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
    expect(page.locator("#filter-q")).to_have_value("<script>alert(1)</script>")
    expect(page.get_by_test_id("order-row")).to_have_count(1)
    page.wait_for_timeout(300)
    assert not dialogs, f"a script ran: {dialogs}"
    assert not page.js_errors, page.js_errors
    shot(page, "escaped")
