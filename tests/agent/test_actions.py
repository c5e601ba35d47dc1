"""The commerce actions on SQLite and PostgreSQL: stock caps, cart math, totals, delivery
switching, confirmation through the orders core, the last-unit race and receipts."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from tendero.agent.actions import Commerce, normalize_email, normalize_postal_code
from tendero.agent.state import ConversationState
from tendero.catalog import Catalog
from tendero.db import Database
from tendero.db.models import Order
from tendero.orders import get_order
from tendero.store.document import (
    BankAccount,
    Company,
    Location,
    Pickup,
    Shipping,
    StoreDocument,
    Workflow,
)
from tendero.store.service import publish_document

MX_ADDRESS = {
    "email": "Ana@Example.com",
    "street": "Insurgentes Sur",
    "house_number": "1602",
    "neighborhood": "Crédito Constructor",
    "postal_code": "03940",
    "city": "Ciudad de México",
}


def make_store(
    workflow: Workflow = Workflow.SHIPPING_AND_PICKUP,
    *,
    flat_rate: str = "99",
    free_threshold: str | None = "1000",
    advance_percent: int = 0,
    preparation_minutes: int = 0,
    locations: int = 2,
    country: str = "MX",
) -> StoreDocument:
    all_locations = [
        Location(name="Centro", address="Madero 10, Centro, CDMX", hours="L-S 10-19"),
        Location(name="Roma Norte", address="Orizaba 5, Roma Nte., CDMX"),
    ]
    return StoreDocument(
        company=Company(
            country=country,
            timezone="America/Mexico_City" if country == "MX" else "America/Chicago",
        ),
        currency="MXN",
        workflow=workflow,
        shipping=Shipping(
            flat_rate=Decimal(flat_rate),
            free_threshold=None if free_threshold is None else Decimal(free_threshold),
        ),
        pickup=Pickup(
            advance_payment_percent=advance_percent, preparation_minutes=preparation_minutes
        ),
        locations=all_locations[:locations] if workflow.picks_up else [],
        bank_accounts=[
            BankAccount(bank_name="BBVA", account_holder="Tienda SA", account_number="0123456789")
        ],
    )


async def publish(db: Database, doc: StoreDocument) -> None:
    async with db.session() as session:
        await publish_document(session, doc)


async def product(
    db: Database, name: str, price: str, stock: int | None = 10, active: bool = True
) -> int:
    view = await Catalog(db).create(
        name=name, price=price, stock=stock, active=active, sku=name.upper().replace(" ", "-")
    )
    return view.id


async def stock_of(db: Database, product_id: int) -> int | None:
    return (await Catalog(db).get(product_id)).stock


async def order_count(db: Database) -> int:
    async with db.read_session() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(Order)) or 0)


async def ready_to_confirm(
    commerce: Commerce, state: ConversationState, method: str = "shipping"
) -> None:
    assert (await commerce.start_checkout(state)).ok
    if (await commerce.store()).workflow is Workflow.SHIPPING_AND_PICKUP:
        assert (await commerce.choose_delivery(state, method)).ok
    if method == "shipping":
        assert (await commerce.set_fields(state, **MX_ADDRESS)).ok
    elif not state.pickup_location:
        assert (await commerce.choose_pickup_location(state, "centro")).ok
    result = await commerce.quote(state)
    assert result.ok, result


# --- cart --------------------------------------------------------------------------------


async def test_adding_beyond_stock_is_capped_and_says_how_many_are_left(db: Database) -> None:
    await publish(db, make_store())
    pid = await product(db, "Proteína Chocolate", "499.00", stock=3)
    commerce, state = Commerce(db), ConversationState()

    result = await commerce.add(state, pid, 5)
    assert result.ok and result.code == "added"
    assert result.data["capped"] is True
    assert result.data["left"] == 3
    assert result.data["requested"] == 5
    assert state.quantity_of(pid) == 3

    more = await commerce.add(state, pid, 1)  # the cart already holds all there is
    assert not more.ok and more.code == "out_of_stock"
    assert (more.data["left"], more.data["in_cart"]) == (3, 3)
    assert state.quantity_of(pid) == 3

    gone = await product(db, "Agotado", "10", stock=0)
    sold_out = await commerce.add(state, gone, 1)
    assert (sold_out.ok, sold_out.code, sold_out.data["left"]) == (False, "out_of_stock", 0)
    assert state.line(gone) is None


async def test_inactive_and_unknown_products_are_refused(db: Database) -> None:
    await publish(db, make_store())
    pid = await product(db, "Retirado", "100", active=False)
    commerce, state = Commerce(db), ConversationState()
    assert (await commerce.add(state, pid, 1)).code == "inactive"
    assert (await commerce.add(state, 999_999, 1)).code == "not_found"
    assert (await commerce.add(state, pid, 0)).code == "invalid_quantity"
    assert state.cart == []


async def test_cart_math_merge_set_quantity_and_remove(db: Database) -> None:
    await publish(db, make_store())
    choc = await product(db, "Proteína Chocolate", "499.50", stock=None)
    shaker = await product(db, "Shaker", "120", stock=10)
    commerce, state = Commerce(db), ConversationState()

    await commerce.add(state, choc, 1)
    await commerce.add(state, shaker, 2)
    merged = await commerce.add(state, choc, 2)
    assert merged.data["quantity"] == 3 and merged.data["added"] == 2
    assert [(line.product_id, line.quantity) for line in state.cart] == [(choc, 3), (shaker, 2)]

    cart = await commerce.show_cart(state)
    assert cart.code == "cart"
    assert cart.data["subtotal"] == "1738.50"  # 3 x 499.50 + 2 x 120
    assert [i["line_total"] for i in cart.data["items"]] == ["1498.50", "240.00"]

    assert (await commerce.set_quantity(state, shaker, 20)).data["capped"] is True
    assert state.quantity_of(shaker) == 10
    await commerce.set_quantity(state, choc, 1)
    assert (await commerce.show_cart(state)).data["subtotal"] == "1699.50"
    removed = await commerce.set_quantity(state, shaker, 0)
    assert removed.code == "removed" and state.line(shaker) is None
    assert (await commerce.remove(state, shaker)).code == "not_in_cart"
    await commerce.remove(state, choc)
    assert (await commerce.show_cart(state)).code == "cart_empty"
    assert (await commerce.start_checkout(state)).code == "cart_empty"


async def test_search_sets_the_last_list(db: Database) -> None:
    await publish(db, make_store())
    a = await product(db, "Proteína Chocolate", "499")
    b = await product(db, "Proteína Vainilla", "489")
    await product(db, "Shaker", "120")
    commerce, state = Commerce(db), ConversationState()
    result = await commerce.search(state, "proteina")
    assert result.code == "found"
    assert sorted(state.last_list) == sorted([a, b])
    assert [p["id"] for p in result.data["products"]] == state.last_list
    assert (await commerce.search(state, "zzzzqqq")).code == "no_results"


# --- totals --------------------------------------------------------------------------------


async def test_free_shipping_boundary_through_quote(db: Database) -> None:
    await publish(db, make_store(flat_rate="99", free_threshold="1000"))
    item = await product(db, "Caja", "250", stock=None)
    commerce, state = Commerce(db), ConversationState()
    await commerce.add(state, item, 3)
    await commerce.start_checkout(state)
    await commerce.choose_delivery(state, "shipping")

    below = await commerce.quote(state)
    assert (below.data["subtotal"], below.data["shipping_cost"], below.data["total"]) == (
        "750.00",
        "99.00",
        "849.00",
    )
    assert below.data["missing_for_free_shipping"] == "250.00"
    assert below.data["free_shipping"] is False

    await commerce.add(state, item, 1)  # exactly the threshold: free
    at = await commerce.quote(state)
    assert (at.data["subtotal"], at.data["shipping_cost"], at.data["total"]) == (
        "1000.00",
        "0.00",
        "1000.00",
    )
    assert at.data["free_shipping"] is True
    assert at.data["missing_for_free_shipping"] is None
    assert state.quote is not None and state.quote.total == "1000.00"


async def test_pickup_never_charges_shipping_and_asks_the_deposit(db: Database) -> None:
    await publish(db, make_store(flat_rate="99", free_threshold="5000", advance_percent=30))
    item = await product(db, "Caja", "333.33", stock=None)
    commerce, state = Commerce(db), ConversationState()
    await commerce.add(state, item, 1)
    await commerce.start_checkout(state)
    result = await commerce.choose_delivery(state, "pickup")
    totals = result.data["totals"]
    assert totals["shipping_cost"] is None
    assert totals["missing_for_free_shipping"] is None
    assert totals["total"] == "333.33"
    assert totals["deposit_amount"] == "100.00"  # 30% of 333.33 = 99.999, half-up
    assert totals["amount_due_now"] == "100.00"
    assert totals["deposit_percent"] == 30


async def test_switching_delivery_recomputes_the_totals(db: Database) -> None:
    await publish(db, make_store(flat_rate="99", free_threshold=None))
    item = await product(db, "Caja", "200", stock=None)
    commerce, state = Commerce(db), ConversationState()
    await commerce.add(state, item, 2)
    await commerce.start_checkout(state)

    shipping = await commerce.choose_delivery(state, "shipping")
    assert shipping.data["totals"]["total"] == "499.00"
    assert shipping.data["next_step"] == "shipping_address"
    assert state.quote is not None and state.quote.total == "499.00"

    pickup = await commerce.choose_delivery(state, "pickup")
    assert pickup.data["previous"] == "shipping"
    assert pickup.data["totals"]["total"] == "400.00"
    assert state.quote is not None and state.quote.delivery_method == "pickup"
    assert state.quote.total == "400.00"
    assert pickup.data["next_step"] == "pickup_location"


async def test_delivery_not_offered_and_automatic_choices(db: Database) -> None:
    await publish(db, make_store(Workflow.SHIPPING_ONLY))
    item = await product(db, "Caja", "200", stock=None)
    commerce, state = Commerce(db), ConversationState()
    await commerce.add(state, item, 1)
    started = await commerce.start_checkout(state)
    assert started.data["automatic"] == {"delivery_method": "shipping"}
    assert state.delivery_method == "shipping"
    refused = await commerce.choose_delivery(state, "pickup")
    assert (refused.code, refused.data["offered"]) == ("delivery_not_offered", ["shipping"])
    assert (await commerce.choose_pickup_location(state, "Centro")).code == "no_pickup"

    skipped = await Commerce(db).confirm(ConversationState.from_dict(state.to_dict()))
    assert (skipped.code, skipped.data["step"]) == ("step_missing", "shipping_address")
    fresh = ConversationState()
    await commerce.add(fresh, item, 1)
    direct = await commerce.confirm(fresh)  # no start_checkout: still every step applies
    assert (direct.code, direct.data["step"]) == ("step_missing", "shipping_address")
    assert fresh.delivery_method == "shipping" and fresh.checkout

    await publish(db, make_store(Workflow.PICKUP_ONLY, locations=1))
    commerce, state = Commerce(db), ConversationState()
    await commerce.add(state, item, 1)
    started = await commerce.start_checkout(state)
    assert started.data["automatic"]["delivery_method"] == "pickup"
    assert started.data["automatic"]["pickup_location"]["name"] == "Centro"
    assert state.pickup_location == "Centro"
    assert started.data["next_step"] == "confirmation"


async def test_pickup_location_fuzzy_match(db: Database) -> None:
    await publish(db, make_store(Workflow.PICKUP_ONLY))
    item = await product(db, "Caja", "200", stock=None)
    commerce, state = Commerce(db), ConversationState()
    await commerce.add(state, item, 1)
    started = await commerce.start_checkout(state)
    assert started.data["next_step"] == "pickup_location"
    assert (await commerce.choose_pickup_location(state, "la de roma")).data["location"][
        "name"
    ] == "Roma Norte"
    assert (await commerce.choose_pickup_location(state, "cetnro")).data["location"][
        "name"
    ] == "Centro"
    assert (await commerce.choose_pickup_location(state, "Polanco")).code == "location_unknown"
    assert state.pickup_location == "Centro"


async def test_fields_are_validated_for_the_country(db: Database) -> None:
    await publish(db, make_store(Workflow.SHIPPING_ONLY))
    item = await product(db, "Caja", "200", stock=None)
    commerce, state = Commerce(db), ConversationState()
    await commerce.add(state, item, 1)
    await commerce.start_checkout(state)
    result = await commerce.set_fields(state, email="ana@", postal_code="0394", street="Juárez")
    assert result.code == "invalid_fields"
    assert result.data["invalid"] == {
        "email": "invalid_email",
        "postal_code": "invalid_postal_code",
    }
    assert result.data["accepted"] == ["street"]
    assert result.data["next_step"] == "shipping_address"
    assert set(result.data["missing"]) == {
        "email",
        "house_number",
        "neighborhood",
        "postal_code",
        "city",
    }
    assert (await commerce.set_fields(state, nickname="x")).data["invalid"] == {
        "nickname": "unknown_field"
    }

    assert normalize_email(" Ana@Example.COM ") == "ana@example.com"
    assert normalize_email("ana@example") is None
    assert normalize_postal_code("CP 03940"[3:], "MX") == "03940"
    assert normalize_postal_code("78701", "US") == "78701"
    assert normalize_postal_code("78701-1234", "US") == "78701-1234"
    assert normalize_postal_code("787011234", "US") == "78701-1234"
    assert normalize_postal_code("7870", "US") is None
    assert normalize_postal_code("787012", "MX") is None


async def test_us_store_asks_for_the_state_not_the_neighborhood(db: Database) -> None:
    await publish(db, make_store(Workflow.SHIPPING_ONLY, country="US"))
    item = await product(db, "Caja", "200", stock=None)
    commerce, state = Commerce(db), ConversationState()
    await commerce.add(state, item, 1)
    await commerce.start_checkout(state)
    result = await commerce.set_fields(
        state, email="bo@x.com", street="Elm Street", house_number="45", city="Austin"
    )
    assert result.data["missing"] == ["state", "postal_code"]
    result = await commerce.set_fields(state, state="TX", postal_code="78701")
    assert result.ok and result.data["next_step"] == "confirmation"


# --- mid-checkout changes --------------------------------------------------------------------


async def test_items_added_mid_checkout_keep_the_step(db: Database) -> None:
    await publish(db, make_store())
    a = await product(db, "Caja", "200", stock=None)
    b = await product(db, "Cinta", "50", stock=None)
    commerce, state = Commerce(db), ConversationState()
    await commerce.add(state, a, 1)
    await commerce.start_checkout(state)
    await commerce.choose_delivery(state, "shipping")
    await commerce.set_fields(state, email="ana@example.com", street="Juárez")
    assert state.step == "shipping_address"
    assert state.quote is not None

    added = await commerce.add(state, b, 2)
    assert added.data["in_checkout"] is True and added.data["step"] == "shipping_address"
    assert state.checkout and state.step == "shipping_address"
    assert state.quote is None  # the totals must be read back again
    assert (await commerce.next(state)) == {
        "step": "shipping_address",
        "missing": ["house_number", "neighborhood", "postal_code", "city"],
    }
    await commerce.remove(state, b)
    assert state.step == "shipping_address"
    assert state.address == {"street": "Juárez"}


async def test_state_round_trips_through_json(db: Database) -> None:
    import json

    await publish(db, make_store())
    a = await product(db, "Caja", "200", stock=None)
    commerce, state = Commerce(db), ConversationState(language="es")
    await commerce.add(state, a, 2)
    await ready_to_confirm(commerce, state)
    data = json.loads(json.dumps(state.to_dict()))
    again = ConversationState.from_dict(data)
    assert again == state
    assert again.quote is not None and again.quote.total == "499.00"
    assert ConversationState.from_dict(None) == ConversationState()


# --- confirmation ------------------------------------------------------------------------------


async def test_confirm_creates_one_order_and_takes_stock(db: Database) -> None:
    await publish(db, make_store(flat_rate="99", free_threshold="1000"))
    item = await product(db, "Caja", "250", stock=5)
    commerce = Commerce(db, channel="whatsapp", customer={"name": "Ana", "phone": "+52 55"})
    state = ConversationState()
    await commerce.add(state, item, 2)

    early = await commerce.confirm(state)  # nothing chosen yet: the steps are enforced
    assert (early.code, early.data["step"]) == ("step_missing", "delivery_choice")

    await ready_to_confirm(commerce, state)
    result = await commerce.confirm(state)
    assert result.ok and result.code == "order_created", result
    data = result.data
    assert data["order_number"] == 1001
    assert (data["total"], data["amount_due_now"]) == ("599.00", "599.00")
    assert data["payment_status"] == "awaiting_payment"
    assert data["bank_account"]["account_number"] == "0123456789"
    assert data["address"]["postal_code"] == "03940"
    assert await stock_of(db, item) == 3
    assert await order_count(db) == 1
    async with db.read_session() as session:
        order = await get_order(session, 1001)
    assert (order.email, order.customer_name, order.channel) == (
        "ana@example.com",
        "Ana",
        "whatsapp",
    )
    assert order.settings_version == 1

    # A fresh cart; the details are kept to offer "same as last time".
    assert state.cart == [] and not state.checkout and state.step is None
    assert (state.last_order_number, state.awaiting_receipt_for) == (1001, 1001)
    assert state.saved_email == "ana@example.com"
    assert state.saved_address["street"] == "Insurgentes Sur"
    assert (await commerce.confirm(state)).code == "cart_empty"
    assert await order_count(db) == 1

    await commerce.add(state, item, 1)
    started = await commerce.start_checkout(state)
    assert started.data["saved_details"] is True
    await commerce.choose_delivery(state, "shipping")
    reused = await commerce.use_saved_details(state)
    assert reused.code == "saved_details_used"
    assert reused.data["next_step"] == "confirmation"


async def test_a_turn_run_again_confirms_the_same_order(db: Database) -> None:
    """The process died after the order's commit and before the turn's: the turn runs
    again from the state before the message and must find its order, not make another."""
    await publish(db, make_store(flat_rate="99", free_threshold="1000"))
    item = await product(db, "Caja", "250", stock=2)
    commerce = Commerce(db, channel="whatsapp", source_event="whatsapp:wamid.1")
    state = ConversationState()
    await commerce.add(state, item, 2)
    await ready_to_confirm(commerce, state)
    before = state.to_dict()

    first = await commerce.confirm(state)
    again_state = ConversationState.from_dict(before)
    again = await Commerce(db, channel="whatsapp", source_event="whatsapp:wamid.1").confirm(
        again_state
    )
    assert first.code == again.code == "order_created", again
    assert again.data == first.data  # the same number, totals, bank account, address
    assert await order_count(db) == 1
    assert await stock_of(db, item) == 0  # taken once, though the stock is now gone
    assert again_state.last_order_number == 1001 and again_state.cart == []

    # A later message of the same customer is another order.
    bag = await product(db, "Bolsa", "100", stock=1)
    other = Commerce(db, channel="whatsapp", source_event="whatsapp:wamid.2")
    later = ConversationState()
    await other.add(later, bag, 1)
    await ready_to_confirm(other, later)
    assert (await other.confirm(later)).data["order_number"] == 1002
    assert await order_count(db) == 2


async def test_confirm_requires_the_totals_read_back(db: Database) -> None:
    await publish(db, make_store(Workflow.PICKUP_ONLY, locations=1, preparation_minutes=90))
    item = await product(db, "Caja", "250", stock=5)
    commerce, state = Commerce(db), ConversationState()
    await commerce.add(state, item, 1)
    await commerce.start_checkout(state)
    first = await commerce.confirm(state)
    assert first.code == "quote_required"
    assert first.data["totals"]["total"] == "250.00"
    assert await order_count(db) == 0

    done = await commerce.confirm(state)
    assert done.code == "order_created"
    assert done.data["payment_status"] == "not_required"
    assert done.data["amount_due_now"] == "0.00"
    assert done.data["bank_account"] is None
    assert done.data["ready_now"] is False
    assert done.data["ready_at"].endswith("-06:00")  # Mexico City time
    assert done.data["pickup_location"]["name"] == "Centro"
    assert state.awaiting_receipt_for is None
    assert (await commerce.attach_receipt(state, "r.png", "image/png")).code == (
        "not_awaiting_receipt"
    )


async def test_pickup_with_deposit_asks_for_the_deposit(db: Database) -> None:
    await publish(db, make_store(advance_percent=50))
    item = await product(db, "Caja", "301", stock=5)
    commerce, state = Commerce(db), ConversationState()
    await commerce.add(state, item, 1)
    await ready_to_confirm(commerce, state, "pickup")
    result = await commerce.confirm(state)
    assert result.code == "order_created"
    assert (result.data["total"], result.data["deposit_amount"]) == ("301.00", "150.50")
    assert result.data["amount_due_now"] == "150.50"
    assert result.data["bank_account"]["bank_name"] == "BBVA"
    assert state.awaiting_receipt_for == result.data["order_number"]


async def test_price_change_after_the_quote_is_told_before_ordering(db: Database) -> None:
    await publish(db, make_store())
    item = await product(db, "Caja", "250", stock=5)
    commerce, state = Commerce(db), ConversationState()
    await commerce.add(state, item, 1)
    await ready_to_confirm(commerce, state)
    await Catalog(db).set_price(item, "300")
    result = await commerce.confirm(state)
    assert result.code == "cart_changed"
    assert result.data["price_changes"] == [
        {"id": item, "name": "Caja", "old_price": "250.00", "new_price": "300.00"}
    ]
    assert result.data["totals"]["total"] == "399.00"
    assert await order_count(db) == 0
    again = await commerce.confirm(state)
    assert again.code == "order_created" and again.data["total"] == "399.00"


async def two_carts_with_the_last_unit(
    db: Database,
) -> tuple[int, int, list[Commerce], list[ConversationState]]:
    """Two customers ready to confirm the store's last unit of a product (plus one of a
    product without stock limit)."""
    await publish(db, make_store())
    last = await product(db, "Última", "100", stock=1)
    other = await product(db, "Otra", "50", stock=None)
    states = [ConversationState(), ConversationState()]
    commerces = [Commerce(db), Commerce(db)]
    for commerce, state in zip(commerces, states, strict=True):
        await commerce.add(state, last, 1)
        await commerce.add(state, other, 1)
        await ready_to_confirm(commerce, state)
    return last, other, commerces, states


async def test_two_customers_race_for_the_last_unit(db: Database) -> None:
    last, other, commerces, states = await two_carts_with_the_last_unit(db)

    results = await asyncio.gather(*(c.confirm(s) for c, s in zip(commerces, states, strict=True)))
    codes = [r.code for r in results]
    assert codes.count("order_created") == 1, results
    lost: Any = next(r for r in results if r.code != "order_created")
    # Both confirmations got past the cart check: the stock taking refuses the loser.
    # The winner committed before the loser's cart check: the check drops the unit.
    assert lost.code in ("out_of_stock", "cart_changed"), results
    if lost.code == "out_of_stock":
        assert lost.data["product"] == {"id": last, "name": "Última"}
        assert (lost.data["left"], lost.data["sold_out"]) == (0, True)
    else:
        dropped = [line["id"] for line in lost.data["removed"] + lost.data["capped"]]
        assert dropped == [last], lost.data
    assert await order_count(db) == 1
    assert await stock_of(db, last) == 0
    # The loser's cart was fixed and re-quoted; it still holds the other product.
    loser = states[codes.index(lost.code)]
    assert [line.product_id for line in loser.cart] == [other]
    assert lost.data["totals"]["subtotal"] == "50.00"
    assert loser.checkout


async def test_confirming_after_the_last_unit_sold_drops_it_from_the_cart(db: Database) -> None:
    """The same race lost by a clear margin: the cart check sees the unit gone."""
    last, other, commerces, states = await two_carts_with_the_last_unit(db)
    assert (await commerces[0].confirm(states[0])).code == "order_created"
    lost: Any = await commerces[1].confirm(states[1])
    assert lost.code == "cart_changed"
    assert [line["id"] for line in lost.data["removed"] + lost.data["capped"]] == [last]
    assert [line.product_id for line in states[1].cart] == [other]
    assert lost.data["totals"]["subtotal"] == "50.00"
    assert await order_count(db) == 1


async def test_receipt_only_when_awaiting(db: Database, tmp_path: Any) -> None:
    await publish(db, make_store())
    item = await product(db, "Caja", "250", stock=5)
    commerce, state = Commerce(db), ConversationState()
    assert (await commerce.attach_receipt(state, "r.png", "image/png")).code == (
        "not_awaiting_receipt"
    )
    await commerce.add(state, item, 1)
    await ready_to_confirm(commerce, state)
    number = (await commerce.confirm(state)).data["order_number"]
    assert (await commerce.next(state)) == {"step": "payment_proof", "missing": ["receipt"]}

    result = await commerce.attach_receipt(state, "receipts/1.png", "image/png")
    assert result.ok and result.data == {"order_number": number, "payment_status": "proof_received"}
    async with db.read_session() as session:
        order = await get_order(session, number)
    assert order.payment_status == "proof_received"
    assert [r.file_path for r in order.receipts] == ["receipts/1.png"]
    assert state.awaiting_receipt_for is None
    assert await commerce.next(state) is None
    # A clearer copy sent afterwards is kept on the same order, for the merchant to see.
    again = await commerce.attach_receipt(state, "receipts/2.png", "image/png")
    assert again.ok and again.data["order_number"] == number
    async with db.read_session() as session:
        order = await get_order(session, number)
    assert [r.file_path for r in order.receipts] == ["receipts/1.png", "receipts/2.png"]
    # A new order (new cart) is what a later receipt waits for; none is pending now.
    state.reset_after_order(number + 1, awaiting_receipt=False)
    assert (await commerce.attach_receipt(state, "r3.png", "image/png")).code == (
        "not_awaiting_receipt"
    )
