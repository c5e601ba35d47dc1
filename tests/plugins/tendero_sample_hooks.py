"""Plugins written both ways, sync and async, to test the calling conventions.

Each is a class so a test can register fresh instances and read what they saw.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tendero import hookimpl


class SyncPlugin:
    """Answers ``search_products`` with ``answer`` and records notifications."""

    def __init__(self, answer: Any = None) -> None:
        self.answer = answer
        self.seen: list[tuple[str, Any]] = []

    @hookimpl
    def search_products(self, query: str, limit: int) -> Any:
        self.seen.append(("search_products", query))
        return self.answer

    @hookimpl
    def order_created(self, order: dict[str, Any]) -> None:
        self.seen.append(("order_created", order["number"]))

    @hookimpl
    def register_exporters(self) -> list[str]:
        return ["sync-exporter"]


class AsyncPlugin:
    """The same, written with ``async def``."""

    def __init__(self, answer: Any = None) -> None:
        self.answer = answer
        self.seen: list[tuple[str, Any]] = []

    @hookimpl
    async def search_products(self, query: str, limit: int, catalog: Any) -> Any:
        await asyncio.sleep(0)
        self.seen.append(("search_products", query))
        return self.answer

    @hookimpl
    async def order_created(self, order: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        self.seen.append(("order_created", order["number"]))

    @hookimpl
    async def register_exporters(self) -> list[str]:
        await asyncio.sleep(0)
        return ["async-exporter"]


class FailingPlugin:
    """A notification listener that always raises."""

    @hookimpl
    async def order_created(self, order: dict[str, Any]) -> None:
        raise RuntimeError("listener down")
