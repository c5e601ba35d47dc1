"""From a WhatsApp chat to the merchant's screen: a customer whose profile name is markup
and a spreadsheet formula orders through the real agent and sends a receipt; the panel
shows the name as text, the receipt only to a logged-in merchant, the CSV export keeps
the formula inert, and the merchant confirms the payment."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import aiohttp
from tendero import accounts
from tendero.app import DATABASE
from tendero.orders import get_order
from tendero.settings import Settings

from tests.dialogues.runner import run_dialogue
from tests.dialogues.schema import load_dialogue
from tests.web.harness import OWNER_EMAIL, OWNER_PASSWORD, csrf_of, log_in

DIALOGUE = Path(__file__).parent / "dialogues" / "hostile-name-receipt.yaml"
NAME = '=HYPERLINK("http://x.test","y") <script>alert(1)</script>'
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


async def test_a_hostile_name_from_whatsapp_is_text_in_the_panel_and_inert_in_csv(
    settings: Settings,
) -> None:
    dialogue = load_dialogue(DIALOGUE)
    assert dialogue.customer_name == NAME
    seen: dict[str, Any] = {}

    async def merchant_checks(app: Any, base_url: str) -> None:
        db = app[DATABASE]
        async with db.session() as session:
            await accounts.create_user(session, OWNER_EMAIL, OWNER_PASSWORD, is_owner=True)
        async with db.read_session() as session:
            order = await get_order(session, 1001)
            seen["customer"] = order.customer_name
            receipt = order.receipts[0].file_path
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(base_url, cookie_jar=jar) as browser:
            # Logged out, the receipt is not served.
            async with browser.get(f"/{receipt}", allow_redirects=False) as resp:
                assert resp.status == 303
            await log_in(browser)
            async with browser.get("/orders?channel=whatsapp") as resp:
                listing = await resp.text()
            assert ESCAPED in listing and "<script>alert" not in listing
            assert 'aria-label="WhatsApp"' in listing
            async with browser.get("/orders/1001") as resp:
                detail = await resp.text()
            assert ESCAPED in detail and "<script>alert" not in detail
            assert f"/{receipt}" in detail
            async with browser.get(f"/{receipt}") as resp:
                assert resp.status == 200 and resp.content_type.startswith("image/")
            async with browser.get("/orders/export?format=csv&rows=orders") as resp:
                exported = (await resp.read()).decode("utf-8-sig")
            rows = list(csv.DictReader(io.StringIO(exported)))
            names = [value for row in rows for value in row.values() if "HYPERLINK" in value]
            assert names and all(value.startswith("'=") for value in names)
            # The merchant confirms the deposit from the detail page.
            assert 'name="payment_status" value="deposit_paid"' in detail
            async with browser.post(
                "/orders/1001/payment",
                data={
                    "csrf_token": csrf_of(detail),
                    "payment_status": "deposit_paid",
                    "expected": "proof_received",
                },
                allow_redirects=False,
            ) as resp:
                assert resp.status == 303
        async with db.read_session() as session:
            seen["payment"] = (await get_order(session, 1001)).payment_status

    await run_dialogue(dialogue, settings, plugins=["web", "exporters"], then=merchant_checks)
    assert seen == {"customer": NAME, "payment": "deposit_paid"}
