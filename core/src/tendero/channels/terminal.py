"""The terminal channel of ``tendero chat``: not a Meta channel, no webhook.

Input is recorded straight into the inbox by the chat command; replies that the sender
delivers are printed. It has no customer-service window and no rate limit.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from typing import ClassVar

from tendero.channels.base import Channel, InboundEvent, MessageLimits, OutboundMessage, svg_icon
from tendero.settings import Settings

TERMINAL_LIMITS = MessageLimits(
    max_text_length=4096,
    max_buttons=3,
    max_interactive_text_length=1024,
    max_list_rows=10,
)


def format_message(message: OutboundMessage) -> str:
    """How a reply looks in the terminal: text, then numbered choices."""
    lines = [message.text] if message.text else []
    if message.image_url:
        lines.insert(0, f"[image] {message.image_url}")
    options = [(b.title, None) for b in message.buttons] + [
        (r.title, r.description) for r in message.list_rows
    ]
    for n, (title, description) in enumerate(options, start=1):
        lines.append(f"  [{n}] {title}" + (f" — {description}" if description else ""))
    return "\n".join(lines)


class TerminalChannel(Channel):
    """Prints what it sends. Its conversations are recorded under the channel name
    ``terminal``, which no server handles, so a chat never touches (or is touched by)
    a running server's WhatsApp, Messenger or Instagram traffic. ``limits`` may be
    another channel's, to see replies as that channel would render them."""

    name: ClassVar[str] = "terminal"
    display_name: ClassVar[str] = "Terminal"
    icon: ClassVar[str] = svg_icon("Terminal", '<path d="M4 6l6 6-6 6M12 18h8"/>')
    limits: ClassVar[MessageLimits] = TERMINAL_LIMITS
    free_text_window = None
    send_rate_per_second = None

    def __init__(
        self,
        settings: Settings,
        *,
        limits: MessageLimits | None = None,
        output: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(settings)
        if limits is not None:
            self.limits = limits  # type: ignore[misc]
        self.output = output or (lambda text: print(text, file=sys.stdout, flush=True))
        self.sent: list[OutboundMessage] = []

    def parse(self, raw_body: bytes) -> list[InboundEvent]:
        return []  # no webhook: `tendero chat` records its input directly

    async def send(self, message: OutboundMessage) -> str:
        self.sent.append(message)
        self.output(format_message(message))
        return f"terminal-{uuid.uuid4().hex}"
