"""The WhatsApp channel adapter (WhatsApp Cloud API)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from tendero.channels import (
    Attachment,
    ChannelError,
    EventKind,
    InboundEvent,
    MessageLimits,
    OutboundMessage,
    svg_icon,
)
from tendero.channels.meta import GraphClient, GraphError, MetaChannel

from tendero_whatsapp.parse import parse_webhook
from tendero_whatsapp.send import read_receipt, render

if TYPE_CHECKING:
    from tendero.settings import Settings

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


class WhatsAppChannel(MetaChannel):
    """WhatsApp through the Cloud API: webhooks signed with the app secret; sends to
    ``{graph_api_url}/{version}/{phone number id}/messages`` with the access token as
    Bearer.

    Customers are addressed by their ``wa_id`` (phone digits) or, when they have none,
    by their business-scoped user id (BSUID); :func:`tendero_whatsapp.send.render` picks
    ``to`` or ``recipient`` from the id itself (digits only: a phone).
    """

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
    verify_token_setting = "whatsapp_verify_token"
    app_secret_settings = ("whatsapp_app_secret",)
    free_text_window = timedelta(hours=24)
    # What a customer's media may be: photos (of a product, of a payment) and PDFs
    # (payment receipts). 16 MB covers WhatsApp's 5 MB images and usual receipts.
    max_media_bytes: ClassVar[int] = 16 * 1024 * 1024
    allowed_media_types: ClassVar[tuple[str, ...]] = ("image/", "application/pdf")

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        # The outbox paces sends to this (TENDERO_WHATSAPP_SEND_RATE).
        self.send_rate_per_second = settings.whatsapp_send_rate

    @property
    def graph(self) -> GraphClient:
        return GraphClient(
            self.require_http(), self.settings.graph_api_url, self.settings.graph_api_version
        )

    @property
    def phone_number_id(self) -> str:
        return self.settings.whatsapp_phone_number_id

    def parse(self, raw_body: bytes) -> list[InboundEvent]:
        """Every message and status of a delivery (see :mod:`tendero_whatsapp.parse`)."""
        return parse_webhook(raw_body)

    async def send(self, message: OutboundMessage) -> str:
        """Deliver ``message`` (possibly as several WhatsApp messages: long text split,
        text before a list, an image before its long text) and return the wamid of the
        last one. Raises :class:`~tendero.channels.meta.GraphError` (a ChannelError) when
        Meta refuses; if a later part fails, the earlier parts were delivered."""
        wamid = ""
        for body in render(message, self.limits):
            answer = await self._post_messages(body)
            wamid = _first_message_id(answer)
        return wamid

    async def mark_read(self, event: InboundEvent) -> None:
        """Mark the customer's message read and show the typing indicator (a turn starts).

        Only customer messages can be marked; other events are ignored.
        """
        if event.kind not in (EventKind.MESSAGE, EventKind.BUTTON) or not event.message_id:
            return
        await self._post_messages(read_receipt(event.message_id))

    async def download_media(self, attachment: Attachment) -> tuple[bytes, str]:
        """``(content, content type)`` of a customer's photo or PDF.

        Looks the media id up (``GET /{media_id}``: a short-lived URL, its type, size and
        sha256), then fetches that URL with the access token (only from Meta's media
        hosts or the configured Graph host, see
        :meth:`~tendero.channels.meta.GraphClient.download`). Refuses other types and
        files over :attr:`media_max_bytes`, stops after :attr:`media_timeout` seconds;
        checks the sha256 when Meta gives one.
        """
        self.refuse_unwanted_type(attachment)  # a voice note: no lookup, no download
        if not attachment.media_id:
            if attachment.url:
                return await super().download_media(attachment)
            raise ChannelError("WhatsApp: the attachment has no media id")
        token = self.settings.whatsapp_access_token
        info = await self.graph.request(
            "GET",
            f"/{attachment.media_id}",
            token=token,
            params={"phone_number_id": self.phone_number_id} if self.phone_number_id else None,
            timeout=self.graph_timeout,
        )
        url = info.get("url")
        if not isinstance(url, str) or not url:
            raise GraphError(f"WhatsApp: media {attachment.media_id} has no URL", retryable=False)
        size = _int(info.get("file_size"))
        if size is not None and size > self.media_max_bytes:
            raise GraphError(
                f"WhatsApp: media {attachment.media_id} has {size} bytes, more than "
                f"{self.media_max_bytes}",
                retryable=False,
                code="media_too_large",
            )
        content, content_type = await self.graph.download(
            url,
            token=token,
            max_bytes=self.media_max_bytes,
            allowed_types=self.allowed_media_types,
            timeout=self.media_timeout,
            trusted_urls=self.trusted_media_urls(),
        )
        expected = info.get("sha256")
        if isinstance(expected, str) and expected:
            actual = hashlib.sha256(content).hexdigest()
            if not hmac.compare_digest(actual, expected.lower()):
                raise GraphError(
                    f"WhatsApp: media {attachment.media_id} does not match its sha256",
                    retryable=True,
                    code="media_checksum",
                )
        return content, content_type

    async def _post_messages(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.phone_number_id:
            raise ChannelError("WhatsApp: TENDERO_WHATSAPP_PHONE_NUMBER_ID is not set")
        return await self.graph.request(
            "POST",
            f"/{self.phone_number_id}/messages",
            token=self.settings.whatsapp_access_token,
            json=body,
            timeout=self.graph_timeout,
        )


def _first_message_id(answer: dict[str, Any]) -> str:
    messages = answer.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        wamid = messages[0].get("id")
        if isinstance(wamid, str) and wamid:
            return wamid
    raise GraphError("WhatsApp: the send answer has no message id", retryable=False)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
