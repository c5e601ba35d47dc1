"""JSON lines export: each order object exactly as given, one per line.

This is the ORDER JSON of the contract — the same objects the API
returns — so ``rows`` does not apply: items stay nested in their order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

import orjson
from tendero.exporting import check_rows, drain

BATCH_BYTES = 64 * 1024


def _default(value: Any) -> Any:
    # Orders arrive JSON-ready (money as strings); this only guards hand-built dicts.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


class JsonLinesExporter:
    """Orders as JSON lines (UTF-8, one object per line, ``\\n`` line ends)."""

    name = "json"
    label = "JSON lines"
    media_type = "application/x-ndjson"
    extension = "jsonl"

    async def write(self, orders: AsyncIterator[dict[str, Any]], rows: str, out: BinaryIO) -> int:
        check_rows(rows)
        buffer = bytearray()
        count = 0
        async for order in orders:
            buffer += orjson.dumps(order, default=_default)
            buffer += b"\n"
            count += 1
            if len(buffer) >= BATCH_BYTES:
                out.write(bytes(buffer))
                buffer.clear()
                await drain(out)
        out.write(bytes(buffer))
        await drain(out)
        return count
