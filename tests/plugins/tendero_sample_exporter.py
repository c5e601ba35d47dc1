"""A third-party exporter: tab-separated values with the order number and total."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, BinaryIO

from tendero import hookimpl


class TsvExporter:
    name = "tsv"
    label = "TSV (number, total)"
    media_type = "text/tab-separated-values; charset=utf-8"
    extension = "tsv"

    async def write(self, orders: AsyncIterator[dict[str, Any]], rows: str, out: BinaryIO) -> int:
        count = 0
        async for order in orders:
            out.write(f"{order['number']}\t{order['total']}\n".encode())
            count += 1
        return count


@hookimpl
def register_exporters() -> list[TsvExporter]:
    return [TsvExporter()]
