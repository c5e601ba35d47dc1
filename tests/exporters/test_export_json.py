"""JSON lines export: each order object exactly as given, one per line."""

from __future__ import annotations

import io
import json
from typing import Any


async def test_round_trip(
    exporters: dict[str, Any], make_order: Any, pickup_order: Any, aiter: Any
) -> None:
    orders = [make_order(), pickup_order(), make_order(number=1003, customer_name="=1+1")]
    out = io.BytesIO()
    count = await exporters["json"].write(aiter(orders), "orders", out)
    assert count == 3
    lines = out.getvalue().decode("utf-8").splitlines()
    assert len(lines) == 3
    assert [json.loads(line) for line in lines] == orders
    assert "José Ñúñez" in lines[0]  # real UTF-8, not \u escapes
    assert out.getvalue().endswith(b"}\n")


async def test_rows_mode_does_not_change_the_objects(
    exporters: dict[str, Any], make_order: Any, aiter: Any
) -> None:
    out = io.BytesIO()
    count = await exporters["json"].write(aiter([make_order()]), "items", out)
    assert count == 1
    assert json.loads(out.getvalue()) == make_order()


def test_describes_itself(exporters: dict[str, Any]) -> None:
    json_exporter = exporters["json"]
    assert (json_exporter.name, json_exporter.media_type, json_exporter.extension) == (
        "json",
        "application/x-ndjson",
        "jsonl",
    )
