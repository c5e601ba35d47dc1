"""The agent in the running app (sample channel, real sockets, SQLite and PostgreSQL):
one graph superstep per turn, checkpoints that survive a restart, the handoff pause, a
plugin's checkout step, receipts, language per conversation and the brain choice."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from tendero import hookimpl
from tendero.agent.graph import build_graph
from tendero.agent.runner import HANDOFF_PAUSE, AgentRunner, make_brain
from tendero.app import TURN_RUNNER
from tendero.catalog import Catalog
from tendero.channels.base import EventKind, InboundEvent, MessageLimits
from tendero.conversations.turns import LeadInfo, TurnContext
from tendero.db import Database
from tendero.db.models import Conversation, Order
from tendero.db.types import utcnow
from tendero.orders import get_order, order_detail_to_json
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings
from tendero.store.service import publish_document

from tests.agent.test_actions import make_store
from tests.pipeline.conftest import RunningApp, message, running_app, settled, wait_until

_ids = itertools.count(1)


async def order_json(db: Database, number: int) -> dict[str, Any]:
    async with db.read_session() as session:
        return order_detail_to_json(await get_order(session, number))


async def seed(db: Database, **store: Any) -> dict[str, int]:
    async with db.session() as session:
        await publish_document(session, make_store(**store))
    catalog = Catalog(db)
    products = {}
    for sku, name, price, stock, attrs in (
        ("WHEY-CHO", "Proteína Whey Chocolate 2 lb", "899", 10, {"sabor": "chocolate"}),
        ("WHEY-VAN", "Proteína Whey Vainilla 2 lb", "899", 10, {"sabor": "vainilla"}),
        ("CAP-NEG", "Gorra Negra", "250", 3, {"color": "negro"}),
    ):
        view = await catalog.create(
            sku=sku, name=name, price=Decimal(price), stock=stock, attributes=attrs
        )
        products[sku] = view.id
    return products


class Chat:
    """One customer talking to the running app; :meth:`say` returns the reply texts."""

    def __init__(self, app: RunningApp, customer: str = "ana") -> None:
        self.app = app
        self.customer = customer

    async def send(self, **item: Any) -> list[str]:
        before = len(self.app.channel.sent)
        event = message(f"m{next(_ids)}", self.customer, **item)
        assert await self.app.post(event) == 200
        await wait_until(lambda: settled(self.app.db), what="the turn")
        return [m.text for m in self.app.channel.sent[before:]]

    async def say(self, text: str) -> str:
        return "\n".join(await self.send(text=text))


@pytest.fixture
async def shop(db: Database) -> dict[str, int]:
    return await seed(db)


async def test_a_turn_is_one_graph_superstep() -> None:
    graph = build_graph(None)
    nodes = [n for n in graph.get_graph().nodes if not n.startswith("__")]
    assert nodes == ["respond"]


async def test_checkout_survives_a_restart(
    settings: Settings, db: Database, shop: dict[str, int]
) -> None:
    async with running_app(settings, agent=True, database=db) as app:
        chat = Chat(app)
        first = await chat.say("hola, tienen proteina de chocolate?")
        assert "Proteína Whey Chocolate 2 lb" in first
        assert "Agregué 2 × Proteína Whey Chocolate 2 lb" in await chat.say("dame 2")
        assert "recibir" in await chat.say("listo")  # asks shipping or pickup
    # A new process: the same conversation resumes at the delivery question.
    async with running_app(settings, agent=True, database=db) as app:
        chat = Chat(app)
        reply = await chat.say("a domicilio")
        assert "correo" in reply.lower()  # the shipping details are asked next
        reply = await chat.say(
            "ana@example.com, Insurgentes Sur 1602, col. Crédito Constructor, 03940, CDMX"
        )
        assert "$1,798.00" in reply and "¿Confirmo tu pedido?" in reply
        reply = await chat.say("si")
        assert "#1001" in reply
    order = await order_json(db, 1001)
    assert order["delivery_method"] == "shipping"
    assert order["shipping_address"]["postal_code"] == "03940"
    assert [(i["sku"], i["quantity"]) for i in order["items"]] == [("WHEY-CHO", 2)]


async def test_receipt_image_sets_proof_received(settings: Settings, db: Database) -> None:
    await seed(db, advance_percent=50)
    async with running_app(settings, agent=True, database=db) as app:
        chat = Chat(app)
        await chat.say("hola, quiero una gorra negra")
        await chat.say("eso es todo")
        await chat.say("paso a recoger")
        reply = await chat.say("Centro")
        assert "Anticipo (50%): $125.00" in reply
        reply = await chat.say("sí")
        assert "#1001" in reply and "$125.00" in reply  # the deposit is what is due now
        replies = await chat.send(text="", image="receipt-1")
        assert "#1001" in "\n".join(replies)
    order = await order_json(db, 1001)
    assert order["payment_status"] == "proof_received"
    assert len(order["receipts"]) == 1


async def test_handoff_pauses_the_agent_and_tells_plugins(
    settings: Settings, db: Database, shop: dict[str, int]
) -> None:
    calls: list[dict[str, Any]] = []

    class Watcher:
        @hookimpl
        def conversation_needs_human(self, conversation: Any, reason: str) -> None:
            calls.append({"conversation": conversation, "reason": reason})

    async with running_app(settings, agent=True, database=db, extra_plugins=(Watcher(),)) as app:
        chat = Chat(app)
        await chat.say("hola")
        reply = await chat.say("quiero hablar con una persona")
        assert "persona" in reply.lower() or "equipo" in reply.lower()
        assert await chat.send(text="¿hola?") == []  # silent while a person takes over
        async with db.read_session() as session:
            conversation = (await session.execute(sa.select(Conversation))).scalar_one()
        assert conversation.needs_human
        paused_for = conversation.agent_paused_until - utcnow()
        assert HANDOFF_PAUSE - timedelta(minutes=1) < paused_for <= HANDOFF_PAUSE
        # 15 minutes without merchant activity: the agent answers again.
        async with db.session() as session:
            await session.execute(
                sa.update(Conversation).values(agent_paused_until=utcnow() - timedelta(seconds=1))
            )
        assert "Proteína Whey Vainilla 2 lb" in await chat.say("tienen proteina de vainilla")
    assert len(calls) == 1 and calls[0]["reason"] == "customer_request"
    assert calls[0]["conversation"]["platform_id"] == "ana"


class TaxIdStep:
    """A plugin's checkout step: the invoice tax id, asked before the confirmation."""

    name = "tax_id"
    order = 700
    fields = ("rfc",)

    def applies(self, state: Any) -> bool:
        return state.checkout

    def missing(self, state: Any) -> list[str]:
        return [] if state.extra.get("rfc") else ["rfc"]


class TaxIdPlugin:
    @hookimpl
    def register_checkout_steps(self, workflow: str) -> list[Any]:
        return [TaxIdStep()]


async def test_a_plugin_checkout_step_is_asked_and_kept(
    settings: Settings, db: Database, shop: dict[str, int]
) -> None:
    async with running_app(
        settings, agent=True, database=db, extra_plugins=(TaxIdPlugin(),)
    ) as app:
        chat = Chat(app)
        await chat.say("hola, quiero una gorra negra")
        await chat.say("listo")
        await chat.say("la recojo en tienda")
        reply = await chat.say("Roma Norte")
        assert "rfc" in reply.lower()  # the plugin's field is asked before the read-back
        reply = await chat.say("XAXX010101000")
        assert "¿Confirmo tu pedido?" in reply
        assert "#1001" in await chat.say("sí")
    async with db.read_session() as session:
        order = (await session.execute(sa.select(Order))).unique().scalar_one()
        number = order.number
    details = await order_json(db, number)
    assert any("rfc: XAXX010101000" in note["text"] for note in details["notes"])


async def test_language_follows_the_customer(
    settings: Settings, db: Database, shop: dict[str, int]
) -> None:
    async with running_app(settings, agent=True, database=db) as app:
        en = Chat(app, "bob")
        reply = await en.say("hi, do you have chocolate protein?")
        assert "Proteína Whey Chocolate 2 lb" in reply and "MX$899.00" in reply
        es = Chat(app, "carla")
        assert "$899.00" in await es.say("hola, tienen proteína de chocolate?")
        # A tapped choice keeps the language; the English customer stays in English.
        assert "added" in (await en.say("the first one")).lower()
    async with db.read_session() as session:
        languages = dict(
            (await session.execute(sa.select(Conversation.id, Conversation.language))).all()
        )
    assert sorted(languages.values()) == ["en", "es"]


async def test_unreadable_messages_get_a_polite_reply(
    settings: Settings, db: Database, shop: dict[str, int]
) -> None:
    async with running_app(settings, agent=True, database=db) as app:
        chat = Chat(app)
        await chat.say("hola")
        replies = await chat.send(text="", image="broken")  # media that cannot be fetched
        assert replies and all(r.strip() for r in replies)


async def test_history_is_a_bounded_window(
    settings: Settings, db: Database, shop: dict[str, int]
) -> None:
    async with running_app(settings, agent=True, database=db) as app:
        runner = app.app[TURN_RUNNER]
        chat = Chat(app)
        for i in range(10):
            await chat.say(f"tienen gorra? {i}")
        async with db.read_session() as session:
            conversation_id = (await session.execute(sa.select(Conversation.id))).scalar_one()
        saved = await runner.graph.aget_state({"configurable": {"thread_id": str(conversation_id)}})
        history = saved.values["history"]
        assert len(history) == 12
        assert history[-2]["text"] == "tienen gorra? 9" and history[-1]["role"] == "agent"
        json.dumps(saved.values)  # plain JSON only


def test_the_brain_follows_the_settings(settings: Settings) -> None:
    assert make_brain(settings).name == "rules"
    with_model = settings.model_copy(
        update={"llm_model": "openai:gpt-4.1-mini", "llm_base_url": "http://127.0.0.1:9/v1"}
    )
    assert make_brain(with_model).name == "llm"


async def test_many_conversations_at_once_are_all_answered(
    settings: Settings, db: Database, shop: dict[str, int]
) -> None:
    """More turns in flight than the read pool has connections: a turn must not hold a
    connection while it waits for another (that deadlocked the pool)."""
    async with running_app(settings, agent=True, database=db) as app:
        customers = [f"c{i}" for i in range(12)]
        events = [message(f"burst-{c}", c, text="hola, quiero una gorra negra") for c in customers]
        assert await app.post(*events) == 200
        await wait_until(lambda: settled(app.db), within=60, what="every turn")
        answered = {m.recipient_id for m in app.channel.sent}
        assert answered == set(customers)
        added = {m.recipient_id for m in app.channel.sent if "1 × Gorra Negra" in m.text}
        assert added == set(customers)  # a cart takes no stock; only an order does


async def test_a_handoff_reaches_the_merchant_by_email(
    settings: Settings, db: Database, shop: dict[str, int]
) -> None:
    """The agent's handoff event through the real notifications plugin: without SMTP
    the merchant's email is written as an .eml file in the data folder."""
    from tendero.notifications import plugin as notifications

    settings = settings.model_copy(update={"merchant_email": "duena@tienda.example"})
    async with running_app(
        settings, agent=True, database=db, extra_plugins=(notifications,)
    ) as app:
        chat = Chat(app)
        await chat.say("hola, tienen gorra negra?")
        await chat.say("quiero hablar con una persona")
        mail = settings.data_dir / "mail"
        await wait_until(lambda: any(mail.glob("*.eml")), what="the merchant's email")
    text = "\n".join(p.read_text(errors="replace") for p in mail.glob("*.eml"))
    assert "duena@tienda.example" in text and "hablar con una persona" in text


async def test_a_turn_run_again_starts_from_the_state_before_it(
    settings: Settings, db: Database
) -> None:
    """The checkpoint is saved when the graph run ends, before the dispatcher commits the
    turn's replies; a turn run again after a crash in between (or a failed commit) must
    not take the customer's message in twice."""
    import tendero_sample_echo_graph as echo  # tests/plugins, on the path

    pm = create_plugin_manager(allow=["core"], extra=[echo])
    runner = AgentRunner(settings, db, pm, prune_interval=None)
    await runner.start()

    async def turn(message_id: str, text: str) -> list[str]:
        event = InboundEvent(
            channel="sample",
            kind=EventKind.MESSAGE,
            message_id=message_id,
            customer_id="ana",
            timestamp=utcnow(),
            text=text,
        )
        async with db.read_session() as session:
            ctx = TurnContext(
                conversation_id=7,
                channel="sample",
                lead=LeadInfo(id=1, name="Ana", platform_id="ana"),
                event=event,
                limits=MessageLimits(max_text_length=1000),
                session=session,
                settings=settings,
            )
            return [reply.text for reply in await runner(ctx)]

    try:
        assert await turn("m1", "hola") == ["hola #1"]
        assert await turn("m1", "hola") == ["hola #1"]  # its first turn, again
        assert await turn("m2", "y") == ["y #2"]
        assert await turn("m2", "y") == ["y #2"]
        assert await turn("m2", "y") == ["y #2"]
        assert await turn("m3", "z") == ["z #3"]
    finally:
        await runner.close()
