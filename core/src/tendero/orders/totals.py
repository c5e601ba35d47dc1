"""Order totals: pure functions from cart lines, catalog prices and the store settings.

No database here: the agent uses these to read back a cart before confirmation and the
order service uses the very same functions when it creates the order, so what the
customer confirmed is what gets stored. All amounts are ``Decimal`` rounded half-up to
the currency's minor unit through :mod:`tendero.money`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from tendero.money import ZERO, percent_of, quantize
from tendero.orders.status import DeliveryMethod
from tendero.store.document import StoreDocument


@dataclass(frozen=True)
class CartLine:
    """One line of a cart: a product and how many of it."""

    product_id: int
    quantity: int


class PricedProduct(Protocol):
    """What totals need from a catalog product (a ``Product`` row fits)."""

    id: int
    sku: str | None
    name: str
    price: Decimal


@dataclass(frozen=True)
class QuoteItem:
    product_id: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


@dataclass(frozen=True)
class Quote:
    """The priced cart for one delivery method: what the customer is asked to confirm."""

    items: tuple[QuoteItem, ...]
    subtotal: Decimal
    shipping_cost: Decimal
    deposit_amount: Decimal
    total: Decimal
    currency: str
    delivery_method: DeliveryMethod

    @property
    def amount_due_now(self) -> Decimal:
        """What the customer transfers before the order goes ahead (0 = nothing now)."""
        if self.delivery_method is DeliveryMethod.SHIPPING:
            return self.total
        return self.deposit_amount


def merge_lines(lines: Iterable[CartLine]) -> list[CartLine]:
    """One line per product (quantities added), in the order products first appear."""
    merged: dict[int, int] = {}
    for line in lines:
        merged[line.product_id] = merged.get(line.product_id, 0) + line.quantity
    return [CartLine(pid, qty) for pid, qty in merged.items()]


def shipping_cost(subtotal: Decimal, store: StoreDocument) -> Decimal:
    """The flat rate, or 0 once the subtotal reaches the free-shipping threshold."""
    threshold = store.shipping.free_threshold
    if threshold is not None and subtotal >= threshold:
        return quantize(ZERO, store.currency)
    return quantize(store.shipping.flat_rate, store.currency)


def missing_for_free_shipping(subtotal: Decimal, store: StoreDocument) -> Decimal | None:
    """How much more subtotal buys free shipping: ``None`` when shipping is never free,
    0 when the cart already ships free."""
    threshold = store.shipping.free_threshold
    if threshold is None:
        return None
    return quantize(max(threshold - subtotal, ZERO), store.currency)


def deposit_amount(
    total: Decimal, store: StoreDocument, delivery_method: DeliveryMethod | str
) -> Decimal:
    """The advance payment asked for a pickup order (0 when advance payment is off).

    Shipping orders are paid in full by transfer, so their deposit is 0.
    """
    percent = store.pickup.advance_payment_percent
    if DeliveryMethod(delivery_method) is not DeliveryMethod.PICKUP or percent <= 0:
        return quantize(ZERO, store.currency)
    return percent_of(total, percent, store.currency)


def quote(
    lines: Iterable[CartLine],
    products: Mapping[int, PricedProduct],
    store: StoreDocument,
    delivery_method: DeliveryMethod | str,
) -> Quote:
    """Price ``lines`` with the catalog ``products`` (by id) under the store's rules.

    Lines for the same product are merged. Every product must be in ``products``
    (``KeyError`` otherwise: checking availability is the caller's job).
    """
    method = DeliveryMethod(delivery_method)
    currency = store.currency
    items = []
    for line in merge_lines(lines):
        product = products[line.product_id]
        unit_price = quantize(product.price, currency)
        items.append(
            QuoteItem(
                product_id=line.product_id,
                sku=product.sku or "",
                name=product.name,
                quantity=line.quantity,
                unit_price=unit_price,
                line_total=quantize(unit_price * line.quantity, currency),
            )
        )
    subtotal = quantize(sum((i.line_total for i in items), ZERO), currency)
    shipping = (
        shipping_cost(subtotal, store)
        if method is DeliveryMethod.SHIPPING
        else quantize(ZERO, currency)
    )
    total = subtotal + shipping
    return Quote(
        items=tuple(items),
        subtotal=subtotal,
        shipping_cost=shipping,
        deposit_amount=deposit_amount(total, store, method),
        total=total,
        currency=currency,
        delivery_method=method,
    )
