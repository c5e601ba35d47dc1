"""What every CLI command shares: settings, the database, async running, output.

Commands that print data write only that data to stdout; progress bars, messages and
errors go to stderr (``console``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tendero.db import Database
from tendero.errors import TenderoError
from tendero.settings import Settings, load_settings

console = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def get_settings() -> Settings:
    settings = load_settings()
    settings.ensure_data_dir()
    return settings


@asynccontextmanager
async def open_database(
    settings: Settings | None = None, *, migrate: bool = True
) -> AsyncIterator[Database]:
    """A migrated database for one command; closed at the end."""
    settings = settings or get_settings()
    url = settings.effective_database_url
    if migrate:
        from tendero.db.migrate import upgrade_async

        await upgrade_async(url)
    db = Database(url)
    try:
        yield db
    finally:
        await db.dispose()


def run_async(fn: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Run an async click command body; turn domain errors into a clear exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return asyncio.run(fn(*args, **kwargs))
        except TenderoError as exc:
            console.print(f"[red]Error:[/red] {escape(str(exc))}", highlight=False)
            raise SystemExit(1) from None

    return wrapper


def progress() -> Progress:
    """A progress bar on stderr for long CLI work."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def fail(message: str) -> None:
    """Stop the command with a clear message and exit status 1."""
    raise click.ClickException(message)
