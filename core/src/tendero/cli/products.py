"""``tendero products``: import a catalog file, list products."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tendero.catalog import Catalog, ImportMode, ImportReport
from tendero.cli.common import console, open_database, progress, run_async

# Show a progress bar only for files with at least this many lines.
PROGRESS_MIN_ROWS = 5000


@click.group("products")
def products() -> None:
    """Manage the product catalog."""


@products.command("import")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--mode",
    type=click.Choice([m.value for m in ImportMode]),
    default=ImportMode.ADD.value,
    show_default=True,
    help="add: upsert by SKU; replace: the file becomes the catalog; clear: empty the "
    "catalog first (FILE optional).",
)
@click.option("--strict", is_flag=True, help="Import nothing if any row is rejected.")
@run_async
async def import_products(file: Path | None, mode: str, strict: bool) -> None:
    """Import products from a CSV or XLSX FILE.

    Columns: sku,name,price,stock,description,category,image_url,active; every other
    column becomes an attribute (size, color, flavor...). Products referenced by orders
    are deactivated instead of deleted by replace and clear. Exits with status 1 when
    any row is rejected.
    """
    if file is None and mode != ImportMode.CLEAR.value:
        raise click.UsageError(f"FILE is required with --mode {mode}.")
    bar = progress()
    tasks: dict[str, int] = {}
    started = False

    def on_progress(stage: str, done: int, total: int) -> None:
        nonlocal started
        if total < PROGRESS_MIN_ROWS:
            return
        if not started:
            bar.start()
            started = True
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    try:
        async with open_database() as db:
            report = await Catalog(db).import_file(
                file, mode=mode, strict=strict, progress=on_progress
            )
    finally:
        if started:
            bar.stop()
    _print_report(report)
    if report.errors:
        raise SystemExit(1)


def _print_report(report: ImportReport) -> None:
    for warning in report.warnings:
        console.print(f"[yellow]Warning:[/yellow] {escape(warning)}", highlight=False)
    if report.errors:
        table = Table(title=f"Rejected rows ({report.rejected})", title_justify="left")
        table.add_column("Line", justify="right", no_wrap=True)
        table.add_column("SKU", no_wrap=True)
        table.add_column("Name")
        table.add_column("Reason")
        for error in report.errors:
            table.add_row(
                str(error.line), escape(error.sku or ""), escape(error.name), escape(error.reason)
            )
        console.print(table)
    style = "green" if report.ok else ("red" if not report.applied else "yellow")
    console.print(f"[{style}]{escape(report.summary())}[/{style}]", highlight=False)


@products.command("list")
@click.option("--search", "-s", "query", default="", help="Only products matching these words.")
@click.option(
    "--status",
    type=click.Choice(["all", "active", "inactive"]),
    default="all",
    show_default=True,
)
@click.option("--limit", type=int, default=100, show_default=True, help="How many rows to print.")
@run_async
async def list_products(query: str, status: str, limit: int) -> None:
    """Print products as a table (stdout), by name."""
    active = {"all": None, "active": True, "inactive": False}[status]
    async with open_database() as db:
        page = await Catalog(db).list_products(search=query, per_page=max(1, limit), active=active)
    out = Console(soft_wrap=False)
    table = Table()
    for column in ("ID", "SKU", "Name", "Price", "Stock", "Category", "Active"):
        table.add_column(column, justify="right" if column in ("ID", "Price", "Stock") else "left")
    for p in page.items:
        table.add_row(
            str(p.id),
            escape(p.sku or ""),
            escape(p.name),
            str(p.price),
            "—" if p.stock is None else str(p.stock),
            escape(p.category),
            "yes" if p.active else "no",
        )
    out.print(table)
    shown = len(page.items)
    console.print(f"{shown} of {page.total} products shown.", highlight=False)
