"""Security headers on every kind of answer: every GET route of the router (logged in
and out), errors (400, 404, 500), static files, receipts, the API, webhooks, the live
event stream. And pages need no inline script, so the policy breaks nothing."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import aiohttp
from aiohttp import web
from tendero import accounts, hookimpl
from tendero.settings import Settings

from tests.security.conftest import route_calls
from tests.web.harness import Panel, running_panel
from tests.web.orders_data import Seeded


def check_headers(resp: aiohttp.ClientResponse, what: str) -> None:
    headers = resp.headers
    policy = headers.get("Content-Security-Policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    script = directives.get("script-src", directives.get("default-src"))
    assert script is not None, f"{what}: no script policy in {policy!r}"
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(script), f"{what}: {policy}"
    assert directives.get("frame-ancestors") == ["'none'"], f"{what}: {policy}"
    assert directives.get("object-src") == ["'none'"], f"{what}: {policy}"
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), what


async def get(client: aiohttp.ClientSession, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
    """GET ``path`` and read the body (an event stream: only the headers)."""
    resp = await client.get(path, allow_redirects=False, **kwargs)
    if resp.content_type != "text/event-stream":
        await resp.read()
    resp.close()
    return resp


async def test_every_get_route_carries_the_headers(panel: Panel, seeded: Seeded) -> None:
    async with panel.db.session() as session:
        token = (await accounts.create_api_token(session, "headers")).secret
    logged_in = await panel.logged_in()
    logged_out = panel.client()
    calls = list(route_calls(panel.app, seeded, {"GET"}))
    assert {"/orders", "/orders/{number}", "/media/{path}", "/api/v1/orders"} <= {
        call.template for call in calls
    }
    statuses = {}
    for call in calls:
        bearer = {"Authorization": f"Bearer {token}"} if call.path.startswith("/api/") else {}
        for who, client in (("in", logged_in), ("out", logged_out)):
            resp = await get(client, call.path, headers=bearer)
            statuses[(who, call.template)] = resp.status
            assert resp.status < 500, f"{call.path} ({who}): {resp.status}"
            check_headers(resp, f"GET {call.path} (logged {who})")
    # The walk reached the real pages, files and API answers, not only redirects.
    assert statuses[("in", "/orders/{number}")] == 200
    assert statuses[("in", "/media/{path}")] == 200
    assert statuses[("in", "/orders/events")] == 200
    assert statuses[("in", "/static")] == 200
    assert statuses[("in", "/api/v1/orders")] == 200
    assert statuses[("out", "/orders")] == 303


class Boom:
    """A plugin route that fails, for the 500 answer."""

    @hookimpl
    def register_routes(self, app: web.Application) -> None:
        async def boom(request: web.Request) -> web.Response:
            raise RuntimeError("a bug")

        app.router.add_get("/boom", boom)
        app.router.add_get("/api/v1/boom", boom)


async def test_error_answers_carry_the_headers(settings: Settings) -> None:
    async with running_panel(settings, extra_plugins=(Boom(),)) as panel:
        await panel.create_owner()
        client = await panel.logged_in()
        cases = [
            ("/no-such-page", 404),
            ("/orders/99999", 404),
            ("/static/no-such-file.css", 404),
            ("/api/v1/no-such-thing", 404),
            ("/api/v1/orders", 401),
            ("/webhooks/no-such-channel", 404),
            ("/boom", 500),
            ("/healthz", 200),
        ]
        for path, status in cases:
            resp = await get(client, path)
            assert resp.status == status, path
            check_headers(resp, path)
        async with panel.db.session() as session:
            token = (await accounts.create_api_token(session, "t")).secret
        bearer = {"Authorization": f"Bearer {token}"}
        for path, status in (
            ("/api/v1/orders?status=nonsense", 400),
            ("/api/v1/orders/99999", 404),
            ("/api/v1/boom", 500),
        ):
            resp = await get(client, path, headers=bearer)
            assert resp.status == status, path
            assert resp.content_type == "application/json"
            check_headers(resp, path)
        # Webhooks: a POST with a bad signature, and an unknown channel.
        for path, status in (("/webhooks/sample", 403), ("/webhooks/nope", 404)):
            resp = await client.post(path, data=b"{}", headers={"X-Sample-Signature": "x"})
            await resp.read()
            assert resp.status in (status, 401), path
            check_headers(resp, f"POST {path}")


class ScriptFinder(HTMLParser):
    """Inline scripts, ``on...=`` handlers and ``javascript:`` links of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            self._in_script = "src" not in named
        for name, value in attrs:
            if name.startswith("on"):
                self.inline.append(f"<{tag} {name}=...>")
            if value and re.match(r"\s*javascript:", value, re.I):
                self.inline.append(f"<{tag} {name}={value}>")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"<script>{data[:40]}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


async def test_pages_have_no_inline_script(panel: Panel, seeded: Seeded) -> None:
    client = await panel.logged_in()
    pages = 0
    for call in route_calls(panel.app, seeded, {"GET"}):
        if call.path.startswith(("/api/", "/webhooks/", "/orders/events")):
            continue
        resp = await client.get(call.path)
        if resp.content_type != "text/html":
            resp.close()
            continue
        finder = ScriptFinder()
        finder.feed(await resp.text())
        assert finder.inline == [], f"{call.path}: {finder.inline}"
        pages += 1
    assert pages >= 8
