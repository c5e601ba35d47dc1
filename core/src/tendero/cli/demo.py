"""``tendero demo [--orders N] [--seed S] [--if-empty]``."""

from __future__ import annotations

import time
from pathlib import Path

import click
import sqlalchemy as sa

from tendero.cli.common import console, get_settings, open_database, progress, run_async
from tendero.db import Database
from tendero.db.engine import is_sqlite
from tendero.demo import (
    DEFAULT_SEED,
    DatabaseState,
    database_state,
    generate_orders,
    load_demo_store,
)


@click.command("demo")
@click.option(
    "--orders",
    "orders",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also generate this many synthetic orders (bulk; 1,000,000 is fine).",
)
@click.option(
    "--seed",
    type=int,
    default=DEFAULT_SEED,
    show_default=True,
    help="Random seed for the orders (the same seed gives the same orders).",
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="When the database is not empty, say so and exit 0 instead of failing.",
)
@run_async
async def demo(orders: int, seed: int, if_empty: bool) -> None:
    """Load the demo store (Tienda Fit Roma: catalog and settings) into an empty database.

    \b
    With --orders N, also generate N realistic orders (all channels, statuses and both
    delivery methods, spread over the last year). When the demo store is already
    loaded, --orders N adds N more orders to it; any other non-empty database is never
    touched (exit 1, or exit 0 with --if-empty).
    """
    settings = get_settings()
    started = time.perf_counter()
    async with open_database(settings) as db:
        state = await database_state(db)
        if state is DatabaseState.EMPTY:
            summary = await load_demo_store(db)
            console.print(
                f"Loaded the demo store [bold]{summary.store_name}[/bold]: "
                f"{summary.products} products ({summary.active_products} active), "
                f"{summary.locations} store locations, settings version {summary.settings_version}."
            )
        elif state is DatabaseState.DEMO and orders:
            console.print(f"The demo store is already loaded; adding {orders:,} orders to it.")
        elif if_empty:
            what = (
                "the demo store is already loaded" if state is DatabaseState.DEMO else "it has data"
            )
            console.print(f"The database is not empty ({what}); nothing to load.")
            return
        else:
            await load_demo_store(db)  # refuses a non-empty database with a clear error

        if orders:
            await _generate(db, orders, seed)
    # Measured after closing, when SQLite has folded its write-ahead log into the file.
    elapsed = time.perf_counter() - started
    size = _sqlite_size(settings.effective_database_url)
    console.print(
        f"Done in {elapsed:.1f} s." + (f" Database size: {_megabytes(size)}." if size else "")
    )


async def _generate(db: Database, n: int, seed: int) -> None:
    with progress() as bar:
        task = bar.add_task("Generating orders", total=n)

        def advance(done: int, _total: int) -> None:
            bar.update(task, completed=done)

        result = await generate_orders(db, n, seed=seed, progress=advance)
    console.print(
        f"Generated {result.orders:,} orders (#{result.first_number}–#{result.last_number}), "
        f"{result.leads:,} customers, {result.items:,} order lines, "
        f"{result.status_changes:,} status changes in {result.elapsed:.1f} s "
        f"({result.orders_per_second:,.0f} orders/s)."
    )


def _sqlite_size(url: str) -> int:
    """Bytes on disk of a SQLite database (with any WAL left); 0 for other engines."""
    if not is_sqlite(url):
        return 0
    name = sa.make_url(url).database
    if not name or name == ":memory:":
        return 0
    return sum(p.stat().st_size for p in (Path(name), Path(f"{name}-wal")) if p.exists())


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"
