"""``tendero db``: database maintenance."""

from __future__ import annotations

import click

from tendero.cli.common import console, get_settings


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command()
def upgrade() -> None:
    """Migrate the database to the newest schema (safe to run any time)."""
    from tendero.db.migrate import upgrade as run_upgrade

    settings = get_settings()
    run_upgrade(settings.effective_database_url)
    console.print("Database is up to date.")
