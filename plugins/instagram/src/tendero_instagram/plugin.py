"""Hook implementations of the Instagram plugin."""

from __future__ import annotations

from tendero import hookimpl
from tendero.settings import Settings

from tendero_instagram.channel import InstagramChannel


@hookimpl
def register_channels(settings: Settings) -> list[InstagramChannel]:
    """The Instagram channel (listed as "not configured" until its credentials are set)."""
    return [InstagramChannel(settings)]
