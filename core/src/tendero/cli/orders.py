"""``tendero orders``."""

from __future__ import annotations

import click


@click.group("orders")
def orders() -> None:
    """(not built yet)"""
