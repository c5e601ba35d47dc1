"""Hook implementations of the Facebook Messenger plugin."""

from __future__ import annotations

from tendero import hookimpl
from tendero.settings import Settings

from tendero_facebook.channel import FacebookChannel


@hookimpl
def register_channels(settings: Settings) -> list[FacebookChannel]:
    """The Messenger channel (listed as "not configured" until its credentials are set)."""
    return [FacebookChannel(settings)]
