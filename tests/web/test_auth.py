"""Getting into the panel: set-up link, log-in, sessions, CSRF, rate limits, log-out."""

from __future__ import annotations

import pytest
from tendero import accounts
from tendero.settings import Settings

from tests.web.harness import OWNER_EMAIL, OWNER_PASSWORD, Panel, csrf_of, running_panel

PRIVATE_PAGES = [
    "/",
    "/orders",
    "/orders/1001",
    "/products",
    "/conversations",
    "/settings",
    "/channels",
    "/media/2026/01/receipt.jpg",
]


@pytest.mark.parametrize("path", PRIVATE_PAGES)
async def test_logged_out_browser_is_sent_to_login(panel: Panel, path: str) -> None:
    client = panel.client()
    async with client.get(path, allow_redirects=False) as resp:
        assert resp.status == 303
        location = resp.headers["Location"]
    assert location.startswith("/login?next=")
    async with client.get(location) as resp:
        assert resp.status == 200
        assert 'name="password"' in await resp.text()


async def test_logged_out_post_and_event_stream_are_refused(panel: Panel) -> None:
    client = panel.client()
    token = await panel.csrf(client)
    async with client.post(
        "/orders/1001/status", data={"csrf_token": token, "status": "processing"}
    ) as resp:
        assert resp.status == 401
    async with client.get("/orders/events", headers={"Accept": "text/event-stream"}) as resp:
        assert resp.status == 401


async def test_login_then_pages_then_logout(panel: Panel) -> None:
    client = await panel.logged_in()
    async with client.get("/orders", allow_redirects=False) as resp:
        assert resp.status == 200
        html = await resp.text()
    assert OWNER_EMAIL in html  # the log-out button names the account
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    cookie = next(c for c in client.cookie_jar if c.key == "tendero_session")
    assert cookie["httponly"] and cookie["samesite"] == "Lax"

    async with client.post(
        "/logout", data={"csrf_token": csrf_of(html)}, allow_redirects=False
    ) as resp:
        assert resp.status == 303
    async with client.get("/orders", allow_redirects=False) as resp:
        assert resp.status == 303


async def test_login_goes_back_to_the_page_asked_for_but_never_off_site(panel: Panel) -> None:
    for target, expected in (
        ("/products?q=gorra", "/products?q=gorra"),
        ("//evil.test/x", "/orders"),
    ):
        client = panel.client()
        token = await panel.csrf(client)
        async with client.post(
            "/login",
            data={
                "email": OWNER_EMAIL,
                "password": OWNER_PASSWORD,
                "next": target,
                "csrf_token": token,
            },
            allow_redirects=False,
        ) as resp:
            assert resp.headers["Location"] == expected


async def test_wrong_password_is_refused_and_attempts_are_limited(panel: Panel) -> None:
    client = panel.client()
    token = await panel.csrf(client)
    statuses = []
    for _ in range(6):
        async with client.post(
            "/login",
            data={"email": OWNER_EMAIL, "password": "wrong password!", "csrf_token": token},
            allow_redirects=False,
        ) as resp:
            statuses.append(resp.status)
            text = await resp.text()
    assert statuses == [401] * 5 + [429]
    assert resp.headers["Retry-After"].isdigit()
    assert "Too many failed attempts" in text or "Demasiados intentos" in text
    # Even the right password waits out the limit for that email.
    async with client.post(
        "/login",
        data={"email": OWNER_EMAIL, "password": OWNER_PASSWORD, "csrf_token": token},
        allow_redirects=False,
    ) as resp:
        assert resp.status == 429


async def test_post_without_csrf_token_is_refused(panel: Panel) -> None:
    client = panel.client()
    async with client.post(
        "/login", data={"email": OWNER_EMAIL, "password": OWNER_PASSWORD}, allow_redirects=False
    ) as resp:
        assert resp.status == 403
    logged = await panel.logged_in()
    async with logged.post("/logout", data={"csrf_token": "forged"}, allow_redirects=False) as resp:
        assert resp.status == 403
    async with logged.get("/orders", allow_redirects=False) as resp:
        assert resp.status == 200  # still logged in


async def test_password_change_signs_out_other_sessions(panel: Panel) -> None:
    client = await panel.logged_in()
    async with panel.db.session() as session:
        user = await accounts.authenticate(session, OWNER_EMAIL, OWNER_PASSWORD)
        assert user is not None
        user.password_hash = accounts._hasher.hash("another long password")
    async with client.get("/orders", allow_redirects=False) as resp:
        assert resp.status == 303


async def test_tampered_session_cookie_is_ignored(panel: Panel) -> None:
    client = panel.client()
    client.cookie_jar.update_cookies({"tendero_session": "gAAAAABnot-a-real-token"})
    async with client.get("/orders", allow_redirects=False) as resp:
        assert resp.status == 303


async def test_setup_link_creates_the_owner_once(settings: Settings) -> None:
    async with running_panel(settings) as panel:
        async with panel.db.session() as session:
            secret = await accounts.create_setup_token(session)
        client = panel.client()
        async with client.get("/login") as resp:
            assert "set-up link" in await resp.text() or "enlace" in await resp.text()
        async with client.get(f"/setup?token={secret}") as resp:
            assert resp.status == 200
            token = csrf_of(await resp.text())
        form = {"token": secret, "email": "Duena@Tienda.test", "csrf_token": token}
        async with client.post(
            "/setup", data={**form, "password": "short", "password_again": "short"}
        ) as resp:
            assert resp.status == 422
        async with client.post(
            "/setup",
            data={**form, "password": "a long password", "password_again": "another one!!"},
        ) as resp:
            assert resp.status == 422
        async with client.post(
            "/setup",
            data={**form, "password": "a long password", "password_again": "a long password"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/orders"
        async with client.get("/orders", allow_redirects=False) as resp:
            assert resp.status == 200
        # The link is spent: a second visitor is sent to log in.
        other = panel.client()
        async with other.get(f"/setup?token={secret}", allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/login"
        async with panel.db.session() as session:
            assert await accounts.authenticate(session, "duena@tienda.test", "a long password")


async def test_language_follows_browser_then_the_switch(panel: Panel) -> None:
    client = panel.client()
    async with client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}) as resp:
        assert "Log in to the panel" in await resp.text()
    async with client.get("/login", headers={"Accept-Language": "es-MX,es;q=0.9"}) as resp:
        assert "Inicia sesión en el panel" in await resp.text()
    async with client.get("/lang?to=en&next=/login", allow_redirects=False) as resp:
        assert resp.headers["Location"] == "/login"
    async with client.get("/login", headers={"Accept-Language": "es-MX"}) as resp:
        assert "Log in to the panel" in await resp.text()
