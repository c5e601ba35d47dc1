"""Benchmark the Orders page's data layer on a large store.

    python benchmarks/orders_page.py [--orders N] [--seed S] [--repeat R]
        [--databases sqlite,postgres] [--postgres URL | --database URL] [--keep]
        [--export csv,xlsx] [--data-dir DIR] [--http [URL --cookie NAME=VALUE]]
        [--export-timeout SECONDS]

Seeds ``N`` orders (default 200,000) with ``tendero demo --orders N`` into a fresh
database of each engine in ``--databases`` (default ``sqlite``) — a new SQLite file in a
temp folder; for ``postgres`` a new database on the ``--postgres`` server (default
``$TENDERO_BENCH_POSTGRES`` or ``postgresql://postgres@127.0.0.1:5432/postgres``;
dropped afterwards unless ``--keep``) — or, with ``--database URL``, uses an existing,
already seeded database as it is. With several engines every figure is prefixed with
the engine (``sqlite_…``, ``postgresql_…``); an engine whose server cannot be reached
is reported as skipped and the others still run. Then measures, ``--repeat`` times each
after one warm-up, every read the Orders page makes, each in its own read session as a
request would: the first page, filtered pages, a page deep in the keyset, searches, the
header counters and the 30-day chart. Last, it exports the whole table with ``tendero
orders export`` as a process per format and reports its wall time, orders per second
and peak RSS.

``--http`` measures the real panel instead of the query layer: it starts ``tendero
serve`` on a free port against the database measured, creates a merchant account, logs
in through the login form, and times GETs of the Orders page with the same filters as
query parameters, one order's page, and the whole table streamed through
``/orders/export`` per ``--export`` format (wall time, bytes, and the SERVER process's
peak RSS, ``VmHWM``, before and after; an export still running after
``--export-timeout`` seconds is cut off and reported as such), then the same formats
with ``tendero orders export``. With a server of its own it also reports the server's
CPU time per request (``…_server_cpu_ms``), which other load on the machine does not
inflate the way it does wall times. ``--http URL --cookie NAME=VALUE`` times an already
running server (``URL`` is its Orders page) instead.

Figures go to stderr as a table; the last stdout line is JSON for ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
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
from common import admin_sql, cpu_seconds

TENDERO = Path(sys.executable).parent / "tendero"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
TIMEZONE = "America/Mexico_City"  # the demo store's


@dataclass(frozen=True)
class Case:
    """One thing the page asks for: a label, the filter as keyword arguments (also the
    query string in --http mode), and whether it is a page, the counters or the chart."""

    label: str
    kind: str  # page | count | counters | chart | detail (one order's page, --http only)
    filters: dict[str, Any]
    after: tuple[datetime, int] | None = None


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


async def pick_cases(database_url: str) -> tuple[list[Case], int]:
    """Cases built from the data itself (a real customer name, SKU, number, phone), and
    the number of orders."""
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
    cases = [
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
        Case("order_detail", "detail", {"number": middle.number}),
        Case("count_all", "count", {}),
        Case("count_search_name", "count", {"search": name}),
        Case("counters_all", "counters", {}),
        Case("counters_last_30_days", "counters", month),
        Case("chart_30_days", "chart", {}),
    ]
    return cases, total


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
            if case.kind == "detail":
                continue  # a page of the panel; timed in --http mode
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _peak_rss_mb(pid: int) -> tuple[float, float]:
    """``(VmHWM, VmRSS)`` of process ``pid`` in MB, from ``/proc/<pid>/status``."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            fields[key] = int(value.split()[0]) / 1024  # kB
    return fields["VmHWM"], fields["VmRSS"]


class PanelServer:
    """``tendero serve`` as a child process on a free port, with a merchant account the
    benchmark logs in with."""

    def __init__(self, data_dir: Path, database_url: str) -> None:
        self.data_dir = data_dir
        self.env = _env(data_dir, database_url)
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        self.password = uuid.uuid4().hex
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "serve.log"

    def start(self) -> None:
        subprocess.run(
            [str(TENDERO), "users", "create", self.email, "--password-stdin"],
            input=f"{self.password}\n".encode(),
            env=self.env,
            cwd=self.data_dir.parent,
            check=True,
            stdout=sys.stderr,
        )
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [str(TENDERO), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                cwd=self.data_dir.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"tendero serve exited {self.process.returncode}; see {self.log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"tendero serve did not listen in 120 s; see {self.log}"
                    ) from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def log_in(client: Any, base: str, email: str, password: str) -> None:
    """Log in through the panel's form, as a browser would: the CSRF token from the
    page's ``<meta name="csrf-token">``, the session cookie kept by ``client``'s jar."""
    async with client.get(f"{base}/login") as response:
        page = await response.text()
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    if match is None:
        raise SystemExit(f"no CSRF token on {base}/login")
    form = {"email": email, "password": password, "csrf_token": match.group(1)}
    async with client.post(f"{base}/login", data=form, allow_redirects=False) as response:
        await response.read()
        if response.status != 303:
            raise SystemExit(f"logging in answered {response.status}")


async def _http_export(
    client: Any, base: str, fmt: str, pid: int | None, cut_off: float
) -> dict[str, Any]:
    """Download the whole table through ``/orders/export``; the server's peak RSS from
    ``/proc`` when it is a child of ours (``pid``)."""
    figures: dict[str, Any] = {}
    if pid is not None:
        figures[f"http_export_{fmt}_server_peak_rss_before_mb"] = round(_peak_rss_mb(pid)[0], 1)
    size = 0
    timed_out = False
    started = time.perf_counter()
    params = {"format": fmt, "rows": "orders"}
    async with client.get(f"{base}/orders/export", params=params) as response:
        if response.status != 200:
            raise SystemExit(f"GET {response.url} answered {response.status}")
        async for chunk in response.content.iter_chunked(1 << 16):
            size += len(chunk)
            if time.perf_counter() - started > cut_off:
                timed_out = True
                break
    elapsed = time.perf_counter() - started
    figures[f"http_export_{fmt}_seconds"] = round(elapsed, 1)
    figures[f"http_export_{fmt}_mb"] = round(size / 1e6, 1)
    if timed_out:
        figures[f"http_export_{fmt}_cut_off"] = True
    note = f"(cut off after {cut_off:.0f} s)" if timed_out else ""
    if pid is not None:
        peak, current = _peak_rss_mb(pid)
        figures[f"http_export_{fmt}_server_peak_rss_mb"] = round(peak, 1)
        note = f"server peak RSS {peak:7.1f} MB (now {current:.1f}) {note}"
    print(f"http export {fmt:<5} {elapsed:8.1f} s   {size / 1e6:,.1f} MB   {note}", file=sys.stderr)
    return figures


async def measure_http(
    base: str,
    cases: list[Case],
    repeat: int,
    *,
    login: tuple[str, str] | None = None,
    cookie: str = "",
    exports: list[str] = (),  # type: ignore[assignment]
    server_pid: int | None = None,
    export_timeout: float = 600,
) -> dict[str, Any]:
    """The same cases as GETs of the panel's Orders page at ``{base}/orders`` (filters as
    its query parameters: ``status``, ``payment_status``, ``channel``,
    ``delivery_method``, ``pickup_location``, ``since``, ``until``, ``q``, ``after``), one
    order's page, then the whole-table exports. Logs in with ``login`` (email, password)
    or sends ``cookie`` (``NAME=VALUE``)."""
    import aiohttp
    from tendero.orders import OrderCursor

    figures: dict[str, Any] = {}
    jar = aiohttp.CookieJar(unsafe=True)  # unsafe: keep cookies of an IP address host
    if cookie:
        name, _, value = cookie.partition("=")
        jar.update_cookies({name: value})
    timeout = aiohttp.ClientTimeout(total=None, sock_read=300)
    async with aiohttp.ClientSession(cookie_jar=jar, timeout=timeout) as client:
        if login is not None:
            await log_in(client, base, *login)
        for case in cases:
            if case.kind in ("count", "counters", "chart"):
                continue  # the page renders them; no endpoint of their own to time
            if case.kind == "detail":
                url, params = f"{base}/orders/{case.filters['number']}", {}
            else:
                url = f"{base}/orders"
                params = {
                    ("q" if key == "search" else key): str(val)
                    for key, val in case.filters.items()
                    if key != "timezone"
                }
            if case.after:
                params["after"] = OrderCursor(*case.after).encode()

            async def run(url: str = url, params: dict[str, str] = params) -> int:
                async with client.get(url, params=params, allow_redirects=False) as response:
                    await response.read()
                    if response.status != 200:
                        raise SystemExit(f"GET {response.url} answered {response.status}")
                    return response.status

            cpu_before = cpu_seconds(server_pid) if server_pid is not None else 0.0
            samples, result = await _measure(run, repeat)
            _record(figures, f"http_{case.label}", samples, result)
            if server_pid is not None:  # the warm-up request included
                cpu = (cpu_seconds(server_pid) - cpu_before) / (repeat + 1) * 1000
                figures[f"http_{case.label}_server_cpu_ms"] = round(cpu, 1)
        for fmt in exports:
            figures |= await _http_export(client, base, fmt, server_pid, export_timeout)
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


def measure_panel(
    args: argparse.Namespace, data_dir: Path, url: str, cases: list[Case], formats: list[str]
) -> dict[str, Any]:
    """--http: the running server at ``args.http``, or a ``tendero serve`` of our own."""
    options = {"repeat": args.repeat, "exports": formats, "export_timeout": args.export_timeout}
    if args.http:
        base = args.http.removesuffix("/").removesuffix("/orders")
        return asyncio.run(measure_http(base, cases, cookie=args.cookie, **options))
    server = PanelServer(data_dir, url)
    try:
        server.start()
        assert server.process is not None
        return asyncio.run(
            measure_http(
                server.base,
                cases,
                login=(server.email, server.password),
                server_pid=server.process.pid,
                **options,
            )
        )
    finally:
        server.stop()


def _unreachable(server: str) -> str | None:
    """Why the PostgreSQL server at ``server`` cannot be used, or ``None``."""
    admin = sa.make_url(server).set(drivername="postgresql+asyncpg")
    try:
        asyncio.run(admin_sql(admin, "SELECT 1"))
    except (OSError, sa.exc.SQLAlchemyError) as exc:
        return str(exc).strip().splitlines()[0] or type(exc).__name__
    return None


def _engine_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def measure_database(
    args: argparse.Namespace, engine: str, data_dir: Path, url: str | None
) -> dict[str, Any]:
    """Everything for one database: seed it (unless ``url`` is given), time the page's
    reads (or the panel over HTTP), export the whole table."""
    figures: dict[str, Any] = {}
    admin = name = None
    if url is None and engine == "postgresql":
        admin = sa.make_url(args.postgres).set(drivername="postgresql+asyncpg")
        name = f"tendero_bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(admin_sql(admin, f'CREATE DATABASE "{name}"'))
        url = admin.set(database=name).render_as_string(hide_password=False)
    elif url is None:
        url = f"sqlite+aiosqlite:///{data_dir / 'bench.db'}"
    figures["engine"] = "SQLite" if engine == "sqlite" else "PostgreSQL"
    try:
        if not args.database:
            figures["orders"] = args.orders
            figures["seed_seconds"] = round(seed(args.orders, args.seed, data_dir, url), 1)
            if name:
                asyncio.run(admin_sql(admin.set(database=name), "VACUUM ANALYZE"))  # type: ignore[union-attr]
        cases, total = asyncio.run(pick_cases(url))
        figures["orders"] = total
        formats = list(filter(None, args.export.split(",")))
        if args.http is not None:
            figures |= measure_panel(args, data_dir, url, cases, formats)
        else:
            figures |= asyncio.run(measure_queries(url, cases, args.repeat))
        for fmt in formats:
            seconds, peak_mb, size = measure_export(fmt, data_dir, url)
            figures[f"export_{fmt}_seconds"] = round(seconds, 1)
            figures[f"export_{fmt}_orders_per_second"] = round(total / seconds)
            figures[f"export_{fmt}_peak_rss_mb"] = round(peak_mb, 1)
            print(
                f"export {fmt:<5} {seconds:8.1f} s   {total / seconds:8,.0f} orders/s   "
                f"peak RSS {peak_mb:7.1f} MB   {size / 1e6:,.1f} MB written",
                file=sys.stderr,
            )
    finally:
        if name and not args.keep:
            asyncio.run(admin_sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))  # type: ignore[arg-type]
        elif name:
            print(f"kept database {name}", file=sys.stderr)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--databases",
        help="engines to seed and measure, comma-separated: sqlite, postgres (default: "
        "sqlite, or postgres alone when --postgres is given)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--postgres", metavar="URL", help="seed new databases on this server")
    where.add_argument("--database", metavar="URL", help="use this seeded database as it is")
    parser.add_argument("--keep", action="store_true", help="keep the new database")
    parser.add_argument("--export", default="csv,xlsx", help="formats to export ('' for none)")
    parser.add_argument("--data-dir", type=Path, help="data folder (default: a temp folder)")
    parser.add_argument(
        "--http",
        metavar="URL",
        nargs="?",
        const="",
        help="time the panel over HTTP: a `tendero serve` of its own, or the Orders page at URL",
    )
    parser.add_argument("--cookie", default="", help="NAME=VALUE of the session at URL")
    parser.add_argument(
        "--export-timeout",
        type=float,
        default=900,
        help="--http: cut an export download off after this many seconds",
    )
    args = parser.parse_args()
    if args.databases is None:
        args.databases = "postgres" if args.postgres else "sqlite"
    engines = [
        {"postgres": "postgresql"}.get(part.strip(), part.strip())
        for part in args.databases.split(",")
        if part.strip()
    ]
    unknown = set(engines) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown database(s) {', '.join(sorted(unknown))}: use sqlite, postgres")
    args.postgres = args.postgres or os.environ.get("TENDERO_BENCH_POSTGRES", DEFAULT_POSTGRES)

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tendero-bench-") as tmp:
        base = args.data_dir or Path(tmp)
        if args.database:
            data_dir = base / "data"
            data_dir.mkdir(parents=True, exist_ok=True)
            figures = measure_database(args, _engine_of(args.database), data_dir, args.database)
        for engine in [] if args.database else engines:
            data_dir = base / engine / "data"
            data_dir.mkdir(parents=True, exist_ok=True)
            print(f"-- {engine}", file=sys.stderr)
            problem = _unreachable(args.postgres) if engine == "postgresql" else None
            if problem:
                print(f"{engine} skipped: {problem}", file=sys.stderr)
                part: dict[str, Any] = {"skipped": problem}
            else:
                part = measure_database(args, engine, data_dir, None)
            if len(engines) == 1:
                figures = part
            else:
                figures |= {f"{engine}_{label}": value for label, value in part.items()}
    # benchmarks/run.py reads the last stdout line.
    print(json.dumps({"benchmark": "orders_page", "figures": figures}))


if __name__ == "__main__":
    main()
