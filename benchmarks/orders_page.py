"""Benchmark the Orders page's data layer on a large store.

    python benchmarks/orders_page.py [--orders N] [--seed S] [--repeat R]
        [--postgres URL | --database URL] [--keep] [--export csv,xlsx] [--data-dir DIR]
        [--http URL --cookie NAME=VALUE]

Seeds ``N`` orders (default 200,000) with ``tendero demo --orders N`` into a fresh
database — a new SQLite file in a temp folder, or with ``--postgres`` a new database on
that server (dropped afterwards unless ``--keep``) — or, with ``--database URL``, uses
an existing, already seeded database as it is. Then measures, ``--repeat`` times each
after one warm-up, every read the Orders page makes, each in its own read session as a
request would: the first page, filtered pages, a page deep in the keyset, searches, the
header counters and the 30-day chart. Last, it exports the whole table with ``tendero
orders export`` as a process per format and reports its wall time and peak RSS.

``--http URL`` measures the real page instead of the query layer: GET ``URL`` with the
same filters as query parameters (``--cookie`` carries the panel session), same cases.

Figures go to stderr as a table; the last stdout line is JSON for ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

TENDERO = Path(sys.executable).parent / "tendero"
TIMEZONE = "America/Mexico_City"  # the demo store's


@dataclass(frozen=True)
class Case:
    """One thing the page asks for: a label, the filter as keyword arguments (also the
    query string in --http mode), and whether it is a page, the counters or the chart."""

    label: str
    kind: str  # page | count | counters | chart
    filters: dict[str, Any]
    after: tuple[datetime, int] | None = None


async def _admin(url: sa.URL, sql: str) -> object:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            result = await conn.execute(sa.text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


def _env(data_dir: Path, database_url: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TENDERO_")} | {
        "TENDERO_DATA_DIR": str(data_dir),
        "TENDERO_DATABASE_URL": database_url,
    }


def seed(n: int, seed_value: int, data_dir: Path, database_url: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(TENDERO), "demo", "--orders", str(n), "--seed", str(seed_value)],
        env=_env(data_dir, database_url),
        cwd=data_dir.parent,
        check=True,
        stdout=sys.stderr,
    )
    return time.perf_counter() - started


async def pick_cases(database_url: str) -> list[Case]:
    """Cases built from the data itself: a real customer name, SKU, number, phone."""
    from tendero.db import Database
    from tendero.db.models import Order, OrderItem

    db = Database(database_url)
    try:
        async with db.read_session() as session:
            total = int(await session.scalar(sa.select(sa.func.count()).select_from(Order)) or 0)
            middle = await session.scalar(
                sa.select(Order)
                .order_by(Order.created_at.desc(), Order.id.desc())
                .offset(total // 2)
                .limit(1)
            )
            sample = await session.scalar(
                sa.select(Order)
                .where(Order.customer_phone != "")
                .order_by(Order.created_at.desc())
                .offset(total // 3)
                .limit(1)
            )
            assert middle is not None and sample is not None, "no orders to measure"
            sku = await session.scalar(
                sa.select(OrderItem.sku).where(OrderItem.order_id == sample.id).limit(1)
            )
    finally:
        await db.dispose()
    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    week = {"since": today - timedelta(days=6), "until": today, "timezone": TIMEZONE}
    month = {"since": today - timedelta(days=29), "until": today, "timezone": TIMEZONE}
    name = " ".join(sample.customer_name.split()[:2])  # first name and surname
    return [
        Case("first_page", "page", {}),
        Case("status_new", "page", {"status": "new"}),
        Case("status_delivered", "page", {"status": "delivered"}),
        Case("channel_last_week", "page", {"channel": "facebook", **week}),
        Case("cancelled_refunded", "page", {"status": "cancelled", "payment_status": "refunded"}),
        # Two filters whose rows never meet: the smaller one is read to its end.
        Case(
            "delivered_refunded_none", "page", {"status": "delivered", "payment_status": "refunded"}
        ),
        Case(
            "pickup_location",
            "page",
            {"delivery_method": "pickup", "pickup_location": "Sucursal Del Valle"},
        ),
        Case("deep_page", "page", {}, after=(middle.created_at, middle.id)),
        Case("search_name", "page", {"search": name}),
        Case("search_common_name", "page", {"search": "maria"}),
        Case("search_sku", "page", {"search": sku or "tfr"}),
        Case("search_number", "page", {"search": f"#{middle.number}"}),
        Case("search_phone", "page", {"search": sample.customer_phone[-8:]}),
        Case("count_all", "count", {}),
        Case("count_search_name", "count", {"search": name}),
        Case("counters_all", "counters", {}),
        Case("counters_last_30_days", "counters", month),
        Case("chart_30_days", "chart", {}),
    ]


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _measure(run: Callable[[], Awaitable[Any]], repeat: int) -> tuple[list[float], Any]:
    result = await run()  # warm-up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


async def measure_queries(database_url: str, cases: list[Case], repeat: int) -> dict[str, Any]:
    from tendero.db import Database
    from tendero.orders import (
        OrderCursor,
        OrderFilter,
        count_orders,
        daily_by_channel,
        fetch_orders_page,
        order_counters,
    )

    db = Database(database_url)
    figures: dict[str, Any] = {}
    try:
        for case in cases:
            order_filter = OrderFilter(**case.filters)
            after = OrderCursor(*case.after) if case.after else None

            async def run(
                case: Case = case, order_filter: OrderFilter = order_filter, after: Any = after
            ) -> Any:
                async with db.read_session() as session:
                    if case.kind == "page":
                        page, _ = await fetch_orders_page(session, order_filter, 50, after)
                        return len(page)
                    if case.kind == "count":
                        return await count_orders(session, order_filter)
                    if case.kind == "counters":
                        return await order_counters(session, order_filter)
                    return len(await daily_by_channel(session, 30, TIMEZONE))

            samples, result = await _measure(run, repeat)
            _record(figures, case.label, samples, result)
    finally:
        await db.dispose()
    return figures


async def measure_http(url: str, cookie: str, cases: list[Case], repeat: int) -> dict[str, Any]:
    """The same cases as GETs of the panel's Orders page (filters as its query parameters:
    ``status``, ``payment_status``, ``channel``, ``delivery_method``, ``pickup_location``,
    ``since``, ``until``, ``q``, ``after``)."""
    import aiohttp

    name, _, value = cookie.partition("=")
    figures: dict[str, Any] = {}
    async with aiohttp.ClientSession(cookies={name: value}) as client:
        for case in cases:
            if case.kind in ("count", "counters", "chart"):
                continue  # the page renders them; no endpoint of their own to time
            params = {
                ("q" if key == "search" else key): str(val)
                for key, val in case.filters.items()
                if key != "timezone"
            }
            if case.after:
                from tendero.orders import OrderCursor

                params["after"] = OrderCursor(*case.after).encode()

            async def run(params: dict[str, str] = params) -> int:
                async with client.get(url, params=params, allow_redirects=False) as response:
                    await response.read()
                    if response.status != 200:
                        raise SystemExit(f"GET {response.url} answered {response.status}")
                    return response.status

            samples, result = await _measure(run, repeat)
            _record(figures, f"http_{case.label}", samples, result)
    return figures


def _record(figures: dict[str, Any], label: str, samples: list[float], result: Any) -> None:
    p50, p95 = statistics.median(samples), _percentile(samples, 0.95)
    figures[f"{label}_p50_ms"] = round(p50, 2)
    figures[f"{label}_p95_ms"] = round(p95, 2)
    shown = result if isinstance(result, int) else type(result).__name__
    print(f"{label:<24} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms   ({shown})", file=sys.stderr)


def measure_export(fmt: str, data_dir: Path, database_url: str) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MB) of the exporting process, and the file size."""
    target = data_dir / f"export.{fmt}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(TENDERO), "orders", "export", "--format", fmt, "--output", str(target)],
        env=_env(data_dir, database_url),
        cwd=data_dir.parent,
    )
    _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"tendero orders export --format {fmt} exited {process.returncode}")
    size = target.stat().st_size
    target.unlink()
    return elapsed, usage.ru_maxrss / 1024, size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=20)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--postgres", metavar="URL", help="seed a new database on this server")
    where.add_argument("--database", metavar="URL", help="use this seeded database as it is")
    parser.add_argument("--keep", action="store_true", help="keep the new database")
    parser.add_argument("--export", default="csv,xlsx", help="formats to export ('' for none)")
    parser.add_argument("--data-dir", type=Path, help="data folder (default: a temp folder)")
    parser.add_argument("--http", metavar="URL", help="GET the Orders page at URL instead")
    parser.add_argument("--cookie", default="", help="NAME=VALUE of the panel session")
    args = parser.parse_args()

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tendero-bench-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        admin = name = None
        if args.database:
            url = args.database
        elif args.postgres:
            admin = sa.make_url(args.postgres).set(drivername="postgresql+asyncpg")
            name = f"tendero_bench_{uuid.uuid4().hex[:8]}"
            asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
            url = admin.set(database=name).render_as_string(hide_password=False)
        else:
            url = f"sqlite+aiosqlite:///{data_dir / 'bench.db'}"
        figures["engine"] = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
        try:
            if not args.database:
                figures["orders"] = args.orders
                figures["seed_seconds"] = round(seed(args.orders, args.seed, data_dir, url), 1)
                if name:
                    asyncio.run(_admin(admin.set(database=name), "VACUUM ANALYZE"))  # type: ignore[union-attr]
            cases = asyncio.run(pick_cases(url))
            if args.http:
                figures |= asyncio.run(measure_http(args.http, args.cookie, cases, args.repeat))
            else:
                figures |= asyncio.run(measure_queries(url, cases, args.repeat))
            for fmt in filter(None, args.export.split(",")):
                seconds, peak_mb, size = measure_export(fmt, data_dir, url)
                figures[f"export_{fmt}_seconds"] = round(seconds, 1)
                figures[f"export_{fmt}_peak_rss_mb"] = round(peak_mb, 1)
                print(
                    f"export {fmt:<5} {seconds:8.1f} s   peak RSS {peak_mb:7.1f} MB   "
                    f"{size / 1e6:,.1f} MB written",
                    file=sys.stderr,
                )
        finally:
            if name and not args.keep:
                asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))  # type: ignore[arg-type]
            elif name:
                print(f"kept database {name}", file=sys.stderr)
    # benchmarks/run.py reads the last stdout line.
    print(json.dumps({"benchmark": "orders_page", "figures": figures}))


if __name__ == "__main__":
    main()
