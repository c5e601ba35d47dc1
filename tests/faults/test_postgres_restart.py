"""PostgreSQL goes away under load and comes back: the app reconnects by itself and
nothing is lost or done twice.

The real app runs over a real socket with the real agent (rules brain) and its
PostgreSQL checkpointer; WhatsApp customers write to it through signed webhooks, the
replies go to the fake Graph API. Its database connections — the app's pool, the
advisory-lock sessions and the checkpointer's psycopg pool — all go through a TCP proxy
(:mod:`tests.faults._pg_proxy`), because the shared PostgreSQL server must not restart.
Two faults, each in the middle of the traffic:

* a restart: every connection is cut and the port refuses new ones for a few seconds;
* ``pg_terminate_backend`` of every connection of the app's database (an operator or
  a failover killing sessions): the server ends them, new connections are welcome.

Customers behave like Meta: a delivery without a 200 (a 500, or no answer) is sent again
until it gets one. Afterwards every message is answered exactly once, every customer
got each stored reply exactly once and in order, each customer's order exists once, and
the dispatcher, the sender and the background jobs still run in the same app.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
import structlog
from aiohttp import web
from tendero.app import DATABASE, TURN_RUNNER
from tendero.builtin import EXPIRY_TASK
from tendero.conversations.pipeline import PIPELINE
from tendero.db import Database
from tendero.db.models import Conversation, InboxEvent, Lead, Message, Order, OutboxMessage
from tendero.settings import Settings
from tendero.store.document import Workflow

from tests.agent.test_agent_runner import seed
from tests.channels.e2e import Channel, meta_channel
from tests.conftest import fresh_postgres_database
from tests.fakes.webhooks import MetaWebhookEmitter

from ._pg_proxy import PgProxy

pytestmark = pytest.mark.slow

CUSTOMERS = 8
#: What each customer says: small talk, a product question, then a pickup order.
SCRIPT = (
    "hola",
    "tienen proteína?",
    "quiero 1 proteína whey chocolate",
    "es todo",
    "sí",
    "gracias",
)
#: How long the outage lasts, and when it starts: once this share of the deliveries
#: went out (by progress, not time: a quiet machine sends them all within a second).
DOWN_FOR = 3.0
FAULT_AFTER_SHARE = 1 / 3


@pytest.fixture(autouse=True)
def plain_tracebacks() -> Iterator[None]:
    """Log exceptions as ``tendero serve`` does (plain tracebacks). structlog's default
    renders each one with rich and every frame's locals: seconds per traceback, with the
    event loop stopped, while this test logs dozens of connection errors."""
    saved = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S.%f"),
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ]
    )
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_postgres_database("h_faults_b") as url:
        yield url


@pytest.fixture
async def proxy(pg_url: str) -> AsyncIterator[PgProxy]:
    target = sa.make_url(pg_url)
    proxy = PgProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


@dataclass
class Delivery:
    customer: str
    wamid: str
    payload: dict[str, Any]
    statuses: list[int] = field(default_factory=list)


class Traffic:
    """Customers writing one message after another, each delivery redelivered (like
    Meta) until it gets a 200. ``halfway`` is set once ``fault_at`` deliveries went out."""

    def __init__(self, channel: Channel, url: str, fault_at: int = 1) -> None:
        self.channel = channel
        self.url = url
        self.deliveries: list[Delivery] = []
        self.fault_at = fault_at
        self.halfway = asyncio.Event()

    async def run(self, customers: list[str], gap: float = 0.15) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            emitter = MetaWebhookEmitter(self.url, self.channel.secret, http=http)
            await asyncio.gather(*(self._customer(emitter, c, gap) for c in customers))

    async def _customer(self, emitter: MetaWebhookEmitter, customer: str, gap: float) -> None:
        for text in SCRIPT:
            event = self.channel.text(customer, text)
            delivery = Delivery(customer, event["id"], self.channel.delivery([event]))
            self.deliveries.append(delivery)
            if len(self.deliveries) >= self.fault_at:
                self.halfway.set()
            while True:
                try:
                    status, _ = await emitter.send(delivery.payload)
                except (aiohttp.ClientError, OSError, TimeoutError):
                    status = 0
                delivery.statuses.append(status)
                if status == 200:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(gap)

    def refused(self) -> list[Delivery]:
        """Deliveries that got something other than a 200 at least once."""
        return [d for d in self.deliveries if any(s != 200 for s in d.statuses)]


@asynccontextmanager
async def shop_app(channel: Channel) -> AsyncIterator[tuple[web.Application, str]]:
    """The app with the real agent, on a socket; yields it and its webhook URL."""
    async with channel.running(agent=True, unthrottled=True) as live:
        yield live.app, live.emitter.base_url


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if await check():
                return
        except Exception:  # the checker's own connection may be cut by the fault too
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def settled(db: Database, wamids: set[str]) -> bool:
    async with db.read_session() as session:
        done = set(
            (
                await session.execute(
                    sa.select(InboxEvent.platform_message_id).where(InboxEvent.status == "done")
                )
            ).scalars()
        )
        unsent = (
            await session.execute(
                sa.select(sa.func.count()).where(OutboxMessage.status.in_(("pending", "sending")))
            )
        ).scalar_one()
    return wamids <= done and unsent == 0


async def stored_outbound(db: Database) -> dict[str, list[str]]:
    """Each customer's stored replies, in order."""
    async with db.read_session() as session:
        rows = await session.execute(
            sa.select(Lead.platform_id, Message.text)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Lead, Lead.id == Conversation.lead_id)
            .where(Message.direction == "out")
            .order_by(Message.id)
        )
        out: dict[str, list[str]] = {}
        for customer, text in rows:
            out.setdefault(customer, []).append(text or "")
        return out


def graph_text(body: dict[str, Any]) -> str:
    if body.get("type") == "text":
        return body["text"]["body"]
    if body.get("type") == "interactive":
        return body["interactive"]["body"]["text"]
    return ""


async def play_with_fault(channel: Channel, fault: Callable[[], Awaitable[None]]) -> Traffic:
    """Run the customers, hit the database with ``fault`` in the middle, and check that
    nothing was lost or done twice; see the module doc."""
    customers = [channel.customer(n) for n in range(1, CUSTOMERS + 1)]
    async with shop_app(channel) as (app, url):
        db: Database = app[DATABASE]
        pipeline = app[PIPELINE]
        traffic = Traffic(channel, url, int(len(customers) * len(SCRIPT) * FAULT_AFTER_SHARE))
        load = asyncio.create_task(traffic.run(customers))
        await asyncio.wait_for(traffic.halfway.wait(), 60)
        in_flight = len(traffic.deliveries)
        await fault()
        await asyncio.wait_for(load, 120)
        assert len(traffic.deliveries) > in_flight  # traffic went on after the fault
        wamids = {d.wamid for d in traffic.deliveries}
        # Within seconds of the database coming back (each pool notices its dead
        # connections on its own), not after a lease or a restart.
        await until(lambda: settled(db, wamids), 30, "every message answered")

        # Reconnected by itself: the same app, its loops and jobs alive.
        for task in pipeline._tasks:
            assert not task.done(), task
        assert not app[EXPIRY_TASK].done()
        assert app[TURN_RUNNER]._prune_task is None or not app[TURN_RUNNER]._prune_task.done()
        async with aiohttp.ClientSession() as http:
            async with http.get(url.replace("/webhooks/whatsapp", "/healthz")) as response:
                assert response.status == 200

        # Every message got its 200 in the end, exactly once in the inbox and messages.
        assert all(d.statuses[-1] == 200 for d in traffic.deliveries)
        async with db.read_session() as session:
            inbox = Counter(
                (await session.execute(sa.select(InboxEvent.platform_message_id))).scalars()
            )
            inbound = Counter(
                (
                    await session.execute(
                        sa.select(Message.platform_message_id).where(Message.direction == "in")
                    )
                ).scalars()
            )
            orders = Counter(
                (
                    await session.execute(
                        sa.select(Lead.platform_id)
                        .join(Conversation, Conversation.lead_id == Lead.id)
                        .join(Order, Order.conversation_id == Conversation.id)
                    )
                ).scalars()
            )
        assert {w: inbox[w] for w in wamids} == dict.fromkeys(wamids, 1)
        assert {w: inbound[w] for w in wamids} == dict.fromkeys(wamids, 1)
        assert orders == dict.fromkeys(customers, 1)

        # The pipeline still takes new work after the fault.
        late = channel.text(customers[0], "hola otra vez")
        async with aiohttp.ClientSession() as http:
            status, _ = await MetaWebhookEmitter(url, channel.secret, http=http).send(
                channel.delivery([late])
            )
        assert status == 200
        await until(lambda: settled(db, {late["id"]}), 30, "a message after the fault")

        # Each customer got every stored reply once, in order: none lost, none twice.
        stored = await stored_outbound(db)
    twice: dict[str, list[str]] = {}
    for customer in customers:
        got = [graph_text(r.json) for r in channel.replies_to(customer)]
        assert len(stored[customer]) >= len(SCRIPT)
        assert not Counter(stored[customer]) - Counter(got), f"{customer}: replies lost"
        if got != stored[customer]:
            twice[customer] = list((Counter(got) - Counter(stored[customer])).elements())
            # Apart from the repeats, what was sent is what was stored, in order.
            assert [t for t in got if t not in twice[customer]] == [
                t for t in stored[customer] if t not in twice[customer]
            ]
    if twice:
        raise RepliedTwice(f"replies sent twice: {twice}")
    return traffic


class RepliedTwice(AssertionError):
    """A customer got one of their stored replies more than once."""


#: The checkpointer's read of a conversation's latest checkpoint.
CHECKPOINT_READ = re.compile(rb"(?i)from checkpoints\b")


class NeverAnswered(AssertionError):
    """A customer's message was given up although only the database had failed."""


#: The sender's statement that records replies as sent (only it sets ``sent_at``).
MARK_SENT = re.compile(rb"UPDATE outbox_messages SET [^\x00]*sent_at=")


@pytest.fixture
async def channel(tmp_path: Path, pg_url: str, proxy: PgProxy) -> AsyncIterator[Channel]:
    settings = Settings(data_dir=tmp_path / "data", database_url=proxy.url(pg_url), _env_file=None)  # type: ignore[call-arg]
    db = Database(pg_url)
    try:
        await seed(db, workflow=Workflow.PICKUP_ONLY, locations=1)
    finally:
        await db.dispose()
    async with meta_channel("whatsapp", settings) as channel:
        yield channel


async def test_a_postgres_restart_under_load_loses_nothing_and_does_nothing_twice(
    channel: Channel, proxy: PgProxy
) -> None:
    cuts: list[int] = []

    async def restart() -> None:
        cuts.append(await proxy.restart(DOWN_FOR))

    traffic = await play_with_fault(channel, restart)
    assert cuts and cuts[0] > 0  # the app had open connections, and lost them
    # Webhooks that came while nothing could be stored got an error, and came again.
    assert traffic.refused()


async def test_terminated_backends_under_load_lose_nothing_and_do_nothing_twice(
    channel: Channel, pg_url: str
) -> None:
    killed: list[int] = []
    name = sa.make_url(pg_url).database

    async def terminate() -> None:
        admin = Database(pg_url)
        try:
            for _ in range(3):  # again while the app reconnects
                async with admin.session() as session:
                    result = await session.execute(
                        sa.text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = :name AND pid <> pg_backend_pid()"
                        ),
                        {"name": name},
                    )
                    killed.append(int(result.scalar_one()))
                await asyncio.sleep(0.7)
        finally:
            await admin.dispose()

    await play_with_fault(channel, terminate)
    assert killed[0] > 0


async def say_hola(channel: Channel, url: str, customer: str) -> dict[str, Any]:
    """One signed "hola" from ``customer``, acknowledged with a 200; its event."""
    event = channel.text(customer, "hola")
    async with aiohttp.ClientSession() as http:
        status, _ = await MetaWebhookEmitter(url, channel.secret, http=http).send(
            channel.delivery([event])
        )
    assert status == 200
    return event


async def test_a_reply_whose_sent_mark_is_cut_off_is_not_sent_again(
    channel: Channel, proxy: PgProxy
) -> None:
    # The database goes away exactly while the sender records replies the Graph API has
    # just accepted: they went out, and must not go out again.
    proxy.cut_at(MARK_SENT)
    customer = channel.customer(1)
    async with shop_app(channel) as (app, url):
        db: Database = app[DATABASE]
        event = await say_hola(channel, url, customer)
        # The sender records the send again once the database is back; were the row left
        # ``sending``, the next drain (at the latest after its 30 s lease) would resend it.
        await until(lambda: settled(db, {event["id"]}), 45, "the reply")
        assert proxy.cut_at_done.is_set()
        stored = (await stored_outbound(db))[customer]
    got = [graph_text(r.json) for r in channel.replies_to(customer)]
    assert stored and not Counter(stored) - Counter(got)
    if got != stored:
        raise RepliedTwice(f"sent {got}, stored {stored}")


async def test_turns_cut_off_by_the_database_are_retried_until_it_is_back(
    channel: Channel, proxy: PgProxy
) -> None:
    # The checkpointer's connection dies in five turns in a row (the app's own pool
    # survives, so each failure can be recorded): the message waits for the database,
    # it is not given up as if the turn itself were broken.
    proxy.cut_at(CHECKPOINT_READ, times=5)
    customer = channel.customer(1)
    async with shop_app(channel) as (app, url):
        db: Database = app[DATABASE]
        event = await say_hola(channel, url, customer)
        await asyncio.wait_for(proxy.cut_at_done.wait(), 30)

        async def status() -> str | None:
            async with db.read_session() as session:
                return await session.scalar(
                    sa.select(InboxEvent.status).where(
                        InboxEvent.platform_message_id == event["id"]
                    )
                )

        async def answered_or_given_up() -> bool:
            return await status() in ("done", "failed")

        await until(answered_or_given_up, 30, "the turn to end")
        if await status() == "failed":
            raise NeverAnswered("the message was marked failed after the database came back")
        await until(lambda: settled(db, {event["id"]}), 30, "the reply to go out")
    assert channel.replies_to(customer)
