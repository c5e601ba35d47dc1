"""Checkout steps: the built-ins per workflow, their order, and a plugin's extra step."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tendero import hookimpl
from tendero.agent.actions import Commerce
from tendero.agent.checkout import builtin_steps, checkout_steps, next_step
from tendero.agent.state import ConversationState
from tendero.catalog import Catalog
from tendero.db import Database
from tendero.plugins import create_plugin_manager
from tendero.store.document import (
    BankAccount,
    Location,
    Shipping,
    StoreDocument,
    Workflow,
)
from tendero.store.service import publish_document


def make_store(workflow: Workflow) -> StoreDocument:
    return StoreDocument(
        workflow=workflow,
        shipping=Shipping(flat_rate=Decimal("99")),
        locations=[Location(name="Centro", address="Madero 10"), Location(name="Roma", address="x")]
        if workflow.picks_up
        else [],
        bank_accounts=[BankAccount(bank_name="B", account_holder="H", account_number="123456")],
    )


class InvoiceTaxIdStep:
    """A plugin's step: asks for a tax ID (RFC) before the confirmation."""

    name = "invoice_tax_id"
    order = 700
    fields = ("tax_id",)

    def applies(self, state: Any) -> bool:  # the one-argument form of the hookspec
        return state.checkout


class InvoicePlugin:
    @hookimpl
    def register_checkout_steps(self, workflow: str) -> Any:
        return [InvoiceTaxIdStep()] if workflow != "pickup_only" else None


@pytest.mark.parametrize(
    ("workflow", "names"),
    [
        (
            Workflow.SHIPPING_AND_PICKUP,
            [
                "delivery_choice",
                "shipping_address",
                "pickup_location",
                "confirmation",
                "payment_proof",
            ],
        ),
        (Workflow.SHIPPING_ONLY, ["shipping_address", "confirmation", "payment_proof"]),
        (Workflow.PICKUP_ONLY, ["pickup_location", "confirmation", "payment_proof"]),
    ],
)
async def test_every_workflow_step_order(workflow: Workflow, names: list[str]) -> None:
    steps = await checkout_steps(None, workflow)
    assert [s.name for s in steps] == names
    assert [s.order for s in steps] == sorted(s.order for s in steps)
    assert [s.name for s in builtin_steps(workflow)] == names
    core = create_plugin_manager(allow=["core"])
    assert [s.name for s in await checkout_steps(core, workflow)] == names


@pytest.mark.parametrize(
    ("workflow", "method", "asked"),
    [
        (
            Workflow.SHIPPING_AND_PICKUP,
            "shipping",
            ["delivery_choice", "shipping_address", "confirmation"],
        ),
        (
            Workflow.SHIPPING_AND_PICKUP,
            "pickup",
            ["delivery_choice", "pickup_location", "confirmation"],
        ),
        (Workflow.SHIPPING_ONLY, "shipping", ["shipping_address", "confirmation"]),
        (Workflow.PICKUP_ONLY, "pickup", ["pickup_location", "confirmation"]),
    ],
)
async def test_next_step_walks_the_workflow(
    workflow: Workflow, method: str, asked: list[str]
) -> None:
    store = make_store(workflow)
    steps = await checkout_steps(None, workflow)
    state = ConversationState.from_dict(
        {"cart": [{"product_id": 1, "quantity": 1}], "checkout": True}
    )
    if workflow is not Workflow.SHIPPING_AND_PICKUP:
        state.delivery_method = method
    seen = []
    while True:
        step = next_step(state, store, steps)
        assert step is not None
        seen.append(step.name)
        if step.name == "confirmation":
            break
        if step.name == "delivery_choice":
            state.delivery_method = method
        elif step.name == "shipping_address":
            state.email = "a@b.co"
            state.address = {
                "street": "Juárez",
                "house_number": "1",
                "neighborhood": "Centro",
                "postal_code": "44100",
                "city": "Guadalajara",
            }
        elif step.name == "pickup_location":
            state.pickup_location = "Roma"
    assert seen == asked
    state.checkout, state.cart, state.awaiting_receipt_for = False, [], 1001
    step = next_step(state, store, steps)
    assert step is not None and step.name == "payment_proof"
    state.awaiting_receipt_for = None
    assert next_step(state, store, steps) is None


async def test_a_plugin_step_is_asked_before_confirmation(db: Database) -> None:
    pm = create_plugin_manager(allow=["core"], extra=[InvoicePlugin()])
    names = [s.name for s in await checkout_steps(pm, Workflow.SHIPPING_ONLY)]
    assert names == ["shipping_address", "invoice_tax_id", "confirmation", "payment_proof"]
    assert "invoice_tax_id" not in [s.name for s in await checkout_steps(pm, "pickup_only")]

    async with db.session() as session:
        await publish_document(session, make_store(Workflow.SHIPPING_ONLY))
    pid = (await Catalog(db).create(name="Caja", price="200", stock=5)).id
    commerce, state = Commerce(db, pm), ConversationState()
    await commerce.add(state, pid, 1)
    await commerce.start_checkout(state)
    result = await commerce.set_fields(
        state,
        email="ana@example.com",
        street="Juárez",
        house_number="1200",
        neighborhood="Americana",
        postal_code="44100",
        city="Guadalajara",
    )
    assert (result.data["next_step"], result.data["missing"]) == ("invoice_tax_id", ["tax_id"])
    assert state.step == "invoice_tax_id"
    await commerce.quote(state)
    refused = await commerce.confirm(state)  # the plugin's step cannot be skipped
    assert (refused.code, refused.data["step"]) == ("step_missing", "invoice_tax_id")

    done = await commerce.set_fields(state, tax_id="XAXX010101000")
    assert done.data["next_step"] == "confirmation"
    assert (await commerce.confirm(state)).code == "order_created"


async def test_a_step_without_an_order_is_refused() -> None:
    class Broken:
        @hookimpl
        def register_checkout_steps(self, workflow: str) -> Any:
            return object()

    pm = create_plugin_manager(allow=["core"], extra=[Broken()])
    with pytest.raises(TypeError, match="whole-number order"):
        await checkout_steps(pm, Workflow.SHIPPING_ONLY)
