"""Benchmark ``tendero demo --orders N`` on a fresh database.

    python benchmarks/demo_orders.py [N] [--seed S] [--postgres URL] [--keep]

N defaults to 1,000,000. SQLite (the default) uses a new file in a temp folder;
``--postgres postgresql://user@host:5432/db`` creates a new database on that server
(the URL names the server and a database to connect to for that), runs there and drops
it afterwards unless ``--keep``. Prints (stderr) the wall time of the whole command
(process start, migrations, demo store, orders), the generator's own time, orders per
second and the database size; the last stdout line is the same figures as JSON for
``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from common import admin_sql

TENDERO = Path(sys.executable).parent / "tendero"
GENERATED = re.compile(r"in ([\d.]+) s \(([\d,]+) orders/s\)")


def _run(n: int, seed: int, data_dir: Path, database_url: str) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENDERO_")} | {
        "TENDERO_DATA_DIR": str(data_dir),
        "TENDERO_DATABASE_URL": database_url,
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(TENDERO), "demo", "--orders", str(n), "--seed", str(seed)],
        env=env,
        cwd=data_dir.parent,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    output = []
    for line in process.stderr:
        sys.stderr.write(line)
        output.append(line)
    if process.wait() != 0:
        raise SystemExit(f"tendero demo exited with {process.returncode}")
    return time.perf_counter() - started, "".join(output)


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("orders", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres", metavar="URL", help="run on a new database on this PostgreSQL server"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tendero-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        if args.postgres:
            admin = sa.make_url(args.postgres).set(drivername="postgresql+asyncpg")
            name = f"tendero_bench_{uuid.uuid4().hex[:8]}"
            asyncio.run(admin_sql(admin, f'CREATE DATABASE "{name}"'))
            url = admin.set(database=name).render_as_string(hide_password=False)
            engine_name = "PostgreSQL"
        else:
            path = data_dir / "bench.db"
            url = f"sqlite+aiosqlite:///{path}"
            engine_name = "SQLite"
        try:
            elapsed, output = _run(args.orders, args.seed, data_dir, url)
            if args.postgres:
                size = int(asyncio.run(admin_sql(admin, f"SELECT pg_database_size('{name}')")) or 0)  # type: ignore[call-overload]
            else:
                size = sum(p.stat().st_size for p in data_dir.glob("bench.db*"))
        finally:
            if args.postgres and not args.keep:
                asyncio.run(admin_sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            elif args.postgres:
                print(f"kept database {name}", file=sys.stderr)

    match = GENERATED.search(output)
    figures: dict[str, object] = {
        "engine": engine_name,
        "orders": args.orders,
        "wall_seconds": round(elapsed, 1),
        "orders_per_second_wall": round(args.orders / elapsed),
        "database_mb": round(size / 1_000_000, 1),
    }
    lines = [
        f"engine:            {engine_name}",
        f"orders:            {args.orders:,}",
        f"wall time:         {elapsed:,.1f} s (whole command: start, migrate, demo store, orders)",
        f"orders/s (wall):   {args.orders / elapsed:,.0f}",
    ]
    if match:
        generator_seconds = float(match.group(1))
        figures["generator_seconds"] = generator_seconds
        figures["orders_per_second_generator"] = int(match.group(2).replace(",", ""))
        lines.append(f"generator time:    {generator_seconds:,.1f} s ({match.group(2)} orders/s)")
    lines.append(f"database size:     {_megabytes(size)}")
    print("\n".join(lines), file=sys.stderr)
    # benchmarks/run.py reads the last stdout line.
    print(json.dumps({"benchmark": "demo_orders", "figures": figures}))


if __name__ == "__main__":
    main()
