"""The WhatsApp channel adapter (WhatsApp Cloud API)."""

from __future__ import annotations

from tendero.channels import Channel, InboundEvent, MessageLimits, OutboundMessage, svg_icon

# WhatsApp Cloud API limits: text 4096; interactive body 1024; 3 reply buttons with
# titles ≤ 20 and ids ≤ 256; lists with ≤ 10 rows in total (titles ≤ 24, descriptions
# ≤ 72) opened by a button label ≤ 20; image captions ≤ 1024.
WHATSAPP_LIMITS = MessageLimits(
    max_text_length=4096,
    max_buttons=3,
    max_button_title_length=20,
    max_button_id_length=256,
    max_interactive_text_length=1024,
    max_list_rows=10,
    max_list_row_title_length=24,
    max_list_row_description_length=72,
    max_list_button_length=20,
    max_caption_length=1024,
)

WHATSAPP_ICON = svg_icon(
    "WhatsApp",
    '<path fill="#25D366" d="M12 2a10 10 0 0 0-8.6 15.1L2 22l5-1.3A10 10 0 1 0 12 2z"/>'
    '<path fill="#fff" d="M8.6 6.8c.3 0 .6 0 .8.5l1 2.3c.1.3 0 .5-.1.7l-.6.7c-.2.2-.2.4'
    "-.1.6a8 8 0 0 0 3.8 3.4c.2.1.4.1.6-.1l.8-.9c.2-.2.4-.3.7-.2l2.2 1c.3.2.5.3.5.5 0 .6"
    '-.3 1.7-1.4 2.2-1 .5-2.6.4-4.9-.7a11 11 0 0 1-4.6-4.6c-.9-1.8-.6-3.5.3-4.5.4-.5.8-.9 1.3-.9z"/>',
)


class WhatsAppChannel(Channel):
    """WhatsApp through the Cloud API: webhooks signed with the app secret; sends to
    ``{graph_api_url}/{version}/{phone number id}/messages``."""

    name = "whatsapp"
    display_name = "WhatsApp"
    icon = WHATSAPP_ICON
    limits = WHATSAPP_LIMITS
    required_settings = (
        "whatsapp_app_secret",
        "whatsapp_verify_token",
        "whatsapp_access_token",
        "whatsapp_phone_number_id",
    )

    def parse(self, raw_body: bytes) -> list[InboundEvent]:
        raise NotImplementedError(
            "WhatsApp: webhook parsing is not built yet (it arrives with the channel webhooks)"
        )

    async def send(self, message: OutboundMessage) -> str:
        raise NotImplementedError(
            "WhatsApp: sending through the Cloud API is not built yet (it arrives with the "
            "channel outbox)"
        )
