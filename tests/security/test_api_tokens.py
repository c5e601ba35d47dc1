"""API tokens: made by the CLI, stored only as a digest (the database row does not
hold the token, and the stored digest is not a token); the API ignores the panel's
cookie, so a logged-in browser cannot be tricked into an API write."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from tendero.orders import get_order

from tests.conftest import CLI
from tests.web.harness import Panel, csrf_of
from tests.web.orders_data import Seeded


async def test_tokens_are_stored_hashed(panel: Panel, seeded: Seeded, cli: CLI) -> None:
    result = cli("tokens", "create", "--name", "erp", check=True)
    secret = result.stdout.strip()
    assert secret.startswith("tdr_") and len(secret) > 40
    async with panel.db.read_session() as session:
        rows = (await session.execute(sa.text("SELECT * FROM api_tokens"))).mappings().all()
    assert len(rows) == 1
    row = dict(rows[0])
    assert not any(secret in str(value) for value in row.values())
    assert not any(secret[10:20] in str(value) for value in row.values())
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()

    client = panel.client()
    for bearer, status in (
        (row["token_hash"], 401),
        ("tdr_" + row["token_hash"], 401),
        (row["prefix"], 401),
        (secret, 200),
    ):
        headers = {"Authorization": f"Bearer {bearer}"}
        async with client.get("/api/v1/orders/1001", headers=headers) as resp:
            assert resp.status == status, bearer
            if status == 401:
                assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_a_panel_cookie_does_not_authorize_the_api(panel: Panel, seeded: Seeded) -> None:
    browser = await panel.logged_in()
    async with browser.get("/orders/1001") as resp:
        token = csrf_of(await resp.text())
    before = await status_of(panel, 1001)
    for path, body in (
        ("/api/v1/orders/1001/status", {"status": "shipped"}),
        ("/api/v1/orders/1001/payment", {"payment_status": "paid"}),
        ("/api/v1/products", [{"sku": "PROT-1", "price": "1.00"}]),
    ):
        async with browser.post(path, json=body, headers={"X-CSRF-Token": token}) as resp:
            assert resp.status == 401, path
    async with browser.get("/api/v1/orders") as resp:
        assert resp.status == 401
    assert await status_of(panel, 1001) == before
    async with panel.db.read_session() as session:
        price = await session.scalar(sa.text("SELECT price FROM products WHERE sku = 'PROT-1'"))
    assert str(price).startswith("499")


async def status_of(panel: Panel, number: int) -> tuple[str, str]:
    async with panel.db.read_session() as session:
        order = await get_order(session, number)
    return order.status, order.payment_status
