"""The real app (core, exporters, web panel + API) over a socket, with the demo store,
an API token and a plugin that records the order events it is told about."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from multidict import CIMultiDictProxy
from tendero import hookimpl
from tendero.accounts import create_api_token
from tendero.app import DATABASE, create_app
from tendero.conversations.turns import AcknowledgementRunner
from tendero.db import Database
from tendero.db.models import ApiToken, Product
from tendero.demo.store import load_demo_store
from tendero.exporting import drain
from tendero.orders import CartLine, create_order
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings
from tendero.store.service import get_published_with_version

from tests.orders.conftest import ADDRESS
from tests.test_serve import free_port


class EventRecorder:
    """A plugin that keeps every order event the app fires."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any], str, str, str]] = []

    @hookimpl
    def order_status_changed(
        self, order: dict[str, Any], old_status: str, new_status: str, actor: str
    ) -> None:
        self.events.append(("order_status_changed", order, old_status, new_status, actor))

    @hookimpl
    def payment_status_changed(
        self, order: dict[str, Any], old_status: str, new_status: str, actor: str
    ) -> None:
        self.events.append(("payment_status_changed", order, old_status, new_status, actor))


class BrokenExporter:
    """An exporter that fails halfway through (after the first bytes went out)."""

    name = "broken"
    label = "Broken"
    media_type = "text/plain"
    extension = "txt"

    async def write(self, orders: Any, rows: str, out: Any) -> int:
        out.write(b"number\n" + b"x" * 70_000)
        await drain(out)
        raise RuntimeError("disk on fire")


class BrokenExporterPlugin:
    @hookimpl
    def register_exporters(self) -> list[BrokenExporter]:
        return [BrokenExporter()]


@dataclass
class Answer:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Api:
    """The running app and a client that speaks to it with the test's token."""

    app: web.Application
    url: str
    client: aiohttp.ClientSession
    token: str
    recorder: EventRecorder
    products: list[int] = field(default_factory=list)

    @property
    def db(self) -> Database:
        return self.app[DATABASE]

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json_body: Any = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        anonymous: bool = False,
    ) -> Answer:
        sent = {} if anonymous else self.auth(token)
        sent.update(headers or {})
        if json_body is not None:
            data = json.dumps(json_body)
            sent.setdefault("Content-Type", "application/json")
        async with self.client.request(
            method, self.url + path, params=params, data=data, headers=sent
        ) as resp:
            return Answer(resp.status, resp.headers, await resp.read())

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Answer:
        return await self.request("POST", path, json_body=body, **kwargs)

    async def place(
        self,
        lines: list[tuple[int, int]] | None = None,
        *,
        method: str = "shipping",
        customer: dict[str, str] | None = None,
        channel: str = "whatsapp",
        now: datetime | None = None,
    ) -> int:
        """Create an order through the orders service; its number."""
        async with self.db.session() as session:
            store, version = await get_published_with_version(session)
            order = await create_order(
                session,
                lines=[CartLine(pid, qty) for pid, qty in (lines or [(self.products[0], 1)])],
                channel=channel,
                customer=customer
                or {
                    "name": "Ana Núñez",
                    "platform_id": "5215512345678",
                    "phone": "+52 55 1234 5678",
                    "email": "ana@example.com",
                },
                delivery_method=method,
                store=store,
                settings_version=version,
                shipping_address=ADDRESS if method == "shipping" else None,
                pickup_location=store.locations[0].name if method == "pickup" else None,
                now=now,
            )
            return order.number

    async def revoke(self, token: str) -> None:
        async with self.db.session() as session:
            await session.execute(
                sa.update(ApiToken)
                .where(ApiToken.prefix == token[:10])
                .values(revoked_at=datetime.now(UTC))
            )


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    recorder = EventRecorder()
    pm = create_plugin_manager(
        allow=["core", "exporters", "web"], extra=[recorder, BrokenExporterPlugin()]
    )
    app = create_app(settings, plugin_manager=pm, turn_runner=AcknowledgementRunner())
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        db = app[DATABASE]
        await load_demo_store(db)
        async with db.session() as session:
            issued = await create_api_token(session, "tests")
            ids = list(
                await session.scalars(
                    sa.select(Product.id)
                    .where(Product.active.is_(True), Product.stock.is_(None) | (Product.stock > 5))
                    .order_by(Product.id)
                )
            )
        async with aiohttp.ClientSession() as client:
            yield Api(app, f"http://127.0.0.1:{port}", client, issued.secret, recorder, ids)
    finally:
        await runner.cleanup()


def money(value: str) -> Decimal:
    return Decimal(value)
