"""Fixtures of the security tests: the panel on a real socket with an owner, orders to
point routes at, and helpers that turn the app's router into concrete requests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp import web
from tendero.db.models import Base
from tendero.settings import Settings

from tests.web.harness import Panel, running_panel
from tests.web.orders_data import RECEIPT_PATH, Seeded, seed_orders

API_AND_WEBHOOKS = ("/api/", "/webhooks/")


@pytest.fixture
async def panel(settings: Settings) -> AsyncIterator[Panel]:
    async with running_panel(settings) as running:
        await running.create_owner()
        yield running


@pytest.fixture
async def seeded(panel: Panel, settings: Settings) -> Seeded:
    """Orders #1001-#1004, a conversation and two products (tests.web.orders_data)."""
    return await seed_orders(panel, settings.data_dir)


@dataclass(frozen=True)
class RouteCall:
    method: str
    template: str  # the route as registered, e.g. /orders/{number}
    path: str  # a concrete path to request


def route_calls(app: web.Application, seeded: Seeded, methods: set[str]) -> Iterator[RouteCall]:
    """One concrete request per registered route with a method in ``methods``, its
    parameters filled with things that exist (an order, a product, a conversation, a
    receipt, a static file)."""
    values = {
        "number": "1002",
        "id": str(seeded.conversation_id),
        "product_id": str(seeded.protein),
        "report_id": "1",
        "path": RECEIPT_PATH.removeprefix("media/"),
        "name": "sample",
    }
    for route in app.router.routes():
        if route.method not in methods:
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        if "directory" in info:  # the static files
            path = str(app.router["static"].url_for(filename="panel.css"))
            yield RouteCall(route.method, info["prefix"], path)
            continue
        template = route.resource.canonical
        path = template
        for key, value in values.items():
            path = path.replace("{" + key + "}", value)
        assert "{" not in path, f"no test value for a parameter of {template}"
        yield RouteCall(route.method, template, path)


async def database_snapshot(panel: Panel) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, for "nothing changed" checks."""
    snapshot = {}
    async with panel.db.read_session() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(sa.select(table))).all()
            snapshot[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return snapshot


def data_files(data_dir: Path) -> set[str]:
    return {str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file()}
