"""``tendero orders`` as a real process: export, show, expire, and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tendero.db import Database

from ..conftest import CLI
from .conftest import add_product, make_store, place, stock_of


async def seed(db: Database) -> int:
    pid = await add_product(db, "Proteína Chocolate", "499.50", stock=10, sku="PRO-CHO")
    store = make_store()
    await place(db, store, [(pid, 1)], now=datetime(2026, 1, 10, 18, tzinfo=UTC))
    await place(
        db,
        store,
        [(pid, 2)],
        method="pickup",
        now=datetime(2026, 2, 10, 18, tzinfo=UTC),
        channel="facebook",
    )
    await place(db, store, [(pid, 3)], now=datetime.now(UTC) - timedelta(hours=1))
    return pid


async def test_export_json_lines_to_stdout_with_filters(db: Database, cli: CLI) -> None:
    await seed(db)
    result = cli("orders", "export", "--format", "json", check=True)
    lines = result.stdout.splitlines()
    orders = [json.loads(line) for line in lines]
    assert [o["number"] for o in orders] == [1003, 1002, 1001]
    assert orders[2]["items"] == [
        {
            "sku": "PRO-CHO",
            "name": "Proteína Chocolate",
            "quantity": 1,
            "unit_price": "499.50",
            "line_total": "499.50",
        },
    ]
    assert "Exported 3 orders" in result.stderr  # messages on stderr only

    result = cli(
        "orders",
        "export",
        "--format",
        "json",
        "--channel",
        "facebook",
        "--status",
        "new",
        "--payment-status",
        "not_required",
        "--since",
        "2026-01-11",
        "--until",
        "2026-02-28",
        check=True,
    )
    assert [json.loads(line)["number"] for line in result.stdout.splitlines()] == [1002]


async def test_export_to_a_file_in_every_built_in_format(
    db: Database, cli: CLI, tmp_path: Path
) -> None:
    await seed(db)
    for fmt in ("csv", "xlsx"):
        target = tmp_path / f"orders.{fmt}"
        result = cli(
            "orders",
            "export",
            "--format",
            fmt,
            "--rows",
            "items",
            "--output",
            str(target),
            check=True,
        )
        assert result.stdout == ""
        assert target.stat().st_size > 0
    assert "Proteína Chocolate" in (tmp_path / "orders.csv").read_text("utf-8-sig")


@pytest.fixture
def sqlite_cli(tmp_path: Path, sqlite_url: str) -> CLI:
    """The CLI on SQLite only, for checks that never reach the database."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    return CLI(data_dir, sqlite_url)


def test_bad_filter_values_and_formats_are_clear_usage_errors(sqlite_cli: CLI) -> None:
    cli = sqlite_cli
    result = cli("orders", "export", "--format", "json", "--status", "sent")
    assert result.returncode == 2
    assert "unknown value 'sent'; use one of: new, processing, shipped" in result.stderr
    assert result.stdout == ""
    result = cli("orders", "export", "--format", "json", "--since", "10/01/2026")
    assert result.returncode == 2 and "YYYY-MM-DD" in result.stderr
    result = cli("orders", "export", "--format", "pdf")
    assert result.returncode == 2
    assert "no exporter named 'pdf'; available:" in result.stderr and "json" in result.stderr


async def test_show_and_expire(db: Database, cli: CLI) -> None:
    pid = await seed(db)
    shown = json.loads(cli("orders", "show", "1002", check=True).stdout)
    assert shown["number"] == 1002 and shown["delivery_method"] == "pickup"
    assert [h["to"] for h in shown["history"]] == ["new", "not_required"]
    missing = cli("orders", "show", "999")
    assert missing.returncode == 1 and "order #999 does not exist" in missing.stderr

    result = cli("orders", "expire", check=True)
    assert result.stdout.split() == ["1001"]  # 1002 needs no payment; 1003 is recent
    assert await stock_of(db, pid) == 5
    assert cli("orders", "expire", check=True).stdout == ""
