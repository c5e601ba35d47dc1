"""The status and payment rules, pair by pair (pure: no database)."""

from __future__ import annotations

from decimal import Decimal
from itertools import product
from types import SimpleNamespace

import pytest
from tendero.errors import ValidationFailed
from tendero.orders import (
    Actor,
    IllegalStatusMove,
    OrderStatus,
    PaymentStatus,
    allowed_payment_moves,
    allowed_status_moves,
    check_payment_move,
    check_status_move,
)

S, P = OrderStatus, PaymentStatus

# Written out by hand from PRODUCT.md §5, not derived from the code under test.
STATUS_ALLOWED = {
    "shipping": {
        (S.NEW, S.PROCESSING),
        (S.NEW, S.CANCELLED),
        (S.PROCESSING, S.SHIPPED),
        (S.PROCESSING, S.CANCELLED),
        (S.SHIPPED, S.DELIVERED),
        (S.SHIPPED, S.CANCELLED),
    },
    "pickup": {
        (S.NEW, S.PREPARING),
        (S.NEW, S.CANCELLED),
        (S.PREPARING, S.READY_FOR_PICKUP),
        (S.PREPARING, S.CANCELLED),
        (S.READY_FOR_PICKUP, S.PICKED_UP),
        (S.READY_FOR_PICKUP, S.CANCELLED),
    },
}
REACHABLE = {
    "shipping": [S.NEW, S.PROCESSING, S.SHIPPED, S.DELIVERED, S.CANCELLED],
    "pickup": [S.NEW, S.PREPARING, S.READY_FOR_PICKUP, S.PICKED_UP, S.CANCELLED],
}
STATUS_CASES = [
    (method, current, to)
    for method, states in REACHABLE.items()
    for current, to in product(states, OrderStatus)
]

PAYMENT_ALLOWED = {
    (P.AWAITING_PAYMENT, P.PROOF_RECEIVED),
    (P.AWAITING_PAYMENT, P.PAID),
    (P.AWAITING_PAYMENT, P.DEPOSIT_PAID),
    (P.PROOF_RECEIVED, P.PAID),
    (P.PROOF_RECEIVED, P.DEPOSIT_PAID),
    (P.PROOF_RECEIVED, P.REJECTED),
    (P.REJECTED, P.PROOF_RECEIVED),
    (P.REJECTED, P.PAID),
    (P.REJECTED, P.DEPOSIT_PAID),
    (P.PAID, P.REFUNDED),
    (P.DEPOSIT_PAID, P.PAID),
    (P.DEPOSIT_PAID, P.REFUNDED),
    (P.NOT_REQUIRED, P.PAID),
}
PAYMENT_CASES = list(product(PaymentStatus, PaymentStatus))


def order(
    status: str = "new",
    method: str = "shipping",
    payment: str = "awaiting_payment",
    *,
    deposit: str = "0",
    total: str = "1000",
) -> SimpleNamespace:
    return SimpleNamespace(
        number=1001,
        status=status,
        delivery_method=method,
        payment_status=payment,
        deposit_amount=Decimal(deposit),
        total=Decimal(total),
    )


@pytest.mark.parametrize(("method", "current", "to"), STATUS_CASES)
def test_merchant_status_moves_are_exactly_the_allowed_ones(method: str, current: S, to: S) -> None:
    o = order(current, method)
    if (current, to) in STATUS_ALLOWED[method]:
        assert check_status_move(o, to, Actor.MERCHANT) is to
        assert to in allowed_status_moves(current, method, Actor.MERCHANT)
    else:
        with pytest.raises(IllegalStatusMove) as caught:
            check_status_move(o, to, Actor.MERCHANT)
        assert caught.value.http_status == 409
        assert "#1001" in str(caught.value) and str(to) in str(caught.value)
        assert to not in allowed_status_moves(current, method, Actor.MERCHANT)


@pytest.mark.parametrize(("method", "current", "to"), STATUS_CASES)
def test_system_may_only_cancel_and_agent_never_moves_an_order(
    method: str, current: S, to: S
) -> None:
    o = order(current, method)
    if (current, to) in STATUS_ALLOWED[method] and to is S.CANCELLED:
        check_status_move(o, to, Actor.SYSTEM)
    else:
        with pytest.raises(IllegalStatusMove):
            check_status_move(o, to, Actor.SYSTEM)
    with pytest.raises(IllegalStatusMove):
        check_status_move(o, to, Actor.AGENT)


def test_refusal_names_the_state_the_allowed_moves_and_the_wrong_flow() -> None:
    with pytest.raises(IllegalStatusMove) as caught:
        check_status_move(order("shipped"), "preparing", "merchant")
    assert str(caught.value) == (
        "order #1001 is shipped; it can move to: delivered, cancelled — not to preparing (a pickup status)"
    )
    with pytest.raises(IllegalStatusMove, match="delivered, a final status"):
        check_status_move(order("delivered"), "cancelled", "merchant")
    with pytest.raises(IllegalStatusMove, match="already new"):
        check_status_move(order("new"), "new", "merchant")
    with pytest.raises(
        ValidationFailed, match="unknown order status 'sent'; use one of: new, processing"
    ):
        check_status_move(order("new"), "sent", "merchant")


@pytest.mark.parametrize(("current", "to"), PAYMENT_CASES)
def test_merchant_payment_moves_on_a_pickup_order_with_a_deposit(current: P, to: P) -> None:
    o = order(method="pickup", payment=current, deposit="300", total="1000")
    if (current, to) in PAYMENT_ALLOWED:
        assert check_payment_move(o, to, Actor.MERCHANT) is to
        assert to in allowed_payment_moves(o, Actor.MERCHANT)
    else:
        with pytest.raises(IllegalStatusMove):
            check_payment_move(o, to, Actor.MERCHANT)
        assert to not in allowed_payment_moves(o, Actor.MERCHANT)


@pytest.mark.parametrize(
    "kind",
    [
        {"method": "shipping", "deposit": "0"},
        {"method": "pickup", "deposit": "0"},
        {"method": "pickup", "deposit": "1000"},  # 100% advance payment: simply paid
    ],
    ids=["shipping", "pickup-no-deposit", "pickup-full-deposit"],
)
@pytest.mark.parametrize(("current", "to"), PAYMENT_CASES)
def test_deposit_paid_only_when_a_partial_deposit_exists(
    kind: dict[str, str], current: P, to: P
) -> None:
    o = order(payment=current, total="1000", **kind)
    expected = (current, to) in PAYMENT_ALLOWED and to is not P.DEPOSIT_PAID
    if expected:
        check_payment_move(o, to, Actor.MERCHANT)
    else:
        with pytest.raises(IllegalStatusMove):
            check_payment_move(o, to, Actor.MERCHANT)


@pytest.mark.parametrize("actor", [Actor.AGENT, Actor.SYSTEM])
@pytest.mark.parametrize(("current", "to"), PAYMENT_CASES)
def test_only_a_merchant_decides_about_money(actor: Actor, current: P, to: P) -> None:
    o = order(method="pickup", payment=current, deposit="300", total="1000")
    if (current, to) in PAYMENT_ALLOWED and to is P.PROOF_RECEIVED:
        check_payment_move(o, to, actor)
    else:
        with pytest.raises(IllegalStatusMove):
            check_payment_move(o, to, actor)


def test_agent_marking_paid_is_refused_with_the_reason() -> None:
    with pytest.raises(IllegalStatusMove, match="only a merchant can set the payment to paid"):
        check_payment_move(order(payment="proof_received"), "paid", "agent")


def test_deposit_paid_refusal_explains_the_rule() -> None:
    with pytest.raises(IllegalStatusMove, match="only for pickup orders whose deposit is less"):
        check_payment_move(order(payment="proof_received"), "deposit_paid", "merchant")
