"""Totals: free-shipping boundary, deposits rounded half-up, currencies (pure)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from tendero.orders import CartLine, deposit_amount, missing_for_free_shipping, quote

from .conftest import make_store


def catalog(*prices: str) -> dict[int, SimpleNamespace]:
    return {
        i: SimpleNamespace(id=i, sku=f"SKU-{i}", name=f"Product {i}", price=Decimal(p))
        for i, p in enumerate(prices, start=1)
    }


@pytest.mark.parametrize(
    ("price", "shipping", "total", "missing"),
    [
        ("999.99", "99.00", "1098.99", "0.01"),  # just below the threshold
        ("1000.00", "0.00", "1000.00", "0.00"),  # exactly at it: free
        ("1000.01", "0.00", "1000.01", "0.00"),  # above
    ],
)
def test_free_shipping_at_or_over_the_threshold(
    price: str, shipping: str, total: str, missing: str
) -> None:
    store = make_store(flat_rate="99", free_threshold="1000")
    q = quote([CartLine(1, 1)], catalog(price), store, "shipping")
    assert q.subtotal == Decimal(price)
    assert q.shipping_cost == Decimal(shipping)
    assert q.total == Decimal(total)
    assert q.deposit_amount == 0
    assert q.amount_due_now == q.total
    assert missing_for_free_shipping(q.subtotal, store) == Decimal(missing)


def test_no_threshold_never_ships_free() -> None:
    store = make_store(flat_rate="150", free_threshold=None)
    q = quote([CartLine(1, 100)], catalog("1000"), store, "shipping")
    assert (q.subtotal, q.shipping_cost, q.total) == (
        Decimal("100000.00"),
        Decimal("150.00"),
        Decimal("100150.00"),
    )
    assert missing_for_free_shipping(q.subtotal, store) is None


def test_lines_multiply_and_merge_and_keep_snapshots() -> None:
    q = quote(
        [CartLine(1, 2), CartLine(2, 1), CartLine(1, 1)],
        catalog("124.95", "0.10"),
        make_store(),
        "shipping",
    )
    assert [(i.product_id, i.quantity, i.unit_price, i.line_total, i.sku) for i in q.items] == [
        (1, 3, Decimal("124.95"), Decimal("374.85"), "SKU-1"),
        (2, 1, Decimal("0.10"), Decimal("0.10"), "SKU-2"),
    ]
    assert q.subtotal == Decimal("374.95")
    assert all(
        isinstance(v, Decimal) for v in (q.subtotal, q.shipping_cost, q.total, q.deposit_amount)
    )


def test_pickup_never_charges_shipping() -> None:
    q = quote([CartLine(1, 1)], catalog("10"), make_store(flat_rate="99"), "pickup")
    assert q.shipping_cost == 0 and q.total == Decimal("10.00")
    assert q.deposit_amount == 0 and q.amount_due_now == 0


@pytest.mark.parametrize(
    ("currency", "percent", "price", "deposit"),
    [
        ("MXN", 30, "333.35", "100.01"),  # 100.005 -> half-up
        ("MXN", 15, "100.10", "15.02"),  # 15.015 -> half-up
        ("MXN", 15, "100.03", "15.00"),  # 15.0045 -> down
        ("MXN", 100, "333.35", "333.35"),
        ("USD", 50, "0.01", "0.01"),  # 0.005 -> half-up
        ("JPY", 15, "1010", "152"),  # 151.5 -> 152, no decimals
        ("JPY", 30, "1001", "300"),  # 300.3 -> 300
    ],
)
def test_deposit_is_rounded_half_up_to_the_minor_unit(
    currency: str, percent: int, price: str, deposit: str
) -> None:
    store = make_store(currency=currency, advance_percent=percent)
    q = quote([CartLine(1, 1)], catalog(price), store, "pickup")
    assert q.deposit_amount == Decimal(deposit)
    assert str(q.deposit_amount) == deposit  # exact minor units, "152" for JPY
    assert q.amount_due_now == q.deposit_amount


def test_shipping_orders_carry_no_deposit_even_with_advance_payment_on() -> None:
    store = make_store(advance_percent=30)
    assert deposit_amount(Decimal("500"), store, "shipping") == 0
    assert quote([CartLine(1, 1)], catalog("500"), store, "shipping").deposit_amount == 0


def test_jpy_totals_have_no_decimals() -> None:
    store = make_store(currency="JPY", flat_rate="500", free_threshold="5000")
    q = quote([CartLine(1, 3)], catalog("1200"), store, "shipping")
    assert (str(q.subtotal), str(q.shipping_cost), str(q.total)) == ("3600", "500", "4100")
