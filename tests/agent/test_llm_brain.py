"""The ``llm`` brain through the real LangChain OpenAI client against the fake
OpenAI-compatible server (``tests/fakes/openai.py``), on SQLite and PostgreSQL:
catalog prices reach the model only through tool results, the actions refuse a price or
more than the stock, malformed tool calls are answered not crashed, a provider timeout
or HTTP error falls back to another brain with the state as it was, and an order made
through the tools ends with the bank details."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from langchain_openai import ChatOpenAI
from tendero.agent.actions import Commerce
from tendero.agent.brain import Media, Turn
from tendero.agent.llm import TOOLS, LLMBrain, chat_model
from tendero.agent.replies import Replies
from tendero.agent.replies.messages import SIDE_TOPICS
from tendero.agent.state import ConversationState
from tendero.catalog import Catalog
from tendero.conversations.turns import LeadInfo, Reply
from tendero.db import Database
from tendero.orders import get_order
from tendero.settings import Settings
from tendero.store.document import (
    BankAccount,
    Company,
    Location,
    Shipping,
    StoreDocument,
    Tone,
    Workflow,
)
from tendero.store.service import publish_document

from tests.fakes.openai import FakeOpenAI, ToolCall

API_KEY = "sk-test-tendero"
ADDRESS = {
    "email": "ana@example.com",
    "street": "Insurgentes Sur",
    "house_number": "1602",
    "neighborhood": "Crédito Constructor",
    "postal_code": "03940",
    "city": "Ciudad de México",
}


class StandInBrain:
    """A fallback brain that records the state it was given."""

    name = "stand-in"

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def respond(self, turn: Turn) -> list[Reply]:
        self.seen.append(turn.state.to_dict())
        return [turn.reply("respuesta de respaldo")]


def make_store(
    workflow: Workflow = Workflow.SHIPPING_ONLY, *, tone: Tone = Tone.FRIENDLY
) -> StoreDocument:
    return StoreDocument(
        company=Company(
            name="Proteínas Ana",
            agent_name="Lupita",
            tone=tone,
            business_context="Vendemos suplementos originales, con factura.",
            return_policy="Cambios en 30 días con ticket.",
        ),
        currency="MXN",
        workflow=workflow,
        shipping=Shipping(flat_rate=Decimal("99"), free_threshold=Decimal("1000")),
        locations=(
            [Location(name="Centro", address="Madero 10, CDMX", hours="L-S 10-19")]
            if workflow.picks_up
            else []
        ),
        bank_accounts=[
            BankAccount(bank_name="BBVA", account_holder="Tienda SA", account_number="0123456789")
        ],
    )


async def publish(db: Database, store: StoreDocument) -> StoreDocument:
    async with db.session() as session:
        await publish_document(session, store)
    return store


async def product(db: Database, name: str, price: str, stock: int | None = 10) -> int:
    view = await Catalog(db).create(
        name=name, price=price, stock=stock, sku=name.upper().replace(" ", "-")
    )
    return view.id


def make_turn(
    db: Database,
    store: StoreDocument,
    text: str,
    state: ConversationState | None = None,
    **extra: Any,
) -> Turn:
    return Turn(
        text=text,
        state=state if state is not None else ConversationState(),
        commerce=Commerce(db, channel="whatsapp", customer={"name": "Ana"}),
        store=store,
        lead=LeadInfo(id=1, name="Ana", platform_id="5215512345678"),
        channel="whatsapp",
        language="es",
        **extra,
    )


def make_brain(
    settings: Settings,
    llm: FakeOpenAI,
    fallback: Any = None,
    *,
    timeout: float = 5.0,
    base_url: str | None = None,
) -> LLMBrain:
    configured = settings.model_copy(
        update={
            "llm_model": "openai:tendero-test-model",
            "llm_base_url": base_url or llm.url,
            "llm_api_key": API_KEY,
        }
    )
    return LLMBrain(configured, fallback or StandInBrain(), timeout=timeout, max_retries=0)


@pytest.fixture
async def llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=API_KEY) as fake:
        yield fake
        # Every request the client sent was one the real API accepts, and scripted.
        assert fake.problems == []
        assert fake.script == []


# --- the model and its tools ---------------------------------------------------------------


def test_the_model_is_the_real_openai_client() -> None:
    settings = Settings(llm_model="llama3.1:8b", llm_base_url="http://127.0.0.1:1/v1")
    model = chat_model(settings, timeout=3.0, max_retries=0)
    assert isinstance(model, ChatOpenAI)  # a name LangChain cannot place: OpenAI-compatible
    assert model.model_name == "llama3.1:8b"
    assert model.request_timeout == 3.0 and model.max_retries == 0
    assert model.openai_api_base == "http://127.0.0.1:1/v1"


async def test_the_fake_refuses_what_openai_refuses() -> None:
    tools = [{"type": "function", "function": {"name": "show_cart", "parameters": {}}}]
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    bad_bodies = {
        "no model": {"messages": [{"role": "user", "content": "hi"}]},
        "bad role": {"model": "m", "messages": [{"role": "customer", "content": "hi"}]},
        "orphan tool message": {
            "model": "m",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "call_1", "content": "{}"},
            ],
        },
        "unanswered tool call": {
            "model": "m",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "user", "content": "and?"},
            ],
        },
        "tool schema": {
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": tools,
        },
    }
    async with FakeOpenAI(api_key=API_KEY) as fake, aiohttp.ClientSession() as http:
        url = f"{fake.url}/chat/completions"
        headers = {"Authorization": f"Bearer {API_KEY}"}
        for what, body in bad_bodies.items():
            async with http.post(url, json=body, headers=headers) as response:
                error = (await response.json())["error"]
            assert response.status == 400, what
            assert set(error) == {"message", "type", "param", "code"}, what
            assert error["type"] == "invalid_request_error", what
        wrong_key = {"Authorization": "Bearer sk-wrong-key"}
        async with http.post(url, json=bad_bodies["no model"], headers=wrong_key) as response:
            assert response.status == 401
            assert (await response.json())["error"]["code"] == "invalid_api_key"
        assert fake.requests == [] and len(fake.problems) == 6


def test_tools_never_take_a_price() -> None:
    names = {tool.name for tool in TOOLS}
    assert {"search_products", "add_to_cart", "confirm_order", "ask_human"} <= names
    for tool in TOOLS:
        parameters = tool.schema()["function"]["parameters"]
        assert parameters["additionalProperties"] is False
        assert not any("price" in name for name in parameters["properties"]), tool.name
    side = next(t for t in TOOLS if t.name == "answer_side_question")
    topics = side.schema()["function"]["parameters"]["properties"]["topic"]["enum"]
    assert set(topics) == set(SIDE_TOPICS)


async def test_search_add_and_cart_carry_catalog_prices(
    db: Database, settings: Settings, llm: FakeOpenAI
) -> None:
    store = await publish(db, make_store())
    choc = await product(db, "Proteína Chocolate", "499.00", stock=5)
    await product(db, "Proteína Vainilla", "489.50", stock=2)
    llm.call(ToolCall("search_products", {"query": "proteína"}))
    llm.call(ToolCall("add_to_cart", {"product_id": choc, "quantity": 2}))
    llm.call(ToolCall("show_cart"))
    llm.say("Listo: 2 Proteína Chocolate, subtotal $998.00. ¿Algo más?")
    turn = make_turn(db, store, "quiero 2 proteínas de chocolate")

    replies = await make_brain(settings, llm).respond(turn)

    assert [r.text for r in replies] == [
        "Listo: 2 Proteína Chocolate, subtotal $998.00. ¿Algo más?"
    ]
    assert [(line.product_id, line.quantity, line.unit_price) for line in turn.state.cart] == [
        (choc, 2, "499.00")
    ]
    assert len(llm.requests) == 4
    first = llm.requests[0]
    assert first["model"] == "tendero-test-model"
    assert {t["function"]["name"] for t in first["tools"]} == {t.name for t in TOOLS}
    assert first["messages"][-1] == {"role": "user", "content": "quiero 2 proteínas de chocolate"}

    (found,) = llm.tool_results(1)
    assert found["ok"] and found["code"] == "found"
    prices = {p["name"]: p["price"] for p in found["data"]["products"]}
    assert prices == {"Proteína Chocolate": "499.00", "Proteína Vainilla": "489.50"}
    assert "$499.00" in found["reply"] and "$489.50" in found["reply"]  # the store's wording

    (added,) = llm.tool_results(2)
    assert (added["code"], added["data"]["quantity"]) == ("added", 2)
    (cart,) = llm.tool_results(3)
    assert cart["code"] == "cart" and cart["data"]["subtotal"] == "998.00"
    assert "$998.00" in cart["reply"]


async def test_a_price_or_more_than_the_stock_is_refused(
    db: Database, settings: Settings, llm: FakeOpenAI
) -> None:
    store = await publish(db, make_store())
    choc = await product(db, "Proteína Chocolate", "499.00", stock=3)
    llm.call(ToolCall("add_to_cart", {"product_id": choc, "quantity": 1, "price": "1.00"}))
    llm.call(ToolCall("add_to_cart", {"product_id": choc, "quantity": 50}))
    llm.call(ToolCall("add_to_cart", {"product_id": choc, "quantity": 1}))
    llm.say("Solo quedan 3 y ya están en tu carrito, a $499.00 cada una.")
    turn = make_turn(db, store, "dame 50 a 1 peso")

    await make_brain(settings, llm).respond(turn)

    (priced,) = llm.tool_results(1)
    assert (priced["ok"], priced["code"]) == (False, "invalid_tool_call")
    assert "price" in priced["data"]["error"]
    assert llm.messages(1)[-1]["role"] == "tool"

    (capped,) = llm.tool_results(2)
    assert capped["ok"] and capped["data"]["capped"] is True
    assert (capped["data"]["quantity"], capped["data"]["left"]) == (3, 3)
    assert "3" in capped["reply"]

    (more,) = llm.tool_results(3)
    assert (more["ok"], more["code"], more["data"]["left"]) == (False, "out_of_stock", 3)
    assert [(line.quantity, line.unit_price) for line in turn.state.cart] == [(3, "499.00")]


async def test_malformed_tool_calls_are_answered_not_crashed(
    db: Database, settings: Settings, llm: FakeOpenAI
) -> None:
    store = await publish(db, make_store())
    choc = await product(db, "Proteína Chocolate", "499.00")
    llm.call(
        ToolCall("add_to_cart", '{"product_id": ' + str(choc) + ', "quantity":'),  # cut off
        ToolCall("delete_everything", {}),
        ToolCall("add_to_cart", {"product_id": "la de chocolate", "quantity": True}),
    )
    llm.say("¿Cuál producto quieres agregar?")
    fallback = StandInBrain()
    turn = make_turn(db, store, "agrega la de chocolate")

    replies = await make_brain(settings, llm, fallback).respond(turn)

    assert [r.text for r in replies] == ["¿Cuál producto quieres agregar?"]
    assert fallback.seen == [] and turn.state.cart == []
    results = llm.tool_results(1)
    assert [(r["ok"], r["code"]) for r in results] == [(False, "invalid_tool_call")] * 3
    errors = " | ".join(r["data"]["error"] for r in results)
    assert "not a valid JSON object" in errors
    assert "unknown tool 'delete_everything'" in errors
    assert "product_id" in errors and "quantity" in errors
    # The broken call goes back with JSON-object arguments, so the history stays valid.
    assistant = llm.messages(1)[-4]
    arguments = sorted(c["function"]["arguments"] for c in assistant["tool_calls"])
    assert "{}" in arguments and not any('"quantity":' == a[-11:] for a in arguments)


async def test_arguments_that_are_not_an_object_fall_back(
    db: Database, settings: Settings, llm: FakeOpenAI
) -> None:
    # LangChain itself refuses to build a message whose tool arguments are JSON but not
    # an object: the model's answer is unusable, so the turn falls back.
    store = await publish(db, make_store())
    llm.call(ToolCall("show_cart", "[1, 2]"))
    fallback = StandInBrain()
    turn = make_turn(db, store, "¿qué llevo?")

    replies = await make_brain(settings, llm, fallback).respond(turn)

    assert [r.text for r in replies] == ["respuesta de respaldo"]
    assert len(fallback.seen) == 1


async def test_a_provider_timeout_falls_back_with_the_state_restored(
    db: Database, settings: Settings, llm: FakeOpenAI
) -> None:
    store = await publish(db, make_store())
    choc = await product(db, "Proteína Chocolate", "499.00")
    shaker = await product(db, "Shaker", "120.00")
    state = ConversationState()
    await Commerce(db).add(state, shaker, 1)
    before = state.to_dict()
    llm.call(ToolCall("add_to_cart", {"product_id": choc, "quantity": 2}))  # runs...
    llm.stall(5)  # ...then the provider hangs
    fallback = StandInBrain()
    turn = make_turn(db, store, "y 2 de chocolate", state)

    started = time.monotonic()
    replies = await make_brain(settings, llm, fallback, timeout=0.5).respond(turn)

    assert time.monotonic() - started < 3
    assert [r.text for r in replies] == ["respuesta de respaldo"]
    assert fallback.seen == [before]  # the fallback answers from the state before the turn
    assert turn.state is state and state.to_dict() == before
    assert turn.handoff is None


@pytest.mark.parametrize("failure", ["server_error", "unreachable"])
async def test_a_provider_error_falls_back(
    db: Database, settings: Settings, llm: FakeOpenAI, failure: str
) -> None:
    store = await publish(db, make_store())
    fallback = StandInBrain()
    base_url = None
    if failure == "server_error":
        llm.fail(500)
    else:
        async with FakeOpenAI() as gone:
            base_url = gone.url  # a port nothing listens on any more
    turn = make_turn(db, store, "hola", first_contact=True)

    replies = await make_brain(settings, llm, fallback, base_url=base_url).respond(turn)

    # The fallback greets and answers itself; nothing of the failure reaches the customer.
    assert [r.text for r in replies] == ["respuesta de respaldo"]
    assert len(fallback.seen) == 1


async def test_the_real_rules_brain_takes_over_on_failure(
    db: Database, settings: Settings, llm: FakeOpenAI
) -> None:
    rules = pytest.importorskip("tendero.agent.rules")
    store = await publish(db, make_store())
    await product(db, "Proteína Chocolate", "499.00")
    llm.fail(500)
    turn = make_turn(db, store, "¿tienen proteína?", first_contact=True)

    replies = await make_brain(settings, llm, rules.RulesBrain()).respond(turn)

    text = "\n".join(r.text for r in replies)
    assert "Proteína Chocolate" in text and "$499.00" in text


# --- instructions ---------------------------------------------------------------------------


async def test_instructions_carry_the_store_context_tone_and_state(
    db: Database, settings: Settings, llm: FakeOpenAI
) -> None:
    store = await publish(db, make_store(Workflow.SHIPPING_AND_PICKUP, tone=Tone.PROFESSIONAL))
    choc = await product(db, "Proteína Chocolate", "499.00")
    state = ConversationState()
    await Commerce(db).search(state, "chocolate")
    await Commerce(db).add(state, choc, 1)
    llm.say("Buenas tardes, ¿en qué le puedo ayudar?")
    turn = make_turn(
        db,
        store,
        "",
        state,
        choice=f"product:{choc}",
        first_contact=True,
        history=[
            {"role": "customer", "text": "hola"},
            {"role": "agent", "text": "¡Hola! ¿Qué buscas?"},
        ],
    )

    replies = await make_brain(settings, llm).respond(turn)

    greeting = Replies(store, "es").greeting()
    assert [r.text for r in replies] == [greeting, "Buenas tardes, ¿en qué le puedo ayudar?"]
    system, *rest = llm.messages(0)
    assert system["role"] == "system"
    prompt = system["content"]
    for fact in (
        "Lupita",
        "Proteínas Ana",
        "Vendemos suplementos originales, con factura.",
        "Cambios en 30 días con ticket.",
        "Reply in Spanish",
        "courteous and professional",
        "usted",
        "MXN",
        "shipping or pickup",
        "Centro (Madero 10, CDMX)",
        "Never invent a product, price",
        "do not greet again",
        f"1 x Proteína Chocolate (id {choc})",
        f"1. Proteína Chocolate (id {choc})",
    ):
        assert fact in prompt, fact
    assert [(m["role"], m["content"]) for m in rest[:2]] == [
        ("user", "hola"),
        ("assistant", "¡Hola! ¿Qué buscas?"),
    ]
    assert f"product with id {choc}" in rest[2]["content"]


async def test_side_questions_and_a_person(
    db: Database, settings: Settings, llm: FakeOpenAI
) -> None:
    store = await publish(db, make_store())
    llm.call(ToolCall("answer_side_question", {"topic": "returns"}))
    llm.call(ToolCall("ask_human", {"reason": "quiere hablar con alguien"}))
    turn = make_turn(db, store, "¿puedo devolverlo? mejor pásame con una persona")

    replies = await make_brain(settings, llm).respond(turn)

    (answer,) = llm.tool_results(1)
    assert answer["code"] == "answer" and "Cambios en 30 días con ticket." in answer["reply"]
    assert turn.handoff == "customer_request"
    assert [r.text for r in replies] == [Replies(store, "es").handoff()]
    assert len(llm.requests) == 2  # nothing more from the model once a person takes over


async def test_the_round_limit_answers_from_the_results(
    db: Database, settings: Settings, llm: FakeOpenAI
) -> None:
    store = await publish(db, make_store())
    choc = await product(db, "Proteína Chocolate", "499.00")
    state = ConversationState()
    await Commerce(db).add(state, choc, 1)
    for _ in range(6):
        llm.call(ToolCall("show_cart"))
    turn = make_turn(db, store, "¿qué llevo?", state)

    replies = await make_brain(settings, llm).respond(turn)

    assert len(llm.requests) == 6
    assert "$499.00" in replies[0].text


# --- checkout ---------------------------------------------------------------------------------


async def test_an_order_through_the_tools_ends_with_the_bank_details(
    db: Database, settings: Settings, llm: FakeOpenAI
) -> None:
    store = await publish(db, make_store())
    choc = await product(db, "Proteína Chocolate", "499.00", stock=5)
    brain = make_brain(settings, llm)
    state = ConversationState()

    # Turn 1: into the cart, details, totals read back. Confirming right away is refused:
    # the customer has not seen those totals yet.
    llm.call(ToolCall("add_to_cart", {"product_id": choc, "quantity": 1}))
    llm.call(ToolCall("start_checkout"))
    llm.call(ToolCall("set_details", ADDRESS))
    llm.call(ToolCall("quote_totals"), ToolCall("confirm_order"))
    llm.say("")  # no text: the customer gets the store's wording of the results
    turn = make_turn(db, store, "una de chocolate a Insurgentes Sur 1602 ...", state)
    replies = await brain.respond(turn)

    quote, early = llm.tool_results(4)
    assert quote["code"] == "quote" and quote["data"]["total"] == "598.00"  # 499 + 99
    assert (early["ok"], early["code"]) == (False, "quote_required")
    assert state.last_order_number is None
    assert "$598.00" in replies[0].text

    # Turn 2: the customer says yes.
    llm.call(ToolCall("confirm_order"))
    llm.say("¡Gracias por tu compra!")
    turn = make_turn(db, store, "sí, confirmo", state)
    replies = await brain.respond(turn)

    (created,) = llm.tool_results(6)
    assert created["code"] == "order_created" and created["sent_verbatim"] is True
    number = created["data"]["order_number"]
    assert replies[0].text == "¡Gracias por tu compra!"
    details = replies[1].text  # word for word from the store, not from the model
    for fact in (str(number), "BBVA", "Tienda SA", "0123456789", "$598.00"):
        assert fact in details, fact
    assert state.awaiting_receipt_for == number and state.cart == []
    async with db.read_session() as session:
        order = await get_order(session, number)
    assert (order.total, order.payment_status) == (Decimal("598.00"), "awaiting_payment")

    # Turn 3: the receipt photo is attached without asking the model.
    asked = len(llm.requests)
    turn = make_turn(db, store, "", state, media=[Media("media/r1.jpg", "image/jpeg", "image")])
    replies = await brain.respond(turn)
    assert len(llm.requests) == asked
    assert str(number) in replies[0].text
    async with db.read_session() as session:
        order = await get_order(session, number)
    assert order.payment_status == "proof_received"
    assert state.awaiting_receipt_for is None


async def test_a_failure_after_the_order_keeps_it_and_tells_the_customer(
    db: Database, settings: Settings, llm: FakeOpenAI
) -> None:
    store = await publish(db, make_store())
    choc = await product(db, "Proteína Chocolate", "499.00", stock=5)
    state = ConversationState()
    commerce = Commerce(db)
    await commerce.add(state, choc, 1)
    await commerce.start_checkout(state)
    await commerce.set_fields(state, **ADDRESS)
    await commerce.quote(state)  # read back in an earlier message
    llm.call(ToolCall("confirm_order"))
    llm.fail(500)
    fallback = StandInBrain()
    turn = make_turn(db, store, "sí", state)

    replies = await make_brain(settings, llm, fallback).respond(turn)

    assert fallback.seen == []
    assert state.last_order_number == 1001 and state.cart == []  # not rolled back
    assert "1001" in replies[0].text and "0123456789" in replies[0].text


async def test_tool_results_are_json_the_model_can_read(
    db: Database, settings: Settings, llm: FakeOpenAI
) -> None:
    store = await publish(db, make_store(Workflow.SHIPPING_AND_PICKUP))
    choc = await product(db, "Proteína Chocolate", "499.00")
    state = ConversationState()
    await Commerce(db).add(state, choc, 1)
    llm.call(ToolCall("start_checkout"))
    llm.say("¿Lo enviamos o pasas por él?")
    turn = make_turn(db, store, "ya es todo", state)

    replies = await make_brain(settings, llm).respond(turn)

    tool_message = llm.messages(1)[-1]
    result = json.loads(tool_message["content"])
    assert set(result) == {"ok", "code", "data", "reply"}
    assert result["data"]["next_step"] == "delivery_choice"
    # The question the result asks comes with its tappable choices.
    assert [c.id for c in replies[0].choices] == ["delivery:shipping", "delivery:pickup"]
