"""The "shipped" / "ready for pickup" chat message, end to end on WhatsApp, Messenger and
Instagram: a customer writes through a Meta-signed webhook, the merchant moves the order
through the orders service, and the message reaches the fake Graph API — or, outside
the 24-hour window, stays unsent and the order says so. Each test runs once per channel,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from aiohttp import web
from tendero.app import DATABASE, PLUGINS, create_app
from tendero.conversations.turns import AcknowledgementRunner
from tendero.db.models import Conversation, Lead, Message, OutboxMessage
from tendero.db.types import utcnow
from tendero.notifications.plugin import NOTIFIER
from tendero.orders import change_status, get_order, order_transaction
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings

from tests.channels.e2e import FAST, Channel, Live, meta_channel, until
from tests.fakes import webhooks as wh

from .conftest import (
    CUSTOMER,
    add_product,
    notifying_app,
    place_order,
    publish_store,
    store_document,
)

DISPLAY_NAMES = {"whatsapp": "WhatsApp", "facebook": "Facebook Messenger", "instagram": "Instagram"}


@pytest.fixture(params=["whatsapp", "facebook", "instagram"])
async def channel(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Channel]:
    async with meta_channel(request.param, settings) as meta:
        yield meta


@asynccontextmanager
async def running(channel: Channel) -> AsyncIterator[Live]:
    """The real app on a socket with the channel's plugin and the notifications plugin."""
    pm = create_plugin_manager(allow=["core", "notifications", channel.name])
    app = create_app(
        channel.settings,
        plugin_manager=pm,
        turn_runner=AcknowledgementRunner(),
        pipeline_options=FAST,
    )
    async with (
        wh.serve(app) as base,
        wh.MetaWebhookEmitter(f"{base}/webhooks/{channel.name}", channel.secret) as emitter,
    ):
        yield Live(app, emitter)


async def customer_writes(channel: Channel, live: Live, customer: str) -> Conversation:
    """The customer says hello (and gets the acknowledgement); their conversation."""
    payload = channel.delivery([channel.text(customer, "Hola, ¿ya salió mi pedido?")])
    assert (await live.emitter.send(payload))[0] == 200
    await until(lambda: channel.replies_to(customer), what="the acknowledgement")
    await until(live.settled, what="inbox and outbox settled")
    [conversation] = await live.rows(Conversation)
    return conversation


async def order_for(live: Live, channel: Channel, conversation: Conversation, method: str) -> int:
    await publish_store(live.db, store_document("es"))
    product = await add_product(live.db)
    order = await place_order(
        live.app,
        product,
        method=method,
        channel=channel.name,
        customer={**CUSTOMER, "platform_id": conversation.lead.platform_id},
        lead_id=conversation.lead_id,
        conversation_id=conversation.id,
    )
    return int(order["number"])


async def merchant_moves(app: web.Application, number: int, *statuses: str) -> None:
    for status in statuses:
        async with order_transaction(app[DATABASE], app[PLUGINS]) as session:
            await change_status(session, number, status, actor="merchant", actor_name="dueña")
    await app[NOTIFIER].drain()


async def test_a_shipped_order_is_told_to_the_customer_in_the_chat(channel: Channel) -> None:
    ana = channel.customer(1)
    async with running(channel) as live:
        conversation = await customer_writes(channel, live, ana)
        number = await order_for(live, channel, conversation, "shipping")

        await merchant_moves(live.app, number, "processing")
        assert len(await live.rows(OutboxMessage)) == 1  # "processing" tells nobody

        await merchant_moves(live.app, number, "shipped")
        await until(lambda: len(channel.replies_to(ana)) == 2, what="the status message")
        await until(live.settled, what="the status message delivered")

        update = channel.replies_to(ana)[-1]
        assert channel.reply_text(update) == "¡Tu pedido #1001 ya va en camino! 📦"
        [*_, row] = await live.rows(OutboxMessage)
        assert (row.status, row.body["recipient_id"]) == ("sent", ana)
        [message] = await live.rows(Message, Message.id == row.message_id)
        assert (message.author, message.direction, message.delivery_status) == (
            "system",
            "out",
            "sent",
        )
        async with live.db.read_session() as session:
            assert (await get_order(session, number)).notes == []


async def test_outside_the_24_hour_window_the_order_notes_it_could_not_be_sent(
    channel: Channel,
) -> None:
    ana = channel.customer(1)
    async with running(channel) as live:
        conversation = await customer_writes(channel, live, ana)
        async with live.db.session() as session:
            await session.execute(
                sa.update(Conversation)
                .where(Conversation.id == conversation.id)
                .values(last_inbound_at=utcnow() - timedelta(hours=24, minutes=5))
            )
        number = await order_for(live, channel, conversation, "pickup")

        await merchant_moves(live.app, number, "preparing", "ready_for_pickup")

        assert len(await live.rows(OutboxMessage)) == 1  # only the acknowledgement
        assert len(channel.replies_to(ana)) == 1
        async with live.db.read_session() as session:
            [note] = (await get_order(session, number)).notes
    assert note.author == "system"
    assert note.text == (
        "No se pudo avisar al cliente por chat que su pedido está listo para recoger: pasaron "
        f"más de 24 horas desde su último mensaje y {DISPLAY_NAMES[channel.name]} solo permite "
        "escribirle dentro de ese plazo. Avísale por otro medio."
    )


@pytest.mark.parametrize(
    ("linked", "reason"),
    [
        (False, "el pedido no está ligado a una conversación"),
        (True, "el canal WhatsApp no está configurado"),
    ],
)
async def test_an_order_nobody_can_be_written_to_about_gets_a_note(
    settings: Settings, linked: bool, reason: str
) -> None:
    async with notifying_app(settings) as app:
        db = app[DATABASE]
        await publish_store(db, store_document("es"))
        product = await add_product(db)
        lead_id = conversation_id = None
        if linked:  # a WhatsApp conversation, but WhatsApp has no credentials here
            async with db.session() as session:
                lead = Lead(channel="whatsapp", platform_id=CUSTOMER["platform_id"])
                session.add(lead)
                await session.flush()
                conversation = Conversation(
                    lead_id=lead.id, channel="whatsapp", last_inbound_at=utcnow()
                )
                session.add(conversation)
                await session.flush()
                lead_id, conversation_id = lead.id, conversation.id
        order = await place_order(app, product, lead_id=lead_id, conversation_id=conversation_id)
        await merchant_moves(app, order["number"], "processing", "shipped")
        async with db.read_session() as session:
            [note] = (await get_order(session, order["number"])).notes
            assert await session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert note.text == (
        f"No se pudo avisar al cliente por chat que su pedido ya va en camino: {reason}. "
        "Avísale por otro medio."
    )
