"""Checkout steps: the built-in ones and those plugins add through ``register_checkout_steps``.

A step is any object with a ``name``, an ``order`` number, ``applies(state[, store])``
and either ``missing(state[, store])`` (the field names still needed) or ``fields`` (the
names it collects into ``state.extra``). Built-ins use 100 delivery choice, 200 shipping
address, 300 pickup location, 800 confirmation and 900 payment proof; a plugin picks a
number in between, e.g. 700 for an invoice tax ID asked before the confirmation.

:func:`next_step` is the first step that applies and still misses something: what the
agent asks for next. The agent never confirms an order while an earlier step misses
anything (:meth:`tendero.agent.actions.Commerce.confirm` checks it).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tendero.plugins import call_hook, flatten
from tendero.store.document import StoreDocument, Workflow

if TYPE_CHECKING:
    import pluggy

    from tendero.agent.state import ConversationState

DELIVERY_CHOICE = "delivery_choice"
SHIPPING_ADDRESS = "shipping_address"
PICKUP_LOCATION = "pickup_location"
CONFIRMATION = "confirmation"
PAYMENT_PROOF = "payment_proof"


def _call(fn: Callable[..., Any], state: ConversationState, store: StoreDocument) -> Any:
    """Call a step's test with ``(state, store)`` or, if it takes one argument, ``(state)``."""
    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
    except (TypeError, ValueError):
        return fn(state, store)
    if any(p.kind is p.VAR_POSITIONAL for p in params) or len(params) >= 2:
        return fn(state, store)
    return fn(state)


def step_applies(step: Any, state: ConversationState, store: StoreDocument) -> bool:
    applies = getattr(step, "applies", None)
    return True if applies is None else bool(_call(applies, state, store))


def step_missing(step: Any, state: ConversationState, store: StoreDocument) -> list[str]:
    missing = getattr(step, "missing", None)
    if missing is not None:
        return list(_call(missing, state, store) or [])
    return [name for name in getattr(step, "fields", ()) or () if not state.extra.get(name)]


def step_fields(step: Any) -> tuple[str, ...]:
    """The field names a step collects (what ``set_fields`` accepts for it)."""
    return tuple(getattr(step, "fields", ()) or ())


# --- the built-in steps ------------------------------------------------------------------


def required_address_keys(store: StoreDocument) -> tuple[str, ...]:
    """Address fields a shipping order needs: the neighborhood (colonia) in Mexico, the
    state elsewhere."""
    region = "neighborhood" if store.company.country == "MX" else "state"
    return ("street", "house_number", region, "postal_code", "city")


@dataclass(frozen=True)
class CheckoutStep:
    """A built-in step; subclasses say when it applies and what it misses."""

    name: str
    order: int
    fields: tuple[str, ...] = field(default=())

    def applies(self, state: ConversationState, store: StoreDocument) -> bool:
        return state.checkout

    def missing(self, state: ConversationState, store: StoreDocument) -> list[str]:
        return [name for name in self.fields if not state.extra.get(name)]


@dataclass(frozen=True)
class DeliveryChoiceStep(CheckoutStep):
    def applies(self, state: ConversationState, store: StoreDocument) -> bool:
        return state.checkout and store.workflow is Workflow.SHIPPING_AND_PICKUP

    def missing(self, state: ConversationState, store: StoreDocument) -> list[str]:
        return [] if state.delivery_method else ["delivery_method"]


@dataclass(frozen=True)
class ShippingAddressStep(CheckoutStep):
    def applies(self, state: ConversationState, store: StoreDocument) -> bool:
        return state.checkout and state.delivery_method == "shipping"

    def missing(self, state: ConversationState, store: StoreDocument) -> list[str]:
        out = [] if state.email else ["email"]
        return out + [key for key in required_address_keys(store) if not state.address.get(key)]


@dataclass(frozen=True)
class PickupLocationStep(CheckoutStep):
    def applies(self, state: ConversationState, store: StoreDocument) -> bool:
        return state.checkout and state.delivery_method == "pickup"

    def missing(self, state: ConversationState, store: StoreDocument) -> list[str]:
        names = {location.name for location in store.locations}
        return [] if state.pickup_location in names else ["pickup_location"]


@dataclass(frozen=True)
class ConfirmationStep(CheckoutStep):
    def applies(self, state: ConversationState, store: StoreDocument) -> bool:
        return state.checkout and bool(state.cart)

    def missing(self, state: ConversationState, store: StoreDocument) -> list[str]:
        return ["confirmation"]  # done only by creating the order, which ends the checkout


@dataclass(frozen=True)
class PaymentProofStep(CheckoutStep):
    def applies(self, state: ConversationState, store: StoreDocument) -> bool:
        return state.awaiting_receipt_for is not None

    def missing(self, state: ConversationState, store: StoreDocument) -> list[str]:
        return ["receipt"] if state.awaiting_receipt_for is not None else []


def builtin_steps(workflow: Workflow | str) -> list[CheckoutStep]:
    """The built-in steps of ``workflow``, in order."""
    workflow = Workflow(workflow)
    steps: list[CheckoutStep] = []
    if workflow is Workflow.SHIPPING_AND_PICKUP:
        steps.append(DeliveryChoiceStep(DELIVERY_CHOICE, 100, ("delivery_method",)))
    if workflow.ships:
        steps.append(ShippingAddressStep(SHIPPING_ADDRESS, 200))
    if workflow.picks_up:
        steps.append(PickupLocationStep(PICKUP_LOCATION, 300, ("pickup_location",)))
    steps.append(ConfirmationStep(CONFIRMATION, 800))
    steps.append(PaymentProofStep(PAYMENT_PROOF, 900))
    return steps


async def checkout_steps(pm: pluggy.PluginManager | None, workflow: Workflow | str) -> list[Any]:
    """The built-in steps plus every plugin's, ordered by ``order`` (built-ins first on a
    tie). A plugin step without a ``name`` or a whole-number ``order`` is refused."""
    workflow = Workflow(workflow)
    steps: list[Any] = list(builtin_steps(workflow))
    if pm is not None:
        for step in flatten(
            await call_hook(pm, "register_checkout_steps", workflow=workflow.value)
        ):
            order = getattr(step, "order", None)
            if (
                not getattr(step, "name", None)
                or isinstance(order, bool)
                or not isinstance(order, int)
            ):
                raise TypeError(
                    f"a checkout step needs a name and a whole-number order, got {step!r}"
                )
            steps.append(step)
    return sorted(steps, key=lambda step: step.order)  # sorted() is stable


def next_step(state: ConversationState, store: StoreDocument, steps: Iterable[Any]) -> Any | None:
    """The first step that applies and still misses something (``None``: nothing to ask)."""
    for step in steps:
        if step_applies(step, state, store) and step_missing(step, state, store):
            return step
    return None


def steps_before(steps: Sequence[Any], name: str) -> list[Any]:
    """The steps ordered before the one called ``name``."""
    out = []
    for step in steps:
        if step.name == name:
            break
        out.append(step)
    return out
