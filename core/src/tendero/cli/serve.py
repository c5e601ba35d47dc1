"""``tendero serve``: migrate, then serve the web app until stopped."""

from __future__ import annotations

import asyncio

import click
from aiohttp import web

from tendero import accounts
from tendero.app import create_app
from tendero.cli.common import console, get_settings
from tendero.db import Database
from tendero.db.migrate import upgrade
from tendero.logging import configure_logging


@click.command()
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 8080].")
def serve(host: str | None, port: int | None) -> None:
    """Serve the webhooks, the API and the merchant panel."""
    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    configure_logging(settings.log_level, settings.log_format)
    upgrade(settings.effective_database_url)

    base = f"http://{host}:{port}"
    setup_secret = asyncio.run(_setup_link_if_needed(settings.effective_database_url))
    console.print(f"Tendero panel: {base}/orders")
    if setup_secret:
        console.print(
            f"Create the owner account (one-time link): {base}/setup?token={setup_secret}"
        )
    web.run_app(
        create_app(settings),
        host=host,
        port=port,
        print=None,
        shutdown_timeout=10,
        access_log=None,
    )


async def _setup_link_if_needed(url: str) -> str | None:
    db = Database(url)
    try:
        async with db.session() as session:
            if await accounts.has_users(session):
                return None
            return await accounts.create_setup_token(session)
    finally:
        await db.dispose()
