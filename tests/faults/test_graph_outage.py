"""The Graph API down for a while (HTTP 500, or 429 with Meta's throughput error): replies
wait in the outbox, visibly pending and not failed, and go out once each, in order, when
it recovers.

The issue asks for a two-minute outage. A real one would make the test take minutes, so
the end-to-end tests scale time down: the sender gets the delay policy through its
constructor, every delay divided by :data:`SCALE`, and the outage lasts two minutes
divided by the same factor (retries are counted, not timed, so the scaled run takes the
same path as the full-length one). Whether the *default* policy outlasts two real minutes
is checked separately, without waiting: :func:`simulated_give_up_times` runs the
sender's own backoff over ``max_attempts`` attempts.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tendero.app import DATABASE, create_app
from tendero.conversations.outbox import Sender
from tendero.conversations.turns import Reply, TurnContext
from tendero.db import Database
from tendero.db.models import Conversation, InboxEvent, Lead, Message, OutboxMessage
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings

from tests.channels.e2e import Channel, meta_channel, until
from tests.fakes import webhooks as wh

#: The outage the issue names, and how much faster the end-to-end tests run it.
OUTAGE = 120.0
SCALE = 40.0
CUSTOMERS = 5
MESSAGES = 3  # per customer, all sent while the Graph API is down

#: Meta's answers while it is down: a 500 with WhatsApp's generic error, and a 429 with
#: the per-number throughput error (meta-platforms.md §5).
FAILURES = {
    "500": (500, 131000),
    "429": (429, 130429),
}


def default_policy() -> dict[str, Any]:
    """The sender's default ``max_attempts``, ``base_delay`` and ``max_delay``."""
    parameters = inspect.signature(Sender.__init__).parameters
    return {name: parameters[name].default for name in ("max_attempts", "base_delay", "max_delay")}


def scaled(policy: dict[str, Any]) -> dict[str, Any]:
    return policy | {
        "base_delay": policy["base_delay"] / SCALE,
        "max_delay": policy["max_delay"] / SCALE,
    }


def simulated_give_up_times(
    policy: dict[str, Any], database: Database, runs: int, seed: int = 7
) -> list[float]:
    """For ``runs`` outages that never end: the seconds from a message's first failed
    attempt until the sender gives it up (the sum of the waits between its
    ``max_attempts`` attempts, drawn from the sender's own :meth:`Sender.backoff`)."""
    sender = Sender(database, {}, **policy)
    random.seed(seed)
    return [
        sum(sender.backoff(attempt) for attempt in range(1, policy["max_attempts"]))
        for _ in range(runs)
    ]


def test_the_default_retry_policy_outlasts_a_two_minute_outage(tmp_path: Path) -> None:
    unused = Database(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")  # never connected
    give_up = simulated_give_up_times(default_policy(), unused, runs=2000)
    shortest = min(give_up)
    assert shortest >= OUTAGE, (
        f"gives up after {shortest:.1f} s at the soonest "
        f"(median {statistics.median(give_up):.1f} s, longest {max(give_up):.1f} s)"
    )


class Replies:
    """Two replies per customer message, numbered, so order and duplicates show."""

    async def __call__(self, ctx: TurnContext) -> list[Reply]:
        return [Reply(text=f"{ctx.event.text}: {part}/2") for part in (1, 2)]


@dataclass
class Shop:
    channel: Channel
    db: Database
    emitter: wh.MetaWebhookEmitter

    async def statuses(self) -> dict[str, int]:
        async with self.db.read_session() as session:
            rows = await session.execute(
                sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)
            )
            return dict(rows.all())

    async def turns_done(self) -> int:
        async with self.db.read_session() as session:
            return await session.scalar(
                sa.select(sa.func.count()).where(InboxEvent.status == "done")
            )

    async def stored_replies(self, customer: str) -> list[tuple[str, str | None, str | None]]:
        """(text, delivery status, error) of the replies stored for ``customer``."""
        async with self.db.read_session() as session:
            rows = await session.execute(
                sa.select(Message.text, Message.delivery_status, Message.error)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(Lead, Lead.id == Conversation.lead_id)
                .where(Lead.platform_id == customer, Message.direction == "out")
                .order_by(Message.id)
            )
            return [tuple(r) for r in rows.all()]

    async def attempts(self) -> list[tuple[str, int, str | None]]:
        async with self.db.read_session() as session:
            rows = await session.execute(
                sa.select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.last_error)
            )
            return [tuple(r) for r in rows.all()]


@asynccontextmanager
async def shop(settings: Settings, policy: dict[str, Any]) -> AsyncIterator[Shop]:
    """The app over a socket with WhatsApp on the fake Graph API and ``policy`` for its
    sender (no send pacing: the outage is what is tested)."""
    async with meta_channel("whatsapp", settings) as channel:
        app = create_app(
            channel.settings,
            plugin_manager=create_plugin_manager(allow=["core", "whatsapp"]),
            turn_runner=Replies(),
            pipeline_options={
                "dispatcher_options": {"poll_interval": 0.05},
                "sender_options": policy
                | {"poll_interval": 0.05, "rate_limits": {"whatsapp": None}},
            },
        )
        async with (
            wh.serve(app) as base,
            wh.MetaWebhookEmitter(f"{base}/webhooks/whatsapp", channel.secret) as emitter,
        ):
            yield Shop(channel, app[DATABASE], emitter)


async def outage_then_recovery(shop: Shop, failure: str, outage: float) -> dict[str, list[str]]:
    """Take the Graph down, let every customer write while it is down, keep it down for
    ``outage`` seconds, bring it back; return the replies each customer should get."""
    status, code = FAILURES[failure]
    faults = shop.channel.faults
    faults.pending.extend([(status, code)] * 100_000)  # every send fails until cleared
    went_down = time.monotonic()
    expected: dict[str, list[str]] = {}
    for n in range(CUSTOMERS):
        customer = shop.channel.customer(n)
        for k in range(MESSAGES):
            text = f"c{n} m{k}"
            payload = shop.channel.delivery([shop.channel.text(customer, text)])
            assert (await shop.emitter.send(payload))[0] == 200
            expected.setdefault(customer, []).extend(f"{text}: {p}/2" for p in (1, 2))
    total = CUSTOMERS * MESSAGES

    async def all_turns_done() -> bool:
        return await shop.turns_done() == total

    await until(all_turns_done, within=20, what="every turn committed")
    # While it is down: the replies wait, pending (or being sent), none given up.
    while time.monotonic() - went_down < outage:
        statuses = await shop.statuses()
        assert set(statuses) <= {"pending", "sending"}, statuses
        await asyncio.sleep(outage / 20)
    assert faults.injected, "no send was attempted during the outage"
    for customer in expected:
        stored = await shop.stored_replies(customer)
        assert [text for text, _, _ in stored] == expected[customer]
        assert {status for _, status, _ in stored} == {"pending"}, stored
    retried = [row for row in await shop.attempts() if row[1] > 1]
    assert retried, "the outbox did not retry"
    assert all(str(code) in (error or "") for _, _, error in retried), retried
    faults.pending.clear()  # the Graph API is back
    return expected


async def check_delivered_once_in_order(shop: Shop, expected: dict[str, list[str]]) -> None:
    async def delivered() -> bool:
        return await shop.statuses() == {"sent": CUSTOMERS * MESSAGES * 2}

    try:
        await until(delivered, within=30, what="every reply delivered after the recovery")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: outbox {await shop.attempts()}") from None
    for customer, texts in expected.items():
        got = [shop.channel.reply_text(r) for r in shop.channel.replies_to(customer)]
        assert got == texts, customer
        stored = await shop.stored_replies(customer)
        assert {status for _, status, _ in stored} == {"sent"}, stored


@pytest.mark.parametrize("failure", sorted(FAILURES))
async def test_replies_wait_out_an_outage_and_go_once_in_order(
    failure: str, settings: Settings
) -> None:
    """The outbox's mechanics, with a policy that cannot run out of attempts here."""
    policy = {"max_attempts": 1000, "base_delay": 0.025, "max_delay": 0.25}
    async with shop(settings, policy) as running:
        expected = await outage_then_recovery(running, failure, OUTAGE / SCALE)
        await check_delivered_once_in_order(running, expected)
        print(f"\n{failure}: {len(running.channel.faults.injected)} sends refused while down")


async def test_the_default_policy_scaled_down_outlasts_the_scaled_outage(
    settings: Settings,
) -> None:
    async with shop(settings, scaled(default_policy())) as running:
        expected = await outage_then_recovery(running, "500", OUTAGE / SCALE)
        await check_delivered_once_in_order(running, expected)
