"""The ``tendero`` command line (its options are a public contract, see docs/).

Subcommands are imported only when run, so ``tendero --help`` and each command start
without loading what the others need.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from tendero import __version__

# name -> (module:attribute, one-line help shown by `tendero --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("tendero.cli.serve:serve", "Serve the webhooks, the API and the merchant panel."),
    "db": ("tendero.cli.db:db", "Database maintenance (upgrade, backup, restore)."),
    "demo": ("tendero.cli.demo:demo", "Load the demo store; --orders N adds synthetic orders."),
    "products": ("tendero.cli.products:products", "Import and list catalog products."),
    "orders": ("tendero.cli.orders:orders", "Export, show and expire orders."),
    "settings": ("tendero.cli.settings:settings", "Show, edit, publish or discard store settings."),
    "users": ("tendero.cli.users:users", "Merchant user accounts."),
    "tokens": ("tendero.cli.users:tokens", "API bearer tokens for /api/v1/."),
    "plugins": ("tendero.cli.plugins:plugins", "List loaded plugins, their versions and hooks."),
    "chat": ("tendero.cli.chat:chat", "Talk to the agent in the terminal."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target[0].partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tendero")
def main(**_: Any) -> None:
    """Tendero: an AI sales agent for shops that sell through chat.

    Settings come from TENDERO_* environment variables or ./tendero.toml.
    """
    from tendero.logging import configure_logging

    # Log lines (plugins' too) go to stderr, never into data a command prints; `serve`
    # and `chat` set their own level.
    configure_logging("warning")
