"""The lifecycle the fake outside services share: their aiohttp app on a free loopback
port, started and stopped with ``async with``."""

from __future__ import annotations

import asyncio
from typing import Self

from aiohttp import web


class LoopbackServer:
    """Serves ``self.app`` on 127.0.0.1. ``closing`` is set when it stops, so handlers
    that stall on purpose (a hung service) let go at once."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._port = 0

    def before_start(self) -> None:
        """Last routes to add before serving (e.g. a catch-all)."""

    async def start(self) -> Self:
        self.before_start()
        self._runner = web.AppRunner(self.app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        self._closing.set()  # releases stalled requests
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if not self._port:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._port}"
