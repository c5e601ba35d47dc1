"""WhatsApp end to end: Meta-signed deliveries → ``POST /webhooks/whatsapp`` on the real app
over a socket → the pipeline → the acknowledgement at the fake Graph API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from aiohttp import web
from tendero.app import DATABASE, create_app
from tendero.conversations.turns import AcknowledgementRunner
from tendero.db.models import InboxEvent, Message
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings

from tests.fakes import graph_whatsapp as wa
from tests.fakes.graph import FakeGraph
from tests.fakes.webhooks import MetaWebhookEmitter, handshake_passed

PHONE_ID = "106540352242922"
TOKEN = "EAAG-whatsapp-token"
SECRET = "wa-app-secret"
VERIFY = "wa-verify-token"
ANA = "5215512345678"
BSUID = "MX.1502576394655843"


@dataclass
class Live:
    graph: FakeGraph
    fake: wa.FakeWhatsApp
    emitter: MetaWebhookEmitter
    app: web.Application
    number: wa.Number

    def customer_message(self, customer: str, text: str, *, bsuid: bool = False) -> dict:
        """A delivery with one customer text, registered with the fake (window, read)."""
        message = wa.text_message(customer, text, bsuid=bsuid)
        self.fake.inbound(PHONE_ID, customer, message["id"])
        return wa.delivery(
            wa.change(
                self.number,
                messages=[message],
                contacts=[wa.contact(customer, "Ana Núñez 🌷", bsuid=bsuid)],
            )
        )

    async def rows(self, model: type) -> list:
        async with self.app[DATABASE].session() as session:
            return list((await session.execute(sa.select(model))).scalars())


async def wait_for(check: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[Live]:
    graph = FakeGraph()
    fake = wa.install_whatsapp(graph)
    await graph.start()
    number = fake.add_number(PHONE_ID, TOKEN)
    app_settings = settings.model_copy(
        update={
            "graph_api_url": graph.url,
            "whatsapp_app_secret": SECRET,
            "whatsapp_verify_token": VERIFY,
            "whatsapp_access_token": TOKEN,
            "whatsapp_phone_number_id": PHONE_ID,
        }
    )
    fast = {"poll_interval": 0.05}
    app = create_app(
        app_settings,
        plugin_manager=create_plugin_manager(allow=["whatsapp"]),
        turn_runner=AcknowledgementRunner(),
        pipeline_options={
            "dispatcher_options": fast,
            "sender_options": {**fast, "base_delay": 0.01, "max_delay": 0.05},
        },
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with MetaWebhookEmitter(
            f"http://127.0.0.1:{port}/webhooks/whatsapp", SECRET
        ) as emitter:
            yield Live(graph, fake, emitter, app, number)
    finally:
        await runner.cleanup()
        await graph.stop()


async def test_handshake_right_and_wrong_token(live: Live) -> None:
    assert handshake_passed(await live.emitter.handshake(VERIFY, "1158201444"), "1158201444")
    status, _ = await live.emitter.handshake("not-the-token", "1158201444")
    assert status == 403


async def test_bad_missing_and_sha1_only_signatures_store_nothing(live: Live) -> None:
    payload = live.customer_message(ANA, "¿Tienen envío a Mérida? 🚚")
    for send in (
        live.emitter.send_tampered,
        live.emitter.send_unsigned,
        live.emitter.send_sha1_only,
        live.emitter.send_wrong_secret,
        live.emitter.send_reserialised,
    ):
        status, _ = await send(payload)
        assert status == 403, send.__name__
    await asyncio.sleep(0.2)
    assert await live.rows(InboxEvent) == []
    assert live.graph.sent == []


async def test_a_message_delivered_three_times_is_answered_once(live: Live) -> None:
    payload = live.customer_message(ANA, "Hola, ¿tienen el vestido azul en talla M? 👗")
    assert (await live.emitter.send(payload))[0] == 200
    results = await asyncio.gather(live.emitter.send(payload), live.emitter.send(payload))
    assert [status for status, _ in results] == [200, 200]

    await wait_for(lambda: len(live.fake.messages_to(ANA)) >= 1)
    await asyncio.sleep(0.3)  # room for a wrong second answer to show up
    (reply,) = live.fake.messages_to(ANA)
    assert reply.json["to"] == ANA and "Gracias" in reply.json["text"]["body"]
    # The turn started by marking the message read, with the typing indicator.
    assert [r.json["message_id"] for r in live.fake.read_receipts] == [
        payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    ]
    assert len(await live.rows(InboxEvent)) == 1

    # Statuses for the reply arrive out of order; the message ends up "read".
    wamid = reply.response["messages"][0]["id"]
    now = int(time.time())
    statuses = [
        wa.status_item(wamid, ANA, "read", timestamp=now + 2),
        wa.status_item(wamid, ANA, "delivered", timestamp=now + 1),
    ]
    assert (await live.emitter.send(wa.delivery(wa.change(live.number, statuses=statuses))))[
        0
    ] == 200
    out = [m for m in await live.rows(Message) if m.platform_message_id == wamid]
    assert [m.delivery_status for m in out] == ["read"]


async def test_a_bsuid_customer_is_answered_by_recipient(live: Live) -> None:
    payload = live.customer_message(BSUID, "olá, quero comprar", bsuid=True)
    assert (await live.emitter.send(payload))[0] == 200
    await wait_for(lambda: len(live.fake.messages_to(BSUID)) >= 1)
    (reply,) = live.fake.messages_to(BSUID)
    assert reply.json["recipient"] == BSUID and "to" not in reply.json
    assert live.fake.dropped == []
