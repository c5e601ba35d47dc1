"""Products, Settings and Conversations pages in a real browser (demo store, SQLite)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Server

IMPORT_CSV = (
    "sku,name,price,stock,category\n"
    "BRW-001,Shaker Navegador 600 ml,189.00,12,Accesorios\n"
    "BRW-002,Toalla Navegador,doscientos,5,Accesorios\n"
    "BRW-003,Liga Navegador,99.50,,Accesorios\n"
)


def test_products_import_report_and_inline_price_edit(
    owner_page: Any, demo_server: Server, shot: Any, tmp_path: Path
) -> None:
    page = owner_page
    upload = tmp_path / "catalogo.csv"
    upload.write_text(IMPORT_CSV, encoding="utf-8")

    page.goto(demo_server.url("/products"))
    page.get_by_test_id("import-link").click()
    expect(page.get_by_role("heading", name="Import products")).to_be_visible()
    page.get_by_label("CSV or Excel file").set_input_files(upload)
    page.get_by_role("button", name="Import", exact=True).click()

    expect(page.get_by_role("heading", name="Import report")).to_be_visible()
    expect(page.get_by_test_id("count-created")).to_have_text("2")
    expect(page.get_by_test_id("count-rejected")).to_have_text("1")
    rejected = page.get_by_test_id("rejected-rows").locator("tbody tr")
    expect(rejected).to_have_count(1)
    # Line 3 of the file: the header is line 1.
    expect(rejected.locator("td").first).to_have_text("3")
    expect(rejected).to_contain_text("BRW-002")
    shot(page, "report")

    page.goto(demo_server.url("/products?q=Shaker+Navegador"))
    row = page.locator("tr[data-product-id]").filter(has_text="Shaker Navegador 600 ml")
    expect(row).to_have_count(1)
    price = row.get_by_label("Price of Shaker Navegador 600 ml")
    expect(price).to_have_value(re.compile(r"^189(\.00?)?$"))

    # A bad price: an inline error next to the field, nothing saved.
    price.fill("-5")
    row.get_by_role("button", name="Save Shaker Navegador 600 ml").click()
    expect(price).to_have_attribute("aria-invalid", "true")
    expect(row.locator(".field-error").first).to_be_visible()
    shot(page, "bad-price")

    price.fill("249.50")
    row.get_by_role("button", name="Save Shaker Navegador 600 ml").click()
    expect(price).not_to_have_attribute("aria-invalid", "true")
    expect(row.locator(".price-display")).to_contain_text("249.50")
    shot(page, "price-saved")

    page.reload()
    row = page.locator("tr[data-product-id]").filter(has_text="Shaker Navegador 600 ml")
    expect(row.get_by_label("Price of Shaker Navegador 600 ml")).to_have_value(
        re.compile(r"^249\.50?$")
    )


def test_settings_draft_banner_publish_and_inline_error(
    owner_page: Any, demo_server: Server, shot: Any
) -> None:
    page = owner_page
    page.goto(demo_server.url("/settings"))
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    expect(page.get_by_test_id("unpublished-banner")).to_have_count(0)
    brand = page.locator(".topbar .brand")
    old_name = brand.inner_text()
    new_name = "Tienda Fit Roma Centro"
    assert old_name != new_name

    # A bad value: the error is shown by the field, the other typed values are kept.
    page.get_by_label("Flat shipping rate").fill("ciento cincuenta")
    page.get_by_label("Store name").fill(new_name)
    page.locator("#save-draft").click()
    flat_rate = page.get_by_label("Flat shipping rate")
    expect(flat_rate).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-shipping-flat_rate-error")).to_be_visible()
    expect(flat_rate).to_have_value("ciento cincuenta")
    expect(page.get_by_label("Store name")).to_have_value(new_name)
    shot(page, "inline-error")

    # Fixed and saved as a draft: the banner says it is not live; the agent's store
    # (the top bar's name) is still the published one.
    flat_rate.fill("159.00")
    page.locator("#save-draft").click()
    banner = page.get_by_test_id("unpublished-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("unpublished changes")
    expect(page.get_by_label("Store name")).to_have_value(new_name)
    expect(brand).to_have_text(old_name)
    shot(page, "draft")

    banner.get_by_role("button", name="Publish").click()
    expect(page.get_by_test_id("unpublished-banner")).to_have_count(0)
    expect(brand).to_have_text(new_name)
    expect(page.get_by_label("Flat shipping rate")).to_have_value(re.compile(r"^159(\.00?)?$"))
    shot(page, "published")
    live = demo_server.tendero("settings", "show")
    assert new_name in live and "159" in live


def test_conversation_transcript(owner_page: Any, demo_server: Server, shot: Any) -> None:
    page = owner_page
    # A real conversation through the agent's pipeline (the terminal channel).
    demo_server.tendero(
        "chat", "--user", "cliente-navegador", input="hola, ¿tienen shakers de 600 ml?\n"
    )

    page.goto(demo_server.url("/conversations"))
    page.get_by_label("Search by name, phone or handle").fill("cliente-navegador")
    page.get_by_role("button", name="Filter").click()
    link = page.get_by_role("link", name="cliente-navegador")
    expect(link).to_be_visible()
    link.click()
    expect(page.get_by_role("heading", name="cliente-navegador")).to_be_visible()
    transcript = page.get_by_test_id("transcript")
    customer = transcript.locator('[data-author="customer"]')
    expect(customer.first).to_contain_text("hola, ¿tienen shakers de 600 ml?")
    expect(transcript.locator('[data-author="agent"]').first).to_be_visible()
    expect(page.get_by_label("Reply as the merchant")).to_be_visible()
    shot(page, "transcript")
