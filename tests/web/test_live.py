"""Live updates of the Orders page: the event stream, new orders from the database, shutdown."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from tendero.app import PLUGINS
from tendero.orders import Customer
from tendero.plugins import notify
from tendero.settings import Settings
from tendero_web.views import live

from tests.orders.conftest import add_product, place
from tests.web.harness import Panel, running_panel
from tests.web.orders_data import SCRIPT_NAME, publish_store

STREAM = {"Accept": "text/event-stream"}


async def next_event(resp: aiohttp.ClientResponse, wait: float = 10) -> tuple[str, Any]:
    """The next named event of the stream (comments and ``retry`` are skipped)."""
    name, data = "", ""
    async with asyncio.timeout(wait):
        while True:
            line = (await resp.content.readline()).decode()
            if not line:
                raise EOFError("the stream ended")
            line = line.rstrip("\n")
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
            elif line == "" and name:
                return name, json.loads(data)


async def read_until(resp: aiohttp.ClientResponse, prefix: bytes, wait: float = 10) -> None:
    async with asyncio.timeout(wait):
        while not (await resp.content.readline()).startswith(prefix):
            pass


async def test_logged_out_streams_are_refused(panel: Panel) -> None:
    async with panel.client().get("/orders/events", headers=STREAM) as resp:
        assert resp.status == 401


async def test_bad_filters_are_refused(panel: Panel) -> None:
    client = await panel.logged_in()
    async with client.get("/orders/events?status=bogus", headers=STREAM) as resp:
        assert resp.status == 400
        assert "bogus" in await resp.text()


async def test_an_order_created_elsewhere_reaches_the_open_page(panel: Panel) -> None:
    store = await publish_store(panel)
    product = await add_product(panel.db, "Té verde", "100.00", stock=None)
    await place(panel.db, store, [(product, 1)])  # #1001, before the page opened
    client = await panel.logged_in()
    async with client.get("/orders/events", headers=STREAM) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        await read_until(resp, b"retry:")
        # Created by the core service straight in the database, as another process would.
        await place(
            panel.db, store, [(product, 2)], channel="instagram", customer=Customer(SCRIPT_NAME)
        )
        name, order = await next_event(resp)
        assert name == "order" and order["number"] == 1002
        row = order["html"]
        assert 'data-number="1002"' in row and 'aria-label="Instagram"' in row
        assert SCRIPT_NAME not in row and "&lt;script&gt;alert(1)&lt;/script&gt;" in row
        name, counters = await next_event(resp)
        assert name == "counters"
        assert counters["new_orders"] == "2"


async def test_an_order_created_in_this_process_wakes_the_feed_at_once(panel: Panel) -> None:
    store = await publish_store(panel)
    product = await add_product(panel.db, "Té verde", "100.00", stock=None)
    panel.app[live.LIVE_FEED].poll_interval = 120  # only the hook can be this quick
    client = await panel.logged_in()
    async with client.get("/orders/events", headers=STREAM) as resp:
        await read_until(resp, b"retry:")
        await place(panel.db, store, [(product, 1)])
        await notify(panel.app[PLUGINS], "order_created", order={"number": 1001})
        name, order = await next_event(resp, wait=5)
        assert name == "order" and order["number"] == 1001


async def test_only_orders_matching_the_page_filters_are_sent(panel: Panel) -> None:
    store = await publish_store(panel)
    product = await add_product(panel.db, "Té verde", "100.00", stock=None)
    client = await panel.logged_in()
    async with client.get("/orders/events?channel=instagram&q=rosa", headers=STREAM) as resp:
        await read_until(resp, b"retry:")
        await place(panel.db, store, [(product, 1)], channel="whatsapp", customer=Customer("Rosa"))
        await place(panel.db, store, [(product, 1)], channel="instagram", customer=Customer("Leo"))
        await place(panel.db, store, [(product, 1)], channel="instagram", customer=Customer("Rosa"))
        name, order = await next_event(resp)
        assert (name, order["number"]) == ("order", 1003)
        name, counters = await next_event(resp)
        assert name == "counters" and counters["new_orders"] == "1"


async def test_several_new_orders_arrive_oldest_first(panel: Panel) -> None:
    store = await publish_store(panel)
    product = await add_product(panel.db, "Té verde", "100.00", stock=None)
    client = await panel.logged_in()
    async with client.get("/orders/events", headers=STREAM) as resp:
        await read_until(resp, b"retry:")
        for _ in range(3):
            await place(panel.db, store, [(product, 1)])
        seen: list[int] = []
        while len(seen) < 3:
            name, data = await next_event(resp)
            if name == "order":
                seen.append(data["number"])
        assert seen == [1001, 1002, 1003]


async def test_heartbeats_keep_the_stream_open(
    panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "HEARTBEAT", 0.2)
    client = await panel.logged_in()
    async with client.get("/orders/events", headers=STREAM) as resp:
        await read_until(resp, b": keep-alive", wait=5)


async def test_the_app_shuts_down_promptly_with_a_stream_open(settings: Settings) -> None:
    browser = None
    try:
        async with running_panel(settings) as panel:
            await panel.create_owner()
            client = await panel.logged_in()
            # A client the harness does not close first, like a browser left open.
            browser = aiohttp.ClientSession(panel.url, cookie_jar=client.cookie_jar)
            resp = await browser.get("/orders/events", headers=STREAM)
            assert resp.status == 200
            await read_until(resp, b"retry:")
            started = time.monotonic()
        assert time.monotonic() - started < 5
        async with asyncio.timeout(5):
            assert (await resp.content.read()).strip() == b""  # the server ended the stream
    finally:
        if browser is not None:
            await browser.close()
