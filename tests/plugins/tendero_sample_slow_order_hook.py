"""A sample plugin whose ``order_created`` hook takes its time, like one that calls a slow
ERP or invoicing service inline.

The hook runs inside the turn that confirmed the order, after the order's transaction
committed and before the turn's own commit (its replies, its inbox row marked done). The
fault tests load it into ``tendero serve`` through an entry point and kill the process
while it waits: the order is stored, the turn is not.

Environment: ``TENDERO_SAMPLE_ORDER_HOOK_LOG`` (a file that gets the number of each order
announced, one per line) and ``TENDERO_SAMPLE_ORDER_HOOK_DELAY`` (seconds the hook waits
after writing it, default 0).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from tendero import hookimpl


@hookimpl
async def order_created(order: dict[str, Any]) -> None:
    log = os.environ.get("TENDERO_SAMPLE_ORDER_HOOK_LOG")
    if log:
        _announce(log, order["number"])
    await asyncio.sleep(float(os.environ.get("TENDERO_SAMPLE_ORDER_HOOK_DELAY", "0")))


def _announce(path: str, number: int) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"{number}\n")
