"""The panel on a real socket, and clients that log in through its forms like a browser.

``running_panel(settings)`` serves the app with the core, web and exporters plugins
(plus the sample channel and any extra plugins); ``Panel.client()`` is an aiohttp client
with its own cookie jar; ``Panel.logged_in()`` logs it in through ``/login``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from tendero import accounts
from tendero.app import DATABASE, create_app
from tendero.conversations.turns import AcknowledgementRunner, TurnRunner
from tendero.db import Database
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings

from tests.test_serve import free_port

PLUGINS_DIR = Path(__file__).resolve().parent.parent / "plugins"
if str(PLUGINS_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGINS_DIR))

import tendero_sample_channel  # noqa: E402

OWNER_EMAIL = "owner@tienda.test"
OWNER_PASSWORD = "correct horse battery"
FAST = {
    "dispatcher_options": {"poll_interval": 0.05},
    "sender_options": {"poll_interval": 0.05, "base_delay": 0.01, "max_delay": 0.05},
}
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a panel page carries in its ``<meta name="csrf-token">``."""
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


async def log_in(
    client: aiohttp.ClientSession, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD
) -> None:
    """Log ``client`` in through the log-in form, as a browser does."""
    async with client.get("/login") as resp:
        token = csrf_of(await resp.text())
    async with client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        allow_redirects=False,
    ) as resp:
        assert resp.status == 303, await resp.text()


@dataclass
class Panel:
    app: web.Application
    url: str
    clients: list[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def db(self) -> Database:
        return self.app[DATABASE]

    def client(self) -> aiohttp.ClientSession:
        """A new browser-like client: its own cookies, redirects not followed."""
        session = aiohttp.ClientSession(
            self.url, cookie_jar=aiohttp.CookieJar(unsafe=True), raise_for_status=False
        )
        self.clients.append(session)
        return session

    async def create_owner(self, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD) -> None:
        async with self.db.session() as session:
            await accounts.create_user(session, email, password, is_owner=True)

    async def csrf(self, client: aiohttp.ClientSession, path: str = "/login") -> str:
        async with client.get(path) as resp:
            return csrf_of(await resp.text())

    async def logged_in(
        self, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD
    ) -> aiohttp.ClientSession:
        """A client logged in through the log-in form (the owner must exist)."""
        client = self.client()
        await log_in(client, email, password)
        return client

    async def post_form(
        self, client: aiohttp.ClientSession, path: str, data: dict[str, Any], page: str
    ) -> aiohttp.ClientResponse:
        """POST ``data`` with the CSRF token read from ``page`` (not followed)."""
        token = await self.csrf(client, page)
        return await client.post(path, data={**data, "csrf_token": token}, allow_redirects=False)


@asynccontextmanager
async def running_panel(
    settings: Settings,
    *,
    runner: TurnRunner | None = None,
    extra_plugins: tuple[Any, ...] = (),
    **options: Any,
) -> AsyncIterator[Panel]:
    pm = create_plugin_manager(
        allow=["core", "web", "exporters"], extra=[tendero_sample_channel, *extra_plugins]
    )
    app = create_app(
        settings,
        plugin_manager=pm,
        turn_runner=runner or AcknowledgementRunner(),
        pipeline_options=FAST,
        **options,
    )
    app_runner = web.AppRunner(app)
    await app_runner.setup()
    port = free_port()
    await web.TCPSite(app_runner, "127.0.0.1", port).start()
    panel = Panel(app, f"http://127.0.0.1:{port}")
    try:
        yield panel
    finally:
        for client in panel.clients:
            await client.close()
        await app_runner.cleanup()
