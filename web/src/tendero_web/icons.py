"""Channel icons for the panel: small inline SVGs with an accessible name.

The three Meta channels have icons drawn here (simple shapes, recognisable at text
size). A channel from another plugin shows the ``icon`` its adapter declares, and when
there is no adapter for it (a channel that was removed, say), a generic chat bubble
named after the channel. Every icon is ``role="img"`` with ``aria-label`` and
``<title>``, so a screen reader says "WhatsApp" rather than nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

# (display name, colour, SVG body on a 24x24 grid)
BUILT_IN: dict[str, tuple[str, str, str]] = {
    "whatsapp": (
        "WhatsApp",
        "#1f9d55",
        # A round speech bubble with its tail at the lower left, and a handset inside.
        '<path d="M12 2.5a9.5 9.5 0 0 0-8.2 14.3L2.5 21.5l4.8-1.3A9.5 9.5 0 1 0 12 2.5z" '
        'fill="currentColor"/>'
        '<path d="M8.6 7.2c.3-.3.8-.3 1 0l1 1.6c.2.3.1.7-.1 1l-.6.6c.5 1.2 1.5 2.2 2.7 2.7'
        "l.6-.6c.3-.3.7-.3 1-.1l1.6 1c.3.2.3.7 0 1l-.8.8c-.5.5-1.3.6-2 .3a8.6 8.6 0 0 1-4.5-4.5"
        'c-.3-.7-.2-1.5.3-2z" fill="#fff"/>',
    ),
    "facebook": (
        "Messenger",
        "#2f6fde",
        # A rounded bubble with the zigzag bolt.
        '<path d="M12 2.5c-5.3 0-9.5 3.9-9.5 9 0 2.8 1.3 5.3 3.4 7v3.5l3.2-1.8c.9.3 1.9.4 2.9.4'
        ' 5.3 0 9.5-3.9 9.5-9s-4.2-9.1-9.5-9.1z" fill="currentColor"/>'
        '<path d="M6.5 14.5l3.6-3.9 2 1.9 3.5-1.9-3.6 3.9-2-1.9z" fill="#fff" '
        'stroke="#fff" stroke-width="1.2" stroke-linejoin="round"/>',
    ),
    "instagram": (
        "Instagram",
        "#c13584",
        # The camera outline: rounded square, lens, flash dot.
        '<rect x="3" y="3" width="18" height="18" rx="5" fill="none" stroke="currentColor" '
        'stroke-width="2"/><circle cx="12" cy="12" r="4" fill="none" stroke="currentColor" '
        'stroke-width="2"/><circle cx="17.3" cy="6.7" r="1.3" fill="currentColor"/>',
    ),
}

GENERIC_BODY = (
    '<path d="M4 4h16a1.5 1.5 0 0 1 1.5 1.5v10A1.5 1.5 0 0 1 20 17H9l-4.5 3.5V17H4'
    'a1.5 1.5 0 0 1-1.5-1.5v-10A1.5 1.5 0 0 1 4 4z" fill="none" stroke="currentColor" '
    'stroke-width="1.8" stroke-linejoin="round"/>'
)
GENERIC_COLOUR = "#667085"


def _svg(name: str, colour: str, body: str) -> Markup:
    label = escape(name)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="1em" height="1em" '
        f'class="icon channel-icon" role="img" aria-label="{label}" style="color:{colour}">'
        f"<title>{label}</title>{body}</svg>"
    )


def channel_name(channel: str, adapters: Mapping[str, Any] | None = None) -> str:
    """What the merchant calls ``channel`` ("WhatsApp", "Messenger", a plugin's name)."""
    if channel in BUILT_IN:
        return BUILT_IN[channel][0]
    adapter = (adapters or {}).get(channel)
    display = getattr(adapter, "display_name", "") if adapter is not None else ""
    return str(display or channel)


def channel_icon(channel: str, adapters: Mapping[str, Any] | None = None) -> Markup:
    """The icon of ``channel`` as inline SVG (safe to put in a template as it is).

    ``adapters``: the app's channel adapters (``app[CHANNELS]``); an unknown channel
    uses its adapter's ``icon`` (markup from an installed plugin, trusted like its
    code), else a generic bubble named after the channel.
    """
    if channel in BUILT_IN:
        return _svg(*BUILT_IN[channel])
    adapter = (adapters or {}).get(channel)
    icon = getattr(adapter, "icon", "") if adapter is not None else ""
    if icon:
        return Markup(icon)
    return _svg(channel_name(channel, adapters), GENERIC_COLOUR, GENERIC_BODY)


def channel_colour(channel: str) -> str:
    """The colour of ``channel`` in charts (grey for channels without one)."""
    return BUILT_IN[channel][1] if channel in BUILT_IN else GENERIC_COLOUR
