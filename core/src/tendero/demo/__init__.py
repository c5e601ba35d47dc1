"""The demo store and synthetic orders behind ``tendero demo``.

* :func:`load_demo_store` — Tienda Fit Roma's catalog and settings, into an empty
  database only.
* :func:`generate_orders` — N realistic historic orders in bulk (fast enough for
  1,000,000), for trying the panel at scale and for benchmarks.
"""

from tendero.demo.orders import DEFAULT_SEED, GeneratedOrders, generate_orders
from tendero.demo.store import (
    DEMO_STORE_NAME,
    DatabaseState,
    DemoStoreSummary,
    database_state,
    demo_document,
    load_demo_store,
)

__all__ = [
    "DEFAULT_SEED",
    "DEMO_STORE_NAME",
    "DatabaseState",
    "DemoStoreSummary",
    "GeneratedOrders",
    "database_state",
    "demo_document",
    "generate_orders",
    "load_demo_store",
]
