"""Order and payment statuses, and every move allowed between them (the one place).

Order status follows the delivery method::

    shipping  new -> processing -> shipped -> delivered
    pickup    new -> preparing -> ready_for_pickup -> picked_up

and any status that is not final may move to ``cancelled``. Forward moves are the
merchant's; ``cancelled`` may also come from the system (unpaid-order expiry). The agent
creates orders but never moves them.

Payment status is its own machine. A receipt from the customer moves it to
``proof_received``; only a merchant, checking the bank, may say money arrived
(``paid``/``deposit_paid``), reject a receipt or record a refund — never the agent
and never the system.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from tendero.errors import Conflict, ValidationFailed


class OrderStatus(StrEnum):
    NEW = "new"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    PREPARING = "preparing"
    READY_FOR_PICKUP = "ready_for_pickup"
    PICKED_UP = "picked_up"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


class PaymentStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PROOF_RECEIVED = "proof_received"
    PAID = "paid"
    DEPOSIT_PAID = "deposit_paid"
    NOT_REQUIRED = "not_required"
    REJECTED = "rejected"
    REFUNDED = "refunded"


class DeliveryMethod(StrEnum):
    SHIPPING = "shipping"
    PICKUP = "pickup"


class Actor(StrEnum):
    AGENT = "agent"
    MERCHANT = "merchant"
    SYSTEM = "system"


class IllegalStatusMove(Conflict):
    """A status or payment move the rules do not allow from the order's current state."""


FINAL_STATUSES = frozenset({OrderStatus.DELIVERED, OrderStatus.PICKED_UP, OrderStatus.CANCELLED})

# The forward path of each delivery method; cancellation is added by the rule below.
STATUS_FLOWS: dict[DeliveryMethod, tuple[OrderStatus, ...]] = {
    DeliveryMethod.SHIPPING: (
        OrderStatus.NEW,
        OrderStatus.PROCESSING,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
    ),
    DeliveryMethod.PICKUP: (
        OrderStatus.NEW,
        OrderStatus.PREPARING,
        OrderStatus.READY_FOR_PICKUP,
        OrderStatus.PICKED_UP,
    ),
}

# Who may make a move into each status: forward moves are the merchant's; the system
# cancels expired orders; the agent never moves an order.
STATUS_ACTORS: dict[OrderStatus, frozenset[Actor]] = {
    status: frozenset({Actor.MERCHANT}) for status in OrderStatus
} | {OrderStatus.CANCELLED: frozenset({Actor.MERCHANT, Actor.SYSTEM})}

PAYMENT_MOVES: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.AWAITING_PAYMENT: frozenset(
        {PaymentStatus.PROOF_RECEIVED, PaymentStatus.PAID, PaymentStatus.DEPOSIT_PAID}
    ),
    PaymentStatus.PROOF_RECEIVED: frozenset(
        {PaymentStatus.PAID, PaymentStatus.DEPOSIT_PAID, PaymentStatus.REJECTED}
    ),
    # A rejected receipt: the customer may send a new one, or the merchant finds the
    # money after all (the same direct confirmation allowed from awaiting_payment).
    PaymentStatus.REJECTED: frozenset(
        {PaymentStatus.PROOF_RECEIVED, PaymentStatus.PAID, PaymentStatus.DEPOSIT_PAID}
    ),
    PaymentStatus.PAID: frozenset({PaymentStatus.REFUNDED}),
    PaymentStatus.DEPOSIT_PAID: frozenset({PaymentStatus.PAID, PaymentStatus.REFUNDED}),
    # Pickup without advance payment: the customer pays at the store.
    PaymentStatus.NOT_REQUIRED: frozenset({PaymentStatus.PAID}),
    PaymentStatus.REFUNDED: frozenset(),
}

# Statuses that say something about money received: a merchant's verdict only.
MERCHANT_ONLY_PAYMENT = frozenset(
    {PaymentStatus.PAID, PaymentStatus.DEPOSIT_PAID, PaymentStatus.REJECTED, PaymentStatus.REFUNDED}
)

E = TypeVar("E", bound=StrEnum)


def parse_enum(enum: type[E], value: Any, what: str) -> E:
    """``value`` as a member of ``enum``, or :class:`ValidationFailed` listing the choices."""
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(m.value for m in enum)
        raise ValidationFailed(f"unknown {what} {value!r}; use one of: {choices}") from None


def _names(enum: type[StrEnum], values: Iterable[StrEnum]) -> str:
    """``values`` in the enum's own order (the order a merchant reads the flow in)."""
    chosen = set(values)
    return ", ".join(m.value for m in enum if m in chosen) or "nothing"


# --- order status ------------------------------------------------------------------------


def status_moves(
    current: OrderStatus | str, delivery_method: DeliveryMethod | str
) -> frozenset[OrderStatus]:
    """Every status an order in ``current`` may move to (ignoring who asks)."""
    current = OrderStatus(current)
    if current in FINAL_STATUSES:
        return frozenset()
    flow = STATUS_FLOWS[DeliveryMethod(delivery_method)]
    allowed = {OrderStatus.CANCELLED}
    if current in flow:
        allowed.add(flow[flow.index(current) + 1])
    return frozenset(allowed)


def allowed_status_moves(
    current: OrderStatus | str, delivery_method: DeliveryMethod | str, actor: Actor | str
) -> frozenset[OrderStatus]:
    """The statuses ``actor`` may move an order in ``current`` to."""
    actor = Actor(actor)
    return frozenset(s for s in status_moves(current, delivery_method) if actor in STATUS_ACTORS[s])


def check_status_move(order: Any, to: OrderStatus | str, actor: Actor | str) -> OrderStatus:
    """Refuse, with a reason, a status move the rules do not allow; return the target.

    ``order`` needs ``number``, ``status`` and ``delivery_method``.
    """
    to = parse_enum(OrderStatus, to, "order status")
    actor = parse_enum(Actor, actor, "actor")
    current = OrderStatus(order.status)
    method = DeliveryMethod(order.delivery_method)
    label = f"order #{order.number}"
    if to == current:
        raise IllegalStatusMove(f"{label} is already {current}")
    moves = status_moves(current, method)
    if to not in moves:
        if current in FINAL_STATUSES:
            reason = f"{label} is {current}, a final status; it cannot move any more — not to {to}"
        else:
            reason = (
                f"{label} is {current}; it can move to: {_names(OrderStatus, moves)} — not to {to}"
            )
            other = next(m for m in DeliveryMethod if m != method)
            if to in STATUS_FLOWS[other] and to not in STATUS_FLOWS[method]:
                reason += f" (a {other} status)"
        raise IllegalStatusMove(reason)
    if actor not in STATUS_ACTORS[to]:
        who = " or ".join(sorted(STATUS_ACTORS[to]))
        raise IllegalStatusMove(
            f"{label}: only the {who} can move an order to {to}, not the {actor}"
        )
    return to


# --- payment status ----------------------------------------------------------------------


def deposit_applies(
    delivery_method: DeliveryMethod | str, deposit_amount: Decimal, total: Decimal
) -> bool:
    """``deposit_paid`` makes sense only for a pickup order whose deposit is part of the total."""
    return (
        DeliveryMethod(delivery_method) is DeliveryMethod.PICKUP
        and Decimal(0) < deposit_amount < total
    )


def payment_moves(current: PaymentStatus | str, *, deposit: bool) -> frozenset[PaymentStatus]:
    """Every payment status reachable from ``current`` (ignoring who asks).

    ``deposit``: whether the order has a partial deposit (see :func:`deposit_applies`).
    """
    moves = PAYMENT_MOVES[PaymentStatus(current)]
    if not deposit:
        moves = moves - {PaymentStatus.DEPOSIT_PAID}
    return moves


def payment_actor_may(actor: Actor | str, to: PaymentStatus | str) -> bool:
    """Whether ``actor`` may set payment status ``to`` (money verdicts are the merchant's)."""
    return PaymentStatus(to) not in MERCHANT_ONLY_PAYMENT or Actor(actor) is Actor.MERCHANT


def allowed_payment_moves(order: Any, actor: Actor | str) -> frozenset[PaymentStatus]:
    """The payment statuses ``actor`` may move ``order`` to."""
    moves = payment_moves(order.payment_status, deposit=_order_has_deposit(order))
    return frozenset(m for m in moves if payment_actor_may(actor, m))


def _order_has_deposit(order: Any) -> bool:
    return deposit_applies(order.delivery_method, order.deposit_amount, order.total)


def check_payment_move(order: Any, to: PaymentStatus | str, actor: Actor | str) -> PaymentStatus:
    """Refuse, with a reason, a payment move the rules do not allow; return the target.

    ``order`` needs ``number``, ``payment_status``, ``delivery_method``,
    ``deposit_amount`` and ``total``.
    """
    to = parse_enum(PaymentStatus, to, "payment status")
    actor = parse_enum(Actor, actor, "actor")
    current = PaymentStatus(order.payment_status)
    label = f"order #{order.number}"
    if to == current:
        raise IllegalStatusMove(f"{label} payment is already {current}")
    if not payment_actor_may(actor, to):
        raise IllegalStatusMove(
            f"{label}: only a merchant can set the payment to {to} "
            f"(the {actor} never decides that money was received, rejected or refunded)"
        )
    deposit = _order_has_deposit(order)
    moves = payment_moves(current, deposit=deposit)
    if to not in moves:
        reason = f"{label} payment is {current}; it can move to: {_names(PaymentStatus, moves)} — not to {to}"
        if to is PaymentStatus.DEPOSIT_PAID and not deposit:
            reason += (
                " (deposit_paid is only for pickup orders whose deposit is less than the total)"
            )
        raise IllegalStatusMove(reason)
    return to
