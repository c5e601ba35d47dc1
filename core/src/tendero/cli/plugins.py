"""``tendero plugins``: every loaded plugin, its distribution, version and hooks."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tendero.plugins import PluginLoadError, create_plugin_manager, describe_plugins


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def plugins(as_json: bool) -> None:
    """List the installed plugins (entry-point group ``tendero``) and their hooks.

    Set TENDERO_TRACE_HOOKS=1 on any command to trace hook calls to stderr.
    """
    try:
        pm = create_plugin_manager()
    except (PluginLoadError, LookupError) as exc:
        raise click.ClickException(str(exc)) from None
    infos = describe_plugins(pm)
    if as_json:
        click.echo(json.dumps([info.to_dict() for info in infos], indent=2))
        return
    table = Table(title="Tendero plugins", title_justify="left", show_lines=True)
    for header in ("Plugin", "Distribution", "Version", "Hooks"):
        table.add_column(header, overflow="fold")
    for info in infos:
        table.add_row(
            escape(info.name),
            escape(info.distribution),
            escape(info.version),
            escape("\n".join(info.hooks) or "(none)"),
        )
    Console().print(table)
