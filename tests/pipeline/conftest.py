"""The app with the sample fourth channel, over a real socket, with fast polling."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from tendero.app import CHANNELS, DATABASE, create_app
from tendero.conversations.turns import AcknowledgementRunner, TurnRunner
from tendero.db import Database
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings

from tests.test_serve import free_port

PLUGINS_DIR = Path(__file__).resolve().parent.parent / "plugins"
if str(PLUGINS_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGINS_DIR))

import tendero_sample_channel  # noqa: E402

FAST = {
    "dispatcher_options": {"poll_interval": 0.05},
    "sender_options": {"poll_interval": 0.05, "base_delay": 0.01, "max_delay": 0.05},
}


@dataclass
class RunningApp:
    app: web.Application
    url: str
    client: aiohttp.ClientSession

    @property
    def channel(self) -> tendero_sample_channel.SampleChannel:
        return self.app[CHANNELS]["sample"]

    @property
    def db(self) -> Database:
        return self.app[DATABASE]

    async def post_raw(self, body: bytes, headers: dict[str, str] | None = None) -> int:
        async with self.client.post(
            f"{self.url}/webhooks/sample", data=body, headers=headers or {}
        ) as resp:
            await resp.read()
            return resp.status

    async def post(self, *events: dict[str, Any]) -> int:
        body = json.dumps({"events": list(events)}).encode()
        return await self.post_raw(
            body, {tendero_sample_channel.SIGNATURE_HEADER: tendero_sample_channel.sign(body)}
        )


def message(id: str, sender: str = "u1", text: str = "hola", **extra: Any) -> dict[str, Any]:
    return {"id": id, "from": sender, "kind": "message", "text": text, **extra}


@asynccontextmanager
async def running_app(
    settings: Settings,
    runner: TurnRunner | None = None,
    *,
    agent: bool = False,
    extra_plugins: tuple[Any, ...] = (),
    **options: Any,
) -> AsyncIterator[RunningApp]:
    """The app on a socket; turns answered by ``runner``, else the acknowledgement runner,
    or with ``agent=True`` the app's default: the real agent."""
    if runner is None and not agent:
        runner = AcknowledgementRunner()
    pm = create_plugin_manager(allow=["core"], extra=[tendero_sample_channel, *extra_plugins])
    options.setdefault("pipeline_options", FAST)
    app = create_app(settings, plugin_manager=pm, turn_runner=runner, **options)
    app_runner = web.AppRunner(app)
    await app_runner.setup()
    port = free_port()
    await web.TCPSite(app_runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as client:
            yield RunningApp(app, f"http://127.0.0.1:{port}", client)
    finally:
        await app_runner.cleanup()


async def wait_until(
    check: Callable[[], Awaitable[bool] | bool], within: float = 30, what: str = ""
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or check}")


async def count(db: Database, table: str, where: str = "") -> int:
    async with db.read_session() as session:
        sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return (await session.execute(sa.text(sql))).scalar_one()


async def settled(db: Database) -> bool:
    """No inbox row waits for a turn and no outbox row waits for delivery."""
    return (
        await count(db, "inbox_events", "status = 'pending'") == 0
        and await count(db, "outbox_messages", "status IN ('pending', 'sending')") == 0
    )


@pytest.fixture
def sample_module() -> Any:
    return tendero_sample_channel
