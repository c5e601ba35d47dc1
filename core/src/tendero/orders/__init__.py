"""Orders: statuses and their allowed moves, totals, the service, queries and JSON.

What other modules use::

    from tendero.orders import CartLine, create_order, change_status, order_to_json

The submodules: :mod:`~tendero.orders.status` (the rules for moves),
:mod:`~tendero.orders.totals` (pure pricing), :mod:`~tendero.orders.service` (writes),
:mod:`~tendero.orders.query` (filters and streaming reads),
:mod:`~tendero.orders.stats` (the Orders page counters and chart),
:mod:`~tendero.orders.serialize` (the contract's Order JSON) and
:mod:`~tendero.orders.events` (hooks fired after commit).
"""

from tendero.orders.events import (
    OrderEvent,
    order_transaction,
    publish_order_events,
    take_order_events,
)
from tendero.orders.query import (
    OrderCursor,
    OrderFilter,
    QueryPlan,
    count_orders,
    fetch_orders_page,
    iter_orders,
    plan_conditions,
)
from tendero.orders.serialize import order_detail_to_json, order_to_json
from tendero.orders.service import (
    Customer,
    OutOfStock,
    ProductUnavailable,
    QuoteChanged,
    StaleOrder,
    add_note,
    attach_receipt,
    change_payment_status,
    change_status,
    count_expired_unpaid,
    create_order,
    expire_unpaid_orders,
    get_order,
    latest_order_for_lead,
    price_cart,
    run_expiry_job,
)
from tendero.orders.stats import (
    DailyChannelSales,
    OrderCounters,
    daily_by_channel,
    order_counters,
)
from tendero.orders.status import (
    Actor,
    DeliveryMethod,
    IllegalStatusMove,
    OrderStatus,
    PaymentStatus,
    allowed_payment_moves,
    allowed_status_moves,
    check_payment_move,
    check_status_move,
)
from tendero.orders.totals import (
    CartLine,
    Quote,
    QuoteItem,
    deposit_amount,
    missing_for_free_shipping,
    quote,
    shipping_cost,
)

__all__ = [
    "Actor",
    "CartLine",
    "Customer",
    "DailyChannelSales",
    "DeliveryMethod",
    "IllegalStatusMove",
    "OrderCounters",
    "OrderCursor",
    "OrderEvent",
    "OrderFilter",
    "OrderStatus",
    "OutOfStock",
    "PaymentStatus",
    "ProductUnavailable",
    "QueryPlan",
    "Quote",
    "QuoteChanged",
    "QuoteItem",
    "StaleOrder",
    "add_note",
    "allowed_payment_moves",
    "allowed_status_moves",
    "attach_receipt",
    "change_payment_status",
    "change_status",
    "check_payment_move",
    "check_status_move",
    "count_expired_unpaid",
    "count_orders",
    "create_order",
    "daily_by_channel",
    "deposit_amount",
    "expire_unpaid_orders",
    "fetch_orders_page",
    "get_order",
    "iter_orders",
    "latest_order_for_lead",
    "missing_for_free_shipping",
    "order_counters",
    "order_detail_to_json",
    "order_to_json",
    "order_transaction",
    "plan_conditions",
    "price_cart",
    "publish_order_events",
    "quote",
    "run_expiry_job",
    "shipping_cost",
    "take_order_events",
]
