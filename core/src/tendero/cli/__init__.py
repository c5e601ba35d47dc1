"""The ``tendero`` command line (ARCHITECTURE.md §3 is its contract)."""

from __future__ import annotations

import click

from tendero import __version__
from tendero.cli import chat, db, demo, orders, plugins, products, serve, settings, users


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tendero")
def main() -> None:
    """Tendero: an AI sales agent for shops that sell through chat.

    Settings come from TENDERO_* environment variables or ./tendero.toml.
    """


main.add_command(serve.serve)
main.add_command(db.db)
main.add_command(demo.demo)
main.add_command(products.products)
main.add_command(orders.orders)
main.add_command(settings.settings)
main.add_command(users.users)
main.add_command(users.tokens)
main.add_command(plugins.plugins)
main.add_command(chat.chat)
