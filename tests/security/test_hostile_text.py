"""Hostile customer text through Messenger and Instagram: markup, a Jinja-looking
expression and spreadsheet formulas in messages and in the shipping address reach the
panel as text (orders list, order detail, conversations list, transcript) through the
real webhook → agent → order path; names and address fields that start like formulas
(=, +, -, @, tab, CR) stay inert in the CSV and XLSX exports, and the live row of the
Orders page escapes them too. (Messenger and Instagram send no profile name: the name
arrives through WhatsApp, see tests/web/test_channel_to_panel.py.)"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import openpyxl
import pytest
from tendero import accounts
from tendero.app import DATABASE
from tendero.orders import Customer, get_order
from tendero.settings import Settings

from tests.dialogues.runner import run_dialogue
from tests.dialogues.schema import load_dialogue
from tests.orders.conftest import add_product, place
from tests.web.harness import OWNER_EMAIL, OWNER_PASSWORD, Panel, log_in
from tests.web.orders_data import publish_store

DIALOGUES = Path(__file__).parent / "dialogues"
RAW_MARKUP = ("<script>alert", "<img src=x", '"><img', "onerror=alert(1)>")
REFERENCES = "between <script>alert(1)</script> and =cmd|' /C calc'!A0"
FORMULAS = [
    "=cmd|' /C calc'!A0",
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    '  =HYPERLINK("http://x.test","y")',
]


def assert_text_only(html: str, where: str) -> None:
    for raw in RAW_MARKUP:
        assert raw not in html, f"{where}: {raw!r} unescaped"


@pytest.mark.parametrize("channel", ["facebook", "instagram"])
async def test_hostile_messages_and_address_are_text_in_the_panel(
    settings: Settings, channel: str
) -> None:
    dialogue = load_dialogue(
        DIALOGUES / f"hostile-{'messenger' if channel == 'facebook' else channel}.yaml"
    )
    assert dialogue.channel == channel
    seen: dict[str, Any] = {}

    async def merchant_checks(app: Any, base_url: str) -> None:
        db = app[DATABASE]
        async with db.session() as session:
            await accounts.create_user(session, OWNER_EMAIL, OWNER_PASSWORD, is_owner=True)
        async with db.read_session() as session:
            order = await get_order(session, 1001)
        seen["references"] = (order.shipping_address or {}).get("references")
        conversation = order.conversation_id
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(base_url, cookie_jar=jar) as browser:
            await log_in(browser)
            pages = {}
            for path in (
                f"/orders?channel={channel}",
                "/orders/1001",
                "/conversations",
                f"/conversations/{conversation}",
            ):
                async with browser.get(path) as resp:
                    assert resp.status == 200, path
                    pages[path] = await resp.text()
                assert_text_only(pages[path], path)
            detail, transcript = pages["/orders/1001"], pages[f"/conversations/{conversation}"]
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
            assert "=cmd|&#39; /C calc&#39;!A0" in detail
            assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in transcript
            assert "{{7*7}}" in transcript  # shown as typed, never evaluated
            async with browser.get("/orders/export?format=csv&rows=orders") as resp:
                rows = list(csv.DictReader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
            seen["csv"] = [v for row in rows for v in row.values() if "alert(1)" in v]
            async with browser.get("/orders/export?format=xlsx&rows=orders") as resp:
                seen["xlsx"] = xlsx_cells(await resp.read())

    await run_dialogue(dialogue, settings, plugins=["web", "exporters"], then=merchant_checks)
    assert seen["references"] == REFERENCES
    assert seen["csv"] == [REFERENCES]  # not formula-like at the start: kept as is
    assert (REFERENCES, "s") in seen["xlsx"]


def xlsx_cells(content: bytes) -> list[tuple[Any, str]]:
    """Every non-empty cell of the first sheet as ``(value, openpyxl data type)``."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheet = book.worksheets[0]
    return [
        (cell.value, cell.data_type)
        for row in sheet.iter_rows()
        for cell in row
        if cell.value is not None
    ]


async def test_formula_names_and_addresses_stay_inert_in_exports_and_live_rows(
    panel: Panel,
) -> None:
    store = await publish_store(panel)
    product = await add_product(panel.db, "Creatina 300g", "350.00", stock=None, sku="CREA-3")
    client = await panel.logged_in()
    live = await client.get("/orders/events", headers={"Accept": "text/event-stream"})
    assert live.status == 200
    await live.content.readline()  # the stream is open; the feed watches from now on
    for n, formula in enumerate(FORMULAS):
        address = {
            "street": formula,
            "house_number": "12",
            "interior": "",
            "neighborhood": '"><img src=x onerror=alert(1)>',
            "postal_code": "06700",
            "city": "{{7*7}}",
            "state": "CDMX",
            "references": formula,
        }
        await place(
            panel.db,
            store,
            [(product, 1)],
            channel=("facebook", "instagram")[n % 2],
            customer=Customer(formula, f"psid-{n}", "", ""),
            shipping_address=address,
        )
    html = await live_rows(live, len(FORMULAS))
    live.close()
    assert_text_only(html, "live row")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html or "cmd|&#39;" in html

    async with client.get("/orders/export?format=csv&rows=orders") as resp:
        exported = (await resp.read()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported)))
    for formula in FORMULAS:
        # Address fields are stored trimmed, so "\t=1+1" may arrive as "=1+1".
        forms = {formula, formula.strip()}
        cells = [cell for row in rows for cell in row if cell.removeprefix("'") in forms]
        assert len(cells) >= 3, formula  # name, street, references
        assert all(cell.startswith("'") for cell in cells), (formula, cells)
    async with client.get("/orders/export?format=xlsx&rows=items") as resp:
        cells = xlsx_cells(await resp.read())
    for formula in FORMULAS:
        forms = {formula, formula.strip()}
        found = [(value, kind) for value, kind in cells if str(value).removeprefix("'") in forms]
        assert found, formula
        assert all(kind == "s" for _, kind in found), (formula, found)
    assert all(kind != "f" for _, kind in cells)
    assert any(kind == "n" for _, kind in cells)  # money stays numbers


async def live_rows(stream: aiohttp.ClientResponse, count: int) -> str:
    """The HTML of the rows the event stream pushes, until ``count`` orders came."""
    html, orders, event = [], 0, ""
    while orders < count:
        line = (await stream.content.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "order":
            html.append(json.loads(line.removeprefix("data: "))["html"])
            orders += 1
    return "\n".join(html)
