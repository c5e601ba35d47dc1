"""Questions about an order already made: read through the orders service, only for
the conversation's own lead, told in customer words in both languages."""

from __future__ import annotations

from tendero.agent.actions import ActionResult, Commerce
from tendero.agent.replies import Replies
from tendero.agent.state import ConversationState
from tendero.db import Database
from tendero.orders import change_payment_status, change_status, order_transaction
from tendero.store.document import StoreDocument

from tests.agent.test_actions import make_store, product, publish, ready_to_confirm
from tests.agent.test_early_receipt import new_lead


def texts(store: StoreDocument, result: ActionResult) -> dict[str, str]:
    return {language: Replies(store, language).render(result) for language in ("es", "en")}


async def place(
    db: Database, lead_id: int | None, product_id: int, quantity: int, method: str
) -> int:
    """An order of ``lead_id`` made through the agent's own confirmation."""
    commerce, state = Commerce(db, lead_id=lead_id), ConversationState()
    assert (await commerce.add(state, product_id, quantity)).ok
    await ready_to_confirm(commerce, state, method)
    result = await commerce.confirm(state)
    assert result.code == "order_created", result
    return int(result.data["order_number"])


async def merchant_moves(db: Database, number: int, *statuses: str) -> None:
    for status in statuses:
        async with order_transaction(db) as session:
            await change_status(session, number, status, "merchant")


async def test_own_order_by_number_and_the_latest_one(db: Database) -> None:
    store = make_store()
    await publish(db, store)
    pid = await product(db, "Proteína Chocolate", "499.00", stock=20)
    ana = await new_lead(db)
    first = await place(db, ana, pid, 2, "shipping")
    second = await place(db, ana, pid, 1, "pickup")
    commerce, state = Commerce(db, lead_id=ana), ConversationState()

    result = await commerce.order_status(state, first)
    assert (result.ok, result.code) == (True, "order_status")
    data = result.data
    assert (data["order_number"], data["status"], data["payment_status"]) == (
        first,
        "new",
        "awaiting_payment",
    )
    assert (data["total"], data["amount_due_now"]) == ("1097.00", "1097.00")
    assert data["bank_account"]["bank_name"] == "BBVA"
    said = texts(store, result)
    assert said["es"].startswith(f"Así va tu pedido #{first}:\nEstado: recibido\n")
    assert "Pago: esperando tu pago" in said["es"]
    assert "Total: $1,097.00" in said["es"]
    assert "Banco: BBVA" in said["es"]  # how to pay, while the payment is due
    assert said["en"].startswith(f"Here's how your order #{first} is doing:\nStatus: received\n")
    assert "Payment: waiting for your payment" in said["en"]
    assert "Total: MX$1,097.00" in said["en"]
    assert state == ConversationState()  # a question changes nothing

    latest = await commerce.order_status(state, None)
    assert latest.data["order_number"] == second

    # The merchant works on the first one: the customer hears each step.
    async with order_transaction(db) as session:
        await change_payment_status(session, first, "proof_received", "agent")
    await merchant_moves(db, first, "processing")
    said = texts(store, await commerce.order_status(state, first))
    assert "Estado: en preparación" in said["es"]
    assert "Pago: comprobante recibido, lo estamos verificando" in said["es"]
    assert "Banco:" not in said["es"]
    assert "Status: being prepared" in said["en"]
    assert "Payment: receipt received, we're verifying it" in said["en"]

    async with order_transaction(db) as session:
        await change_payment_status(session, first, "paid", "merchant")
    await merchant_moves(db, first, "shipped")
    result = await commerce.order_status(state, first)
    assert result.data["amount_due_now"] == "0.00"
    said = texts(store, result)
    assert "Estado: enviado\nPago: pagado\nTotal: $1,097.00" in said["es"]
    assert "Status: shipped\nPayment: paid\nTotal: MX$1,097.00" in said["en"]


async def test_another_customers_order_is_not_found_and_says_nothing_of_it(
    db: Database,
) -> None:
    store = make_store()
    await publish(db, store)
    pid = await product(db, "Gorra", "250.00")
    ana, luis = await new_lead(db, "ana"), await new_lead(db, "luis")
    theirs = await place(db, luis, pid, 3, "shipping")
    commerce, state = Commerce(db, lead_id=ana), ConversationState()

    other = await commerce.order_status(state, theirs)
    unknown = await commerce.order_status(state, 4040)
    assert (other.ok, other.code, other.data) == (
        False,
        "order_not_found",
        {"order_number": theirs},
    )
    # Exactly what a number that does not exist gets.
    assert (unknown.ok, unknown.code, unknown.data) == (
        False,
        "order_not_found",
        {"order_number": 4040},
    )
    said = texts(store, other)
    assert said["es"] == (
        f"No encuentro el pedido #{theirs} en este chat. Revisa el número, o escribe "
        "«persona» y alguien del equipo te ayuda."
    )
    assert said["en"].startswith(f"I can't find order #{theirs} in this chat.")
    for text in said.values():
        assert "750" not in text and "Gorra" not in text
    assert texts(store, unknown)["es"] == said["es"].replace(f"#{theirs}", "#4040")

    # Ana has no order of her own yet; "how is my order?" finds none.
    none = await commerce.order_status(state, None)
    assert (none.ok, none.code, none.data) == (False, "no_orders", {})
    said = texts(store, none)
    assert said["es"].startswith("Todavía no veo ningún pedido en este chat.")
    assert said["en"].startswith("I don't see any order in this chat yet.")

    # Without a lead there is nobody to check an order against: nothing is shown.
    anonymous = Commerce(db)
    assert (await anonymous.order_status(state, theirs)).code == "order_not_found"
    assert (await anonymous.order_status(state, None)).code == "no_orders"
    # Numbers that cannot be an order (typed by a customer, read by a brain).
    for wrong in (0, -5, 10**30):
        assert (await commerce.order_status(state, wrong)).code == "order_not_found"
    flagged = await commerce.order_status(state, True)  # type: ignore[arg-type]
    assert (flagged.code, flagged.data) == ("order_not_found", {"order_number": None})
    said = texts(store, flagged)
    assert said["es"].startswith("No encuentro ese pedido en este chat.")
    assert said["en"].startswith("I can't find that order in this chat.")


async def test_pickup_order_says_where_and_when(db: Database) -> None:
    store = make_store(
        advance_percent=30,
        preparation_minutes=24 * 60,
        locations=1,
    )
    await publish(db, store)
    pid = await product(db, "Gorra", "250.00")
    ana = await new_lead(db)
    number = await place(db, ana, pid, 4, "pickup")
    commerce, state = Commerce(db, lead_id=ana), ConversationState()

    result = await commerce.order_status(state, number)
    data = result.data
    assert data["delivery_method"] == "pickup"
    assert data["pickup_location"] == {
        "name": "Centro",
        "address": "Madero 10, Centro, CDMX",
        "hours": "L-S 10-19",
        "map_url": "",
    }
    assert data["ready_at"] is not None and not data["ready_now"]
    assert (data["deposit_amount"], data["amount_due_now"]) == ("300.00", "300.00")
    said = texts(store, result)
    assert "Estará listo el " in said["es"]  # tomorrow, in the store's time zone
    assert "Recoges en Centro: Madero 10, Centro, CDMX." in said["es"]
    assert "Horario: L-S 10-19" in said["es"]
    assert "transfiere $300.00" in said["es"]
    assert "It will be ready on " in said["en"]
    assert "Centro: Madero 10, Centro, CDMX" in said["en"]

    async with order_transaction(db) as session:
        await change_payment_status(session, number, "proof_received", "agent")
        await change_payment_status(session, number, "deposit_paid", "merchant")
    await merchant_moves(db, number, "preparing", "ready_for_pickup")
    result = await commerce.order_status(state, number)
    assert result.data["ready_now"] is True
    said = texts(store, result)
    assert "Estado: listo para recoger" in said["es"]
    assert "Pago: anticipo pagado; el resto lo pagas al recoger" in said["es"]
    assert "Ya puedes pasar por él." in said["es"]
    assert "Banco:" not in said["es"]
    assert "Status: ready for pickup" in said["en"]
    assert "You can come pick it up now." in said["en"]

    await merchant_moves(db, number, "picked_up")
    said = texts(store, await commerce.order_status(state, number))
    assert "Estado: recogido" in said["es"]
    assert "Centro" not in said["es"]  # picked up: no more where and when
    assert "Status: picked up" in said["en"]


async def test_pickup_past_its_preparation_time_and_a_cancelled_order(db: Database) -> None:
    store = make_store(preparation_minutes=0, locations=1)
    await publish(db, store)
    pid = await product(db, "Gorra", "250.00")
    ana = await new_lead(db)
    number = await place(db, ana, pid, 1, "pickup")
    commerce, state = Commerce(db, lead_id=ana), ConversationState()

    result = await commerce.order_status(state, None)
    assert result.data["ready_due"] is True and result.data["payment_status"] == "not_required"
    said = texts(store, result)
    assert "Según nuestro tiempo de preparación, ya debería estar listo." in said["es"]
    assert "Pago: lo pagas al recoger" in said["es"]
    assert "By our preparation time, it should be ready by now." in said["en"]
    assert "Payment: you pay at pickup" in said["en"]

    await merchant_moves(db, number, "cancelled")
    said = texts(store, await commerce.order_status(state, number))
    assert said["es"] == f"Así va tu pedido #{number}:\nEstado: cancelado\nTotal: $250.00"
    assert said["en"] == (
        f"Here's how your order #{number} is doing:\nStatus: cancelled\nTotal: MX$250.00"
    )
