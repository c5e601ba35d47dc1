"""Messaging channels: the adapter interface (:mod:`tendero.channels.base`) and the
code the Meta channels share (:mod:`tendero.channels.messenger` for the
Messenger-platform format that Facebook and Instagram both speak).

The channels themselves are plugins (``plugins/whatsapp``, ``plugins/facebook``,
``plugins/instagram``); core knows them only through the ``register_channels`` hook.
"""

from tendero.channels.base import (
    Attachment,
    Button,
    Channel,
    ChannelError,
    EventKind,
    InboundEvent,
    ListRow,
    MessageLimits,
    OutboundMessage,
    collect_channels,
    svg_icon,
)

__all__ = [
    "Attachment",
    "Button",
    "Channel",
    "ChannelError",
    "EventKind",
    "InboundEvent",
    "ListRow",
    "MessageLimits",
    "OutboundMessage",
    "collect_channels",
    "svg_icon",
]
