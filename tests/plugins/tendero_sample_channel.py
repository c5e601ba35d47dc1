"""A minimal fourth channel, written as a third party would: no change to core.

Webhook body (JSON): ``{"events": [{"id", "from", "kind", "text", "name", "payload",
"status", "error", "from_app", "image"}]}`` signed with ``X-Sample-Signature:
sha256=<hex HMAC of the raw body>``. ``send`` records what it delivers; tests can make
it fail (``failures``) or slow (``delay``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from tendero import hookimpl
from tendero.channels.base import (
    Attachment,
    Channel,
    ChannelError,
    EventKind,
    InboundEvent,
    MessageLimits,
    OutboundMessage,
    svg_icon,
)

SECRET = b"sample-secret"
SIGNATURE_HEADER = "X-Sample-Signature"
IMAGE_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()


class SampleChannel(Channel):
    name: ClassVar[str] = "sample"
    display_name: ClassVar[str] = "Sample"
    icon: ClassVar[str] = svg_icon("Sample", '<circle cx="12" cy="12" r="9"/>')
    limits: ClassVar[MessageLimits] = MessageLimits(
        max_text_length=1000, max_buttons=3, max_list_rows=10, max_interactive_text_length=1000
    )

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.sent: list[OutboundMessage] = []
        self.attempts = 0
        self.failures: list[ChannelError] = []  # raised, in order, before sending
        self.delay = 0.0
        self.read: list[str] = []

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> bool:
        given = headers.get(SIGNATURE_HEADER, "")
        return hmac.compare_digest(given.encode(), sign(body).encode())

    def parse(self, raw_body: bytes) -> list[InboundEvent]:
        data = json.loads(raw_body)
        events = []
        for item in data["events"]:
            kind = EventKind(item.get("kind", "message"))
            attachments = ()
            if item.get("image"):
                attachments = (Attachment(kind="image", media_id=item["image"]),)
            events.append(
                InboundEvent(
                    channel=self.name,
                    kind=kind,
                    message_id=item["id"],
                    customer_id=item["from"],
                    timestamp=datetime.now(UTC),
                    text=item.get("text", ""),
                    payload=item.get("payload"),
                    customer_name=item.get("name"),
                    status=item.get("status"),
                    error=item.get("error"),
                    echo_from_app=bool(item.get("from_app")),
                    attachments=attachments,
                    raw=item,
                )
            )
        return events

    async def download_media(self, attachment: Attachment) -> tuple[bytes, str]:
        if attachment.media_id == "broken":
            raise ChannelError("media gone")
        return IMAGE_BYTES, "image/png"

    async def mark_read(self, event: InboundEvent) -> None:
        self.read.append(event.message_id)

    async def send(self, message: OutboundMessage) -> str:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.sent.append(message)
        return f"sample-{uuid.uuid4().hex}"


@hookimpl
def register_channels(settings: Any) -> list[Channel]:
    return [SampleChannel(settings)]
