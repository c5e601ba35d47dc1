"""What Facebook Messenger and Instagram Direct share: the Messenger-platform format.

Both deliver ``{"object": ..., "entry": [{"messaging": [...]}]}`` webhooks and take
``{"recipient": {"id"}, "message": {...}}`` sends with up to 13 quick replies. The two
channel plugins subclass :class:`MessengerPlatformChannel` and only set what differs
(name, icon, credentials, text limit, Graph host); they never copy code between them.
"""

from __future__ import annotations

from typing import ClassVar

from tendero.channels.base import Channel, InboundEvent, MessageLimits, OutboundMessage

MAX_QUICK_REPLIES = 13
QUICK_REPLY_TITLE_LENGTH = 20
QUICK_REPLY_PAYLOAD_LENGTH = 1000


def messenger_limits(max_text_length: int, unit: str = "chars") -> MessageLimits:
    """Limits of a Messenger-platform channel: 13 quick replies (titles ≤ 20, payloads
    ≤ 1000) on a text message; no list messages; images go without caption."""
    return MessageLimits(
        max_text_length=max_text_length,
        text_length_unit=unit,  # type: ignore[arg-type]
        max_buttons=MAX_QUICK_REPLIES,
        max_button_title_length=QUICK_REPLY_TITLE_LENGTH,
        max_button_id_length=QUICK_REPLY_PAYLOAD_LENGTH,
        max_list_rows=0,
        max_caption_length=0,
    )


class MessengerPlatformChannel(Channel):
    """A channel that speaks the Messenger-platform format (Facebook, Instagram).

    ``webhook_object`` is the ``object`` of its webhook deliveries (``page`` or
    ``instagram``).
    """

    webhook_object: ClassVar[str]

    def parse(self, raw_body: bytes) -> list[InboundEvent]:
        raise NotImplementedError(
            f"{self.display_name}: webhook parsing of the Messenger-platform format is not "
            "built yet (it arrives with the channel webhooks)"
        )

    async def send(self, message: OutboundMessage) -> str:
        raise NotImplementedError(
            f"{self.display_name}: sending through the Messenger-platform Send API is not "
            "built yet (it arrives with the channel outbox)"
        )
