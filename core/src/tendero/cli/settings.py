"""``tendero settings``."""

from __future__ import annotations

import click


@click.group("settings")
def settings() -> None:
    """(not built yet)"""
