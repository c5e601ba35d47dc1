"""Exports stream: thousands of orders go through each exporter with flat memory.

The orders come from an async generator (as the orders service yields them from a
database cursor) and the output goes to a sink that keeps nothing. To stay cheap, memory
is traced only over a window of orders in the middle of the export: what the exporter
still holds at the end of the window must be far less than the output of that window.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tendero.exporting import ChunkedSink

MB = 1024 * 1024


class CountingSink:
    """A binary writer that keeps nothing: only counts bytes and writes."""

    def __init__(self) -> None:
        self.bytes = 0
        self.writes = 0
        self.largest = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        self.writes += 1
        self.largest = max(self.largest, len(data))
        return len(data)


class SyntheticOrders:
    """``count`` fresh order dicts; traces memory from order ``window[0]`` to ``window[1]``
    and notes how many bytes the sink had received when half the orders were read."""

    def __init__(
        self, template: dict[str, Any], count: int, window: tuple[int, int], sink: CountingSink
    ) -> None:
        self.template, self.count, self.window, self.sink = template, count, window, sink
        self.held_in_window = 0
        self.bytes_at_half = 0

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        start, end = self.window
        for number in range(1, self.count + 1):
            if number == start:
                tracemalloc.start()
            if number == end:
                self.held_in_window, _ = tracemalloc.get_traced_memory()
                tracemalloc.stop()
            if number == self.count // 2:
                self.bytes_at_half = self.sink.bytes
            customer = dict(self.template["customer"], name=f"Cliente {number} Muñoz")
            yield self.template | {"number": number, "customer": customer}


@pytest.mark.parametrize(
    "name, rows, count, window",
    [
        ("csv", "orders", 20_000, (10_000, 15_000)),
        ("csv", "items", 20_000, (10_000, 12_500)),
        ("json", "orders", 20_000, (10_000, 15_000)),
        ("xlsx", "orders", 5_000, (2_000, 4_000)),
    ],
)
async def test_many_orders_stream_in_flat_memory(
    exporters: dict[str, Any],
    make_order: Any,
    name: str,
    rows: str,
    count: int,
    window: tuple[int, int],
) -> None:
    sink = CountingSink()
    orders = SyntheticOrders(make_order(), count, window, sink)
    try:
        written = await exporters[name].write(orders.__aiter__(), rows, sink)
    finally:
        tracemalloc.stop()
    assert written == (count * 2 if rows == "items" else count)
    # Held after thousands of orders: a buffer at most, never the rows themselves
    # (5,000 CSV rows are ~1.6 MB of text; 2,000 XLSX rows are 50,000 cells).
    assert orders.held_in_window < 1 * MB, f"held {orders.held_in_window / MB:.2f} MB"
    if name == "xlsx":  # the workbook is zipped at the end, then copied in chunks
        assert sink.largest <= 1 * MB
    else:  # text formats are written while the orders are still being read
        assert orders.bytes_at_half > 0.4 * sink.bytes
        assert sink.largest < 256 * 1024


async def test_chunked_sink_sends_between_batches(
    exporters: dict[str, Any], make_order: Any
) -> None:
    sent: list[int] = []

    async def send(chunk: bytes) -> None:
        sent.append(len(chunk))

    async def orders() -> AsyncIterator[dict[str, Any]]:
        for number in range(2_000):
            yield make_order(number=number)

    sink = ChunkedSink(send)
    assert await exporters["csv"].write(orders(), "orders", sink) == 2_000
    assert len(sent) > 5 and max(sent) < 256 * 1024
    assert sink.bytes_sent == sum(sent)
