"""``tendero plugins``."""

from __future__ import annotations

import click


@click.group("plugins")
def plugins() -> None:
    """(not built yet)"""
