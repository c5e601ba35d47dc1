"""WriteGate: ingress waiting for SQLite's single writer goes before background work."""

from __future__ import annotations

import asyncio

from tendero.conversations.gate import WriteGate


async def test_urgent_waiters_go_before_queued_background_work() -> None:
    gate = WriteGate()
    order: list[str] = []
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.background():
            await release.wait()

    async def work(name: str, urgent: bool) -> None:
        async with gate.urgent() if urgent else gate.background():
            order.append(name)

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(work(f"bg{i}", False)) for i in range(3)]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(work("webhook", True)))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(holder, *tasks)
    assert order == ["webhook", "bg0", "bg1", "bg2"]


async def test_a_cancelled_waiter_does_not_keep_the_gate() -> None:
    gate = WriteGate()
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.background():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(gate.urgent().__aenter__())
    await asyncio.sleep(0)
    waiter.cancel()
    release.set()
    await holder
    async with asyncio.timeout(1), gate.background():
        pass


async def test_disabled_gate_lets_everyone_through() -> None:
    gate = WriteGate(enabled=False)
    async with gate.background(), gate.urgent():
        pass
