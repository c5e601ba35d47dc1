"""Hook implementations of the WhatsApp plugin."""

from __future__ import annotations

from tendero import hookimpl
from tendero.settings import Settings

from tendero_whatsapp.channel import WhatsAppChannel


@hookimpl
def register_channels(settings: Settings) -> list[WhatsAppChannel]:
    """The WhatsApp channel (listed as "not configured" until its credentials are set)."""
    return [WhatsAppChannel(settings)]
