"""Panel page: Channels — what the merchant pastes into Meta's dashboard, and whether
each channel works.

For every channel adapter the app runs (built-in WhatsApp, Messenger, Instagram, and any
plugin channel): configured or not (the missing settings by name, never a value), the
webhook URL (from the address the merchant reached the panel at, honouring a reverse
proxy's ``X-Forwarded-Proto``/``X-Forwarded-Host``), the verify token, the last customer
message received (``inbox_events``) and the last message that could not be sent
(``outbox_messages`` with ``status='failed'``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from aiohttp import web
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession
from tendero.app import CHANNELS, DATABASE
from tendero.channels.base import Channel
from tendero.db.models import InboxEvent, OutboxMessage
from tendero.logging import mask_secrets
from tendero.settings import Settings

from tendero_web import panel

routes = web.RouteTableDef()

BUILT_IN_ORDER = ("whatsapp", "facebook", "instagram")
# Webhook fields to subscribe to in Meta's dashboard, per built-in channel.
SUBSCRIBE_FIELDS = {
    "whatsapp": ("messages",),
    "facebook": (
        "messages",
        "messaging_postbacks",
        "message_deliveries",
        "message_reads",
        "message_echoes",
    ),
    "instagram": ("messages", "messaging_postbacks", "messaging_seen", "message_reactions"),
}
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


@dataclass(frozen=True)
class LastError:
    """The newest message a channel could not deliver."""

    error: str
    at: datetime  # when its last attempt was due (the failure is within seconds of it)


@dataclass(frozen=True)
class ChannelStatus:
    """Everything the page shows about one channel."""

    name: str
    display_name: str
    icon: Markup
    configured: bool
    missing: list[str]
    webhook_url: str
    verify_token: str | None  # None: the channel has no verify handshake
    subscribe_fields: tuple[str, ...]
    last_event_at: datetime | None
    last_error: LastError | None


@routes.get("/channels", name="channels")
async def channels_page(request: web.Request) -> web.Response:
    channels: dict[str, Channel] = request.app.get(CHANNELS) or {}
    ordered = sorted(
        channels.values(),
        key=lambda c: (
            BUILT_IN_ORDER.index(c.name) if c.name in BUILT_IN_ORDER else len(BUILT_IN_ORDER),
            c.name,
        ),
    )
    base = public_base_url(request)
    async with request.app[DATABASE].read_session() as session:
        statuses = [
            ChannelStatus(
                name=channel.name,
                display_name=channel.display_name,
                icon=_icon(channel),
                configured=channel.configured(),
                missing=channel.missing_settings(),
                webhook_url=base + channel.webhook_path,
                verify_token=_verify_token(channel, channel.settings),
                subscribe_fields=SUBSCRIBE_FIELDS.get(channel.name, ()),
                last_event_at=await session.scalar(
                    sa.select(sa.func.max(InboxEvent.received_at)).where(
                        InboxEvent.channel == channel.name
                    )
                ),
                last_error=await _last_error(session, channel.name),
            )
            for channel in ordered
        ]
    return await panel.render(
        request,
        "channels/list.html",
        {"channels": statuses, "https": base.startswith("https://")},
    )


async def _last_error(session: AsyncSession, channel: str) -> LastError | None:
    row = (
        await session.execute(
            sa.select(OutboxMessage.last_error, OutboxMessage.next_attempt_at)
            .where(OutboxMessage.channel == channel, OutboxMessage.status == "failed")
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    # The error text came from outside (Meta's answer): no secret of ours is shown.
    return LastError(error=mask_secrets(row.last_error or ""), at=row.next_attempt_at)


def public_base_url(request: web.Request) -> str:
    """``https://shop.example``: how the outside world reaches this app — the reverse
    proxy's ``X-Forwarded-Proto``/``X-Forwarded-Host`` when present (first value), else
    the request's own scheme and host."""
    scheme = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    if scheme not in ("http", "https"):
        scheme = request.scheme
    host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
    if not _HOST.match(host):
        host = request.host
    return f"{scheme}://{host}"


def _verify_token(channel: Channel, settings: Settings) -> str | None:
    """The configured verify token ("" when not set), or ``None`` for a channel without
    Meta's handshake. The token is what the merchant types into Meta; app secrets and
    access tokens are never shown."""
    field = getattr(channel, "verify_token_setting", None)
    if not field:
        return None
    return str(getattr(settings, field, "") or "")


def _icon(channel: Channel) -> Markup:
    """The adapter's inline SVG: markup from the plugin's code (not from data), so it is
    rendered as is; anything that is not an SVG is left out."""
    icon = (getattr(channel, "icon", "") or "").strip()
    return Markup(icon) if icon.startswith("<svg") else Markup("")
