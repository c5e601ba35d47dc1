"""SIGKILL ``tendero serve`` in the middle of a stream of conversations, and restart it.

Many customers at once talk to the real ``tendero serve`` (rules brain, the demo store,
WhatsApp against the fake Graph API) through scripted conversations that each end in an
order. The process is killed with SIGKILL several times, at different points of the
stream, and started again on the same data folder and database; deliveries that got no
200 meanwhile are delivered again, as Meta does. Then (:func:`tests.faults._serve.verify`):

* every inbound message has exactly one inbox row, and its turn was committed once;
* every turn was answered, and what the customer got after each message is exactly the
  replies stored for that turn, in order (a reply sent again because the process died
  between the Graph's 200 and recording it is counted and reported: the Graph has no
  idempotency key, so the outbox sends at least once);
* every conversation has exactly one order, and it holds what the customer said before
  and after the kills (items, delivery, address or branch, email): checkout continued
  where it was.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.faults._serve import SCRIPTS, Customer, Deliverer, ServeProcess, play, shop
from tests.test_plugins import install_distribution

CONVERSATIONS = 16
#: Kill when this share of all messages has been taken: early (searches and picks),
#: mid-checkout, and when the confirmations come in.
KILL_AT = (0.2, 0.5, 0.85)


async def kill_and_restart(server: ServeProcess, deliverer: Deliverer, total: int) -> list[int]:
    """SIGKILL at each point of :data:`KILL_AT` and start again right away; returns how
    many deliveries had been taken at each kill."""
    killed_at = []
    for share in KILL_AT:
        await deliverer.wait_posted(int(total * share))
        await asyncio.sleep(0.05)  # let the turns of the latest messages start
        killed_at.append(deliverer.posted)
        await server.kill()
        await server.start()
    return killed_at


@pytest.mark.slow
@pytest.mark.timeout(420)
@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_sigkill_mid_stream_answers_each_message_once_and_keeps_every_order(
    engine: str, tmp_path: Path
) -> None:
    async with shop(engine, tmp_path) as (channel, server, url):
        customers = [Customer(channel, n, SCRIPTS[n % len(SCRIPTS)]) for n in range(CONVERSATIONS)]
        total = sum(len(c.script.says) for c in customers)
        killed_at: list[int] = []

        async def killer(deliverer: Deliverer) -> None:
            killed_at.extend(await kill_and_restart(server, deliverer, total))

        outcome = await play(customers, server, channel, url, beside=killer)
        assert server.kills == len(KILL_AT)
        print(
            f"\n{engine}: {CONVERSATIONS} conversations, {outcome.messages} messages in "
            f"{outcome.seconds:.1f} s; killed after {killed_at} deliveries; "
            f"{outcome.redelivered} deliveries redelivered (non-200: "
            f"{sorted(set(outcome.statuses))}); {outcome.resends} replies sent again"
        )


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_sigkill_between_the_order_and_the_reply_keeps_one_order(
    engine: str, tmp_path: Path
) -> None:
    """The narrowest point: the confirmation's order is committed, its turn is not (a
    plugin's ``order_created`` hook is still running when the process dies). The turn
    runs again after the restart; the customer must still end up with one order and one
    confirmation."""
    site = tmp_path / "site"
    install_distribution(
        site,
        "tendero-sample-slow-order-hook",
        "1.0",
        {"zz-slow-order-hook": "tendero_sample_slow_order_hook"},
    )
    announced = tmp_path / "orders.log"
    extra = {
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT / "tests" / "plugins")]),
        "TENDERO_SAMPLE_ORDER_HOOK_LOG": str(announced),
        "TENDERO_SAMPLE_ORDER_HOOK_DELAY": "60",
    }
    async with shop(engine, tmp_path, **extra) as (channel, server, url):
        customers = [Customer(channel, n, script) for n, script in enumerate(SCRIPTS)]

        async def kill_inside_the_hook(_: Deliverer) -> None:
            while True:
                if announced.exists() and announced.read_text().strip():
                    break
                await asyncio.sleep(0.02)
            await server.kill()
            server.env["TENDERO_SAMPLE_ORDER_HOOK_DELAY"] = "0"
            await server.start()

        outcome = await play(customers, server, channel, url, beside=kill_inside_the_hook)
        assert server.kills == 1
        print(f"\n{engine}: orders announced {announced.read_text().split()}; {outcome}")
