"""The channel adapter interface: what a messaging channel plugin gives the host.

A channel plugin returns one :class:`Channel` per channel from its ``register_channels``
hook. The host mounts ``/webhooks/{name}``, hands the raw body of each POST to
:meth:`Channel.parse` (ingress) and delivers the agent's replies with
:meth:`Channel.send` (egress). :class:`MessageLimits` tells the agent how to render a
reply so it fits the channel (how many buttons, list rows, how long a text).

The message pipeline only ever sees :class:`InboundEvent` and :class:`OutboundMessage`:
it is channel-neutral.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from aiohttp import web

if TYPE_CHECKING:
    import aiohttp
    import pluggy

    from tendero.settings import Settings

ELLIPSIS = "…"


# --- limits ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageLimits:
    """What one message may carry on a channel (the platform rejects more).

    ``max_buttons``: tappable reply choices attached to one message (WhatsApp reply
    buttons, Messenger/Instagram quick replies). ``max_list_rows``: rows of a list
    message (0: the channel has no list messages; use buttons or numbered text).
    Lengths are in characters except the text length when ``text_length_unit`` is
    ``"bytes"`` (UTF-8 bytes, as Instagram counts them).
    """

    max_text_length: int
    text_length_unit: Literal["chars", "bytes"] = "chars"
    max_buttons: int = 0
    max_button_title_length: int = 20
    max_button_id_length: int = 256
    # Text that carries buttons or a list (WhatsApp: the interactive body, 1024).
    max_interactive_text_length: int | None = None
    max_list_rows: int = 0
    max_list_row_title_length: int = 24
    max_list_row_description_length: int = 72
    max_list_button_length: int = 20
    max_caption_length: int = 0  # 0: images carry no caption; send the text on its own

    def text_length(self, text: str) -> int:
        """Length of ``text`` in this channel's unit."""
        return len(text.encode("utf-8")) if self.text_length_unit == "bytes" else len(text)

    def fits_text(self, text: str, *, interactive: bool = False) -> bool:
        """Whether ``text`` fits one message (``interactive``: with buttons or a list)."""
        limit = self.max_interactive_text_length if interactive else None
        return self.text_length(text) <= (limit or self.max_text_length)

    def truncate(self, text: str, limit: int, *, unit: str = "chars") -> str:
        """Cut ``text`` to ``limit`` (in ``unit``), ending with "…" when it was cut.

        Never splits a character: in bytes mode the cut falls on a UTF-8 boundary.
        """

        def size(s: str) -> int:
            return len(s.encode("utf-8")) if unit == "bytes" else len(s)

        if size(text) <= limit:
            return text
        budget = limit - size(ELLIPSIS)
        if budget <= 0:
            return ""
        cut = (
            text[:budget]
            if unit == "chars"
            else (text.encode("utf-8")[:budget].decode("utf-8", errors="ignore"))
        )
        return cut.rstrip() + ELLIPSIS

    def truncate_text(self, text: str) -> str:
        """Cut a message text to the channel's limit."""
        return self.truncate(text, self.max_text_length, unit=self.text_length_unit)

    def truncate_button_title(self, title: str) -> str:
        return self.truncate(title, self.max_button_title_length)

    def split_text(self, text: str) -> list[str]:
        """Split a long text into messages that each fit, at paragraph, line or word
        boundaries when possible (a single over-long word is cut)."""
        if self.fits_text(text):
            return [text]
        parts: list[str] = []
        current = ""
        for piece in _pieces(text):
            candidate = current + piece
            if self.fits_text(candidate.rstrip()):
                current = candidate
                continue
            if current.strip():
                parts.append(current.rstrip())
            current = piece.lstrip()
            while not self.fits_text(current.rstrip()):
                head = self.truncate(current, self.max_text_length, unit=self.text_length_unit)
                head = head.removesuffix(ELLIPSIS) or current[:1]
                parts.append(head.rstrip())
                current = current[len(head) :].lstrip()
        if current.strip():
            parts.append(current.rstrip())
        return parts

    def problems(self, message: OutboundMessage) -> list[str]:
        """Everything in ``message`` the platform would reject, as sentences."""
        found = []
        interactive = bool(message.buttons or message.list_rows)
        limit = (self.max_interactive_text_length if interactive else None) or self.max_text_length
        if self.text_length(message.text) > limit:
            found.append(f"text is longer than {limit} {self.text_length_unit}")
        if len(message.buttons) > self.max_buttons:
            found.append(f"{len(message.buttons)} buttons; at most {self.max_buttons}")
        for button in message.buttons:
            if not button.title or len(button.title) > self.max_button_title_length:
                found.append(
                    f"button title {button.title!r} must have 1-{self.max_button_title_length} characters"
                )
            if len(button.id) > self.max_button_id_length:
                found.append(f"button id longer than {self.max_button_id_length}")
        if len({b.title for b in message.buttons}) < len(message.buttons):
            found.append("button titles must be unique")
        if len(message.list_rows) > self.max_list_rows:
            found.append(f"{len(message.list_rows)} list rows; at most {self.max_list_rows}")
        for row in message.list_rows:
            if not row.title or len(row.title) > self.max_list_row_title_length:
                found.append(
                    f"list row title {row.title!r} must have 1-{self.max_list_row_title_length} characters"
                )
            if len(row.description or "") > self.max_list_row_description_length:
                found.append(
                    f"list row description longer than {self.max_list_row_description_length}"
                )
        if message.buttons and message.list_rows:
            found.append("a message carries buttons or a list, not both")
        # Without captions (max 0) the adapter sends the text as a message of its own.
        caption = self.max_caption_length
        if message.image_url and caption and len(message.text) > caption:
            found.append(f"caption longer than {caption} characters")
        return found


def _pieces(text: str) -> list[str]:
    """``text`` as words with their trailing whitespace (so joining gives it back)."""
    pieces: list[str] = []
    word = ""
    for ch in text:
        if ch.isspace():
            word += ch
        elif word and word[-1].isspace():
            pieces.append(word)
            word = ch
        else:
            word += ch
    if word:
        pieces.append(word)
    return pieces


# --- what flows in and out ----------------------------------------------------------------


class EventKind(StrEnum):
    """What an inbound event is. Only ``MESSAGE`` and ``BUTTON`` reach the agent."""

    MESSAGE = "message"  # the customer wrote or sent something
    BUTTON = "button"  # the customer tapped a reply button, quick reply or list row
    ECHO = "echo"  # a message the business side sent (the app itself or a person)
    STATUS = "status"  # delivery receipt of an outbound message: sent/delivered/read/failed
    REACTION = "reaction"
    OTHER = "other"  # anything the channel knows but Tendero does not act on


@dataclass(frozen=True)
class Attachment:
    """A media item or location a customer sent."""

    kind: str  # image, audio, video, file, sticker, location, ...
    url: str | None = None  # Messenger/Instagram: a CDN URL (expires)
    media_id: str | None = None  # WhatsApp: fetch through the Graph API
    mime_type: str | None = None
    caption: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class InboundEvent:
    """One event out of a webhook delivery (a delivery may carry many).

    ``message_id`` is the platform's id (``wamid...``, ``m_...``); together with
    ``channel`` it is what makes Meta's redeliveries no-ops in the inbox.
    ``customer_id`` is the id the channel addresses the customer by (the order's
    ``customer.platform_id``); ``business_id`` the account that received it (WhatsApp
    phone number id, Page id, Instagram account id).
    """

    channel: str
    kind: EventKind
    message_id: str
    customer_id: str
    timestamp: datetime
    business_id: str = ""
    text: str = ""
    payload: str | None = None  # the id of the tapped button / quick reply / list row
    customer_name: str | None = None
    customer_phone: str | None = None
    attachments: tuple[Attachment, ...] = ()
    reply_to: str | None = None  # the platform id of the message this one answers
    status: str | None = None  # STATUS events: sent, delivered, read, failed
    error: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # ECHO events: True when the echoed message was sent by this app (the outbox already
    # recorded it); False when a person in the platform's inbox or another app wrote it,
    # which pauses the agent in that conversation for 15 minutes.
    echo_from_app: bool = False
    # How the channel addresses the customer when it is not the default (WhatsApp BSUID
    # users: "user_id"); kept so a reply can use the same addressing.
    recipient_kind: str | None = None
    # STATUS events naming no message (``message_id`` ""): every outbound message the
    # business sent to this customer at or before this time has reached ``status``
    # (Messenger's ``read.watermark`` and ``delivery.watermark`` without ``mids``).
    watermark: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """This event as a JSON-ready dict (what the inbox stores); see :meth:`from_json`."""
        return {
            "channel": self.channel,
            "kind": str(self.kind),
            "message_id": self.message_id,
            "customer_id": self.customer_id,
            "timestamp": self.timestamp.isoformat(),
            "business_id": self.business_id,
            "text": self.text,
            "payload": self.payload,
            "customer_name": self.customer_name,
            "customer_phone": self.customer_phone,
            "attachments": [_attachment_to_json(a) for a in self.attachments],
            "reply_to": self.reply_to,
            "status": self.status,
            "error": self.error,
            "raw": dict(self.raw),
            "echo_from_app": self.echo_from_app,
            "recipient_kind": self.recipient_kind,
            "watermark": self.watermark.isoformat() if self.watermark else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InboundEvent:
        """Rebuild an event from :meth:`to_json` output (unknown keys are ignored)."""
        timestamp = _aware(datetime.fromisoformat(data["timestamp"]))
        watermark = data.get("watermark")
        return cls(
            channel=data["channel"],
            kind=EventKind(data["kind"]),
            message_id=data["message_id"],
            customer_id=data["customer_id"],
            timestamp=timestamp,
            business_id=data.get("business_id") or "",
            text=data.get("text") or "",
            payload=data.get("payload"),
            customer_name=data.get("customer_name"),
            customer_phone=data.get("customer_phone"),
            attachments=tuple(Attachment(**a) for a in data.get("attachments") or ()),
            reply_to=data.get("reply_to"),
            status=data.get("status"),
            error=data.get("error"),
            raw=data.get("raw") or {},
            echo_from_app=bool(data.get("echo_from_app")),
            recipient_kind=data.get("recipient_kind"),
            watermark=_aware(datetime.fromisoformat(watermark)) if watermark else None,
        )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _attachment_to_json(attachment: Attachment) -> dict[str, Any]:
    return {
        "kind": attachment.kind,
        "url": attachment.url,
        "media_id": attachment.media_id,
        "mime_type": attachment.mime_type,
        "caption": attachment.caption,
        "latitude": attachment.latitude,
        "longitude": attachment.longitude,
    }


@dataclass(frozen=True)
class Button:
    """A reply button / quick reply: ``id`` comes back as the event's ``payload``."""

    id: str
    title: str


@dataclass(frozen=True)
class ListRow:
    """A row of a list message (WhatsApp)."""

    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class OutboundMessage:
    """One message to a customer, channel-neutral; the adapter renders it.

    Carry at most one of ``buttons`` and ``list_rows``; with an ``image_url`` the text
    is the caption. Check it against the channel with :meth:`MessageLimits.problems`.
    """

    channel: str
    recipient_id: str
    text: str = ""
    buttons: tuple[Button, ...] = ()
    list_rows: tuple[ListRow, ...] = ()
    list_button: str | None = None  # the label that opens the list ("Ver opciones")
    image_url: str | None = None
    reply_to: str | None = None  # quote this platform message id, where supported
    tag: str | None = None  # Messenger/Instagram message tag outside the 24 h window
    # How to address the recipient when not the default (see InboundEvent.recipient_kind).
    recipient_kind: str | None = None

    def to_json(self) -> dict[str, Any]:
        """This message as a JSON-ready dict (what the outbox stores)."""
        return {
            "channel": self.channel,
            "recipient_id": self.recipient_id,
            "text": self.text,
            "buttons": [{"id": b.id, "title": b.title} for b in self.buttons],
            "list_rows": [
                {"id": r.id, "title": r.title, "description": r.description} for r in self.list_rows
            ],
            "list_button": self.list_button,
            "image_url": self.image_url,
            "reply_to": self.reply_to,
            "tag": self.tag,
            "recipient_kind": self.recipient_kind,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OutboundMessage:
        """Rebuild a message from :meth:`to_json` output."""
        return cls(
            channel=data["channel"],
            recipient_id=data["recipient_id"],
            text=data.get("text") or "",
            buttons=tuple(Button(**b) for b in data.get("buttons") or ()),
            list_rows=tuple(ListRow(**r) for r in data.get("list_rows") or ()),
            list_button=data.get("list_button"),
            image_url=data.get("image_url"),
            reply_to=data.get("reply_to"),
            tag=data.get("tag"),
            recipient_kind=data.get("recipient_kind"),
        )


# --- the adapter ---------------------------------------------------------------------------


class ChannelError(Exception):
    """A send failed. ``retryable`` tells the outbox whether to try again later."""

    def __init__(self, message: str, *, retryable: bool = False, code: str | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class Channel(ABC):
    """A messaging channel. Subclass it, fill in the class attributes, implement
    :meth:`parse` and :meth:`send`, and return an instance from ``register_channels``.

    ``required_settings`` names the :class:`~tendero.settings.Settings` fields that must
    be set for the channel to work; :meth:`configured` checks them.
    """

    name: ClassVar[str]
    display_name: ClassVar[str]
    icon: ClassVar[str]  # inline SVG with a <title>, sized by CSS (1em by default)
    limits: ClassVar[MessageLimits]
    required_settings: ClassVar[tuple[str, ...]] = ()
    # Free text may be sent only this long after the customer's last message (Meta's
    # 24-hour customer-service window); None: no window (e.g. the terminal channel).
    # The outbox checks it from the conversation's last_inbound_at.
    free_text_window: ClassVar[timedelta | None] = timedelta(hours=24)
    # Sends per second the outbox allows this channel (a token bucket; None: no limit).
    # A channel may set it per instance from a setting (WhatsApp does).
    send_rate_per_second: float | None = 20.0

    http: aiohttp.ClientSession | None = None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def attach(self, http: aiohttp.ClientSession) -> None:
        """Give the channel the app's HTTP client (called by the host at startup, before
        any parse or send). The host owns and closes it."""
        self.http = http

    async def handle_verify(self, request: web.Request) -> web.Response:
        """Answer ``GET /webhooks/{name}`` (Meta's verify handshake). Default: 405."""
        return web.Response(status=405, text="this channel has no verify handshake")

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether a webhook POST is genuine (e.g. ``X-Hub-Signature-256`` over the raw
        ``body``). The default refuses everything: a channel must opt in. A refused
        delivery is answered 403 and nothing of it is stored."""
        return False

    async def download_media(self, attachment: Attachment) -> tuple[bytes, str]:
        """Fetch an attachment the customer sent: ``(content, media type)``.

        Raise any exception on failure; the dispatcher logs it and runs the turn anyway.
        """
        raise NotImplementedError(f"{self.name}: media download is not supported")

    def mark_read(self, event: InboundEvent) -> Awaitable[None] | None:
        """Called when a turn starts for ``event`` (WhatsApp: mark read and show the
        typing indicator). Sync or async; errors are logged, never fatal. Default: no-op."""
        return None

    @property
    def webhook_path(self) -> str:
        return f"/webhooks/{self.name}"

    def missing_settings(self, settings: Settings | None = None) -> list[str]:
        """The environment variables still to set, e.g. ``["TENDERO_WHATSAPP_ACCESS_TOKEN"]``."""
        current = settings if settings is not None else self.settings
        return [
            f"TENDERO_{key.upper()}"
            for key in self.required_settings
            if not getattr(current, key, "")
        ]

    def configured(self, settings: Settings | None = None) -> bool:
        """Whether every credential the channel needs is set (in ``settings``, default
        the settings the adapter was built with). An unconfigured channel is listed as
        "not configured" and its webhook answers 404."""
        return not self.missing_settings(settings)

    @abstractmethod
    def parse(self, raw_body: bytes) -> list[InboundEvent]:
        """Every event of one webhook delivery, in order (a delivery may batch many;
        unknown kinds become ``EventKind.OTHER`` or are skipped, never an error).
        The signature has been checked before this is called."""

    @abstractmethod
    async def send(self, message: OutboundMessage) -> str:
        """Deliver ``message`` and return the platform's message id; raise
        :class:`ChannelError` on failure (``retryable`` for 429/5xx/timeouts)."""

    def __repr__(self) -> str:
        state = "configured" if self.configured() else "not configured"
        return f"<{type(self).__name__} {self.name!r} ({state})>"


def svg_icon(title: str, body: str, *, view_box: str = "0 0 24 24") -> str:
    """An inline SVG icon with an accessible name (``role="img"`` and a ``<title>``)."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{view_box}" width="1em" '
        f'height="1em" role="img" class="channel-icon"><title>{title}</title>{body}</svg>'
    )


async def collect_channels(pm: pluggy.PluginManager, settings: Settings) -> dict[str, Channel]:
    """Every channel the plugins register, by name (a duplicate name is an error)."""
    from tendero.plugins import call_hook, flatten

    channels: dict[str, Channel] = {}
    for channel in flatten(await call_hook(pm, "register_channels", settings=settings)):
        if channel.name in channels:
            raise ValueError(f"two plugins register a channel named {channel.name!r}")
        channels[channel.name] = channel
    return channels
