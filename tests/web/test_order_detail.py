"""One order's page: everything about it, the moves the rules allow, notes, 404s."""

from __future__ import annotations

import html
import re
from typing import Any

import aiohttp
from markupsafe import escape
from tendero.orders import change_status, get_order
from tendero.settings import Settings
from tendero_web.i18n import Formats

from tests.web.harness import OWNER_EMAIL, Panel
from tests.web.orders_data import FORMULA_NAME, PNG, RECEIPT_PATH, SCRIPT_NAME, seed_orders

FMT = Formats("es", "MX", "MXN", "America/Mexico_City")


async def page_of(client: aiohttp.ClientSession, path: str, status: int = 200) -> str:
    async with client.get(path, allow_redirects=False) as resp:
        text = await resp.text()
        assert resp.status == status, text[:3000]
        return text


def buttons(page: str) -> set[str]:
    """The ``data-testid`` of the move buttons on the page."""
    return set(re.findall(r'data-testid="((?:move|payment)-\w+)"', page))


async def post(
    panel: Panel, client: aiohttp.ClientSession, path: str, data: dict[str, Any], number: int
) -> str:
    """POST a form of the order page; return the page the redirect leads to."""
    resp = await panel.post_form(client, path, data, page=f"/orders/{number}")
    async with resp:
        assert resp.status == 303, await resp.text()
        assert resp.headers["Location"] == f"/orders/{number}"
    return await page_of(client, f"/orders/{number}")


async def test_the_page_shows_everything_about_the_order(panel: Panel, settings: Settings) -> None:
    seeded = await seed_orders(panel, settings.data_dir)
    client = await panel.logged_in()
    page = await page_of(client, "/orders/1002")
    # customer and channel
    assert "Bruno Díaz" in page and "ig-778" in page and "bruno@example.com" in page
    assert 'aria-label="Instagram"' in page
    # items and money
    assert "CREA-3" in page and "Creatina 300g" in page
    assert FMT.money("350") in page and FMT.money("700") in page
    assert FMT.money("350.00") in page  # the 50 % deposit
    assert 'data-testid="order-total"' in page
    # delivery: pickup location snapshot and ready time
    assert "Centro" in page and "Madero 10, Centro, CDMX" in page
    # statuses
    assert 'data-status="new"' in page and 'data-payment="proof_received"' in page
    # the receipt, served to logged-in users only
    assert f'<img src="/{RECEIPT_PATH}"' in page
    async with client.get(f"/{RECEIPT_PATH}") as resp:
        assert resp.status == 200 and await resp.read() == PNG
    async with panel.client().get(f"/{RECEIPT_PATH}", allow_redirects=False) as resp:
        assert resp.status == 303
    # history: receipt received (by the agent)
    history = page[page.index('data-testid="order-history"') :]
    assert "Esperando pago" in history and "Comprobante por verificar" in history
    # the conversation, in order, inbound and outbound told apart, text escaped
    transcript = page[page.index('data-testid="order-transcript"') :]
    assert transcript.index("quiero 2 creatinas") < transcript.index("Tu pedido está listo")
    assert "&lt;b&gt;ya&lt;/b&gt;" in transcript and "<b>ya</b>" not in transcript
    assert 'class="msg msg-in"' in transcript and 'class="msg msg-out"' in transcript
    assert f'src="/{RECEIPT_PATH}"' in transcript
    assert f'href="/conversations/{seeded.conversation_id}"' in page


async def test_a_shipping_order_shows_its_address_and_shipping_cost(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await page_of(client, "/orders/1001")
    assert "Insurgentes Sur" in page and "03940" in page and "Portón negro" in page
    assert FMT.money("99") in page and FMT.money("598") in page
    assert "+52 55 1234 5678" in page and "ana@example.com" in page
    assert 'aria-label="WhatsApp"' in page
    history = page[page.index('data-testid="order-history"') :]
    assert "Nuevo" in history and "En proceso" in history and OWNER_EMAIL in history


async def test_customer_text_is_escaped_on_the_page(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await page_of(client, "/orders/1004")
    assert SCRIPT_NAME not in page
    assert html.escape(SCRIPT_NAME, quote=False) in page
    page = await page_of(client, "/orders/1003")
    assert str(escape(FORMULA_NAME)) in page
    assert '<a href="http://x"' not in page


async def test_only_the_allowed_moves_have_buttons(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    # shipping, processing, awaiting payment (no deposit)
    assert buttons(await page_of(client, "/orders/1001")) == {
        "move-shipped",
        "move-cancelled",
        "payment-paid",
    }
    # pickup with a deposit, new, receipt to verify
    assert buttons(await page_of(client, "/orders/1002")) == {
        "move-preparing",
        "move-cancelled",
        "payment-paid",
        "payment-deposit_paid",
        "payment-rejected",
    }
    async with panel.db.session() as session:
        await change_status(session, 1004, "cancelled", "merchant")
    page = await page_of(client, "/orders/1004")
    assert not {b for b in buttons(page) if b.startswith("move-")}


async def test_a_legal_move_is_made_and_recorded(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await post(
        panel, client, "/orders/1001/status", {"status": "shipped", "expected": "processing"}, 1001
    )
    assert "flash-success" in page and "Enviado" in page
    assert 'id="order-status"><span class="badge badge-info" data-status="shipped"' in page
    async with panel.db.read_session() as session:
        order = await get_order(session, 1001)
    assert order.status == "shipped"
    last = max(order.history, key=lambda change: change.id)
    assert (last.from_value, last.to_value, last.actor, last.actor_name) == (
        "processing",
        "shipped",
        "merchant",
        OWNER_EMAIL,
    )
    assert buttons(page) >= {"move-delivered"}


async def test_an_illegal_move_is_refused_with_the_reason(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await post(
        panel,
        client,
        "/orders/1001/status",
        {"status": "picked_up", "expected": "processing"},
        1001,
    )
    assert "flash-error" in page and "Ese cambio no está permitido" in page
    assert "picked_up" in page  # the reason names the move
    async with panel.db.read_session() as session:
        assert (await get_order(session, 1001)).status == "processing"
    page = await post(panel, client, "/orders/1001/status", {"status": "teleported"}, 1001)
    assert "flash-error" in page and "teleported" in page


async def test_a_stale_form_is_refused(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    # The page showed "new"; meanwhile someone else started preparing the order.
    async with panel.db.session() as session:
        await change_status(session, 1002, "preparing", "merchant")
    page = await post(
        panel, client, "/orders/1002/status", {"status": "preparing", "expected": "new"}, 1002
    )
    assert "flash-error" in page and "Alguien cambió este pedido" in page
    assert "En preparación" in page
    page = await post(
        panel,
        client,
        "/orders/1002/payment",
        {"payment_status": "paid", "expected": "awaiting_payment"},
        1002,
    )
    assert "Alguien cambió este pedido" in page
    async with panel.db.read_session() as session:
        order = await get_order(session, 1002)
    assert (order.status, order.payment_status) == ("preparing", "proof_received")


async def test_payment_confirm_and_reject(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await post(
        panel,
        client,
        "/orders/1002/payment",
        {"payment_status": "rejected", "expected": "proof_received"},
        1002,
    )
    assert "flash-success" in page and 'data-payment="rejected"' in page
    assert "payment-rejected" not in buttons(page)
    page = await post(
        panel,
        client,
        "/orders/1002/payment",
        {"payment_status": "deposit_paid", "expected": "rejected"},
        1002,
    )
    assert 'id="order-payment"><span class="badge badge-ok" data-payment="deposit_paid"' in page
    async with panel.db.read_session() as session:
        order = await get_order(session, 1002)
    assert order.payment_status == "deposit_paid"
    moves = [(c.field, c.to_value, c.actor) for c in sorted(order.history, key=lambda c: c.id)]
    assert moves[-2:] == [
        ("payment_status", "rejected", "merchant"),
        ("payment_status", "deposit_paid", "merchant"),
    ]


async def test_cancelling_asks_first(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await page_of(client, "/orders/1004")
    assert 'data-confirm="' in page  # orders.js asks before sending
    # Without the confirmation the answer is a page that asks.
    resp = await panel.post_form(
        client, "/orders/1004/status", {"status": "cancelled", "expected": "new"}, "/orders/1004"
    )
    async with resp:
        assert resp.status == 200
        confirm = await resp.text()
    assert 'name="confirmed" value="yes"' in confirm and 'data-testid="confirm-cancel"' in confirm
    async with panel.db.read_session() as session:
        assert (await get_order(session, 1004)).status == "new"
    page = await post(
        panel,
        client,
        "/orders/1004/status",
        {"status": "cancelled", "expected": "new", "confirmed": "yes"},
        1004,
    )
    assert 'data-status="cancelled"' in page


async def test_notes(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await post(
        panel, client, "/orders/1003/notes", {"text": "Llamar antes <i>de</i> entregar"}, 1003
    )
    assert "flash-success" in page
    notes = page[page.index('data-testid="order-notes"') :]
    assert "Llamar antes &lt;i&gt;de&lt;/i&gt; entregar" in notes and OWNER_EMAIL in notes
    page = await post(panel, client, "/orders/1003/notes", {"text": "   "}, 1003)
    assert "flash-error" in page and "Escribe primero la nota" in page
    page = await post(panel, client, "/orders/1003/notes", {"text": "x" * 2001}, 1003)
    assert "flash-error" in page
    async with panel.db.read_session() as session:
        assert [n.text for n in (await get_order(session, 1003)).notes] == [
            "Llamar antes <i>de</i> entregar"
        ]


async def test_unknown_orders_are_404(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await page_of(client, "/orders/9999", status=404)
    assert 'data-testid="order-not-found"' in page and "#9999" in page
    assert 'class="topbar"' in page  # inside the panel layout
    await page_of(client, "/orders/99999999999999999999999", status=404)
    await page_of(client, "/orders/abc", status=404)
    await page_of(client, "/orders/-3", status=404)
    resp = await panel.post_form(
        client, "/orders/9999/status", {"status": "shipped"}, page="/orders/1001"
    )
    async with resp:
        assert resp.status == 404


async def test_moves_need_the_csrf_token(panel: Panel) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    async with client.post(
        "/orders/1001/status", data={"status": "shipped"}, allow_redirects=False
    ) as resp:
        assert resp.status == 403
    async with panel.db.read_session() as session:
        assert (await get_order(session, 1001)).status == "processing"
