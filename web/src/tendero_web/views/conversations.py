"""Panel pages: the conversations list, one conversation's transcript, and what the
merchant can do there — reply through the channel and pause or resume the agent.

A merchant's reply travels like an agent reply: recorded in the transcript (author
``merchant``) with its outbox row in one transaction, then delivered by the outbox sender
with retries and delivery statuses. Like a reply from the platform's own app (an echo),
it pauses the agent for 15 minutes. Meta only accepts free text within
24 hours of the customer's last message, so a reply outside that window is refused here
instead of queued for a certain failure.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager
from tendero.app import CHANNELS, DATABASE
from tendero.channels.base import Channel, OutboundMessage
from tendero.conversations.inbox import HUMAN_PAUSE, describe_error
from tendero.conversations.outbox import enqueue
from tendero.conversations.pipeline import PIPELINE, Pipeline
from tendero.db.models import Conversation, InboxEvent, Lead, Message, Order
from tendero.db.types import utcnow

from tendero_web import panel

routes = web.RouteTableDef()

PAGE_SIZE = 50
PREVIEW_LENGTH = 90
# The column holds a moment, not "forever": an indefinite pause is a far-away moment.
PAUSED_INDEFINITELY = datetime(9000, 1, 1, tzinfo=UTC)
# The pause choices the page offers (None: until the merchant resumes the agent).
PAUSE_CHOICES: dict[str, timedelta | None] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "forever": None,
}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")


# --- the list -------------------------------------------------------------------------


@dataclass(frozen=True)
class ListCursor:
    """Where a page of the list ended: the last row's ``(last_message_at, id)``."""

    last_message_at: datetime
    id: int

    def encode(self) -> str:
        raw = f"{self.last_message_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> ListCursor | None:
        """The cursor in ``token``; None for an empty or damaged one (first page)."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            moment, _, ident = raw.partition("|")
            at = datetime.fromisoformat(moment)
            return cls(at if at.tzinfo else at.replace(tzinfo=UTC), int(ident))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None


@dataclass(frozen=True)
class ConversationRow:
    """One line of the list."""

    id: int
    name: str
    handle: str
    channel: str
    needs_human: bool
    paused_until: datetime | None
    last_message_at: datetime
    preview: str
    preview_author: str
    preview_kind: str


def _search_conditions(search: str) -> list[sa.ColumnElement[bool]]:
    """Every word must appear in the lead's name, platform id or phone."""
    conditions = []
    for word in search.lower().split():
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        conditions.append(
            sa.or_(
                sa.func.lower(Lead.name).like(pattern, escape="\\"),
                sa.func.lower(Lead.platform_id).like(pattern, escape="\\"),
                Lead.phone.like(pattern, escape="\\"),
            )
        )
    return conditions


async def fetch_conversations(
    session: AsyncSession,
    *,
    needs_human: bool = False,
    search: str = "",
    after: ListCursor | None = None,
    limit: int = PAGE_SIZE,
) -> list[Conversation]:
    """Conversations by last activity, newest first (keyset-paged after ``after``)."""
    query = (
        sa.select(Conversation)
        .join(Lead, Lead.id == Conversation.lead_id)
        .options(contains_eager(Conversation.lead))
        .where(*_search_conditions(search))
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    if needs_human:
        query = query.where(Conversation.needs_human.is_(True))
    if after is not None:
        query = query.where(
            sa.or_(
                Conversation.last_message_at < after.last_message_at,
                sa.and_(
                    Conversation.last_message_at == after.last_message_at,
                    Conversation.id < after.id,
                ),
            )
        )
    return list((await session.scalars(query)).unique())


async def last_messages(
    session: AsyncSession, conversation_ids: Iterable[int]
) -> dict[int, Message]:
    """The newest message of each conversation (by the (conversation_id, id) index)."""
    ids = list(conversation_ids)
    if not ids:
        return {}
    newest = (
        sa.select(sa.func.max(Message.id))
        .where(Message.conversation_id.in_(ids))
        .group_by(Message.conversation_id)
    )
    rows = await session.scalars(sa.select(Message).where(Message.id.in_(newest)))
    return {message.conversation_id: message for message in rows}


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_LENGTH else text[: PREVIEW_LENGTH - 1].rstrip() + "…"


@routes.get("/conversations", name="conversations")
async def conversations_page(request: web.Request) -> web.StreamResponse:
    needs_human = request.query.get("needs_human") == "1"
    search = request.query.get("q", "").strip()
    after = ListCursor.decode(request.query.get("after", ""))
    async with request.app[DATABASE].read_session() as session:
        found = await fetch_conversations(
            session, needs_human=needs_human, search=search, after=after, limit=PAGE_SIZE + 1
        )
        page = found[:PAGE_SIZE]
        previews = await last_messages(session, [c.id for c in page])
    rows = []
    for conversation in page:
        last = previews.get(conversation.id)
        rows.append(
            ConversationRow(
                id=conversation.id,
                name=conversation.lead.name,
                handle=conversation.lead.phone or conversation.lead.platform_id,
                channel=conversation.channel,
                needs_human=conversation.needs_human,
                paused_until=_paused_until(conversation, utcnow()),
                last_message_at=conversation.last_message_at,
                preview=_preview(last.text) if last else "",
                preview_author=last.author if last else "",
                preview_kind=last.kind if last else "",
            )
        )
    filters = {"q": search} if search else {}
    if needs_human:
        filters["needs_human"] = "1"
    older = None
    if len(found) > PAGE_SIZE:
        last_row = page[-1]
        cursor = ListCursor(last_row.last_message_at, last_row.id)
        older = str(request.rel_url.with_query({**filters, "after": cursor.encode()}))
    return await panel.render(
        request,
        "conversations/list.html",
        {
            "rows": rows,
            "search": search,
            "needs_human": needs_human,
            "channels": _channel_info(request),
            "older_url": older,
            "first_url": str(request.rel_url.with_query(filters)) if after else None,
            "paused_indefinitely": PAUSED_INDEFINITELY,
        },
    )


# --- one conversation -----------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptMessage:
    """One message as the transcript shows it."""

    id: int
    direction: str
    author: str
    kind: str
    text: str
    created_at: datetime
    media_url: str | None
    media_is_image: bool
    delivery_status: str
    error: str
    choices: tuple[str, ...]  # buttons / list rows offered, or the choice tapped


def _transcript_message(message: Message) -> TranscriptMessage:
    media_url = "/" + message.media_path.lstrip("/") if message.media_path else None
    payload = message.payload or {}
    choices = tuple(
        str(item.get("title", ""))
        for key in ("buttons", "list_rows")
        for item in payload.get(key) or ()
        if isinstance(item, dict)
    )
    if not choices and payload.get("choice") and not message.text:
        choices = (str(payload["choice"]),)
    failed = message.delivery_status == "failed"
    return TranscriptMessage(
        id=message.id,
        direction=message.direction,
        author=message.author,
        kind=message.kind,
        text=message.text,
        created_at=message.created_at,
        media_url=media_url,
        media_is_image=bool(media_url and media_url.lower().endswith(IMAGE_SUFFIXES)),
        delivery_status=message.delivery_status or "",
        error=describe_error(message.error) if failed else "",
        choices=choices,
    )


async def _load_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise web.HTTPNotFound(text="No such conversation.")
    return conversation


async def _conversation_orders(session: AsyncSession, conversation_id: int) -> list[Any]:
    rows = await session.execute(
        sa.select(
            Order.number,
            Order.created_at,
            Order.total,
            Order.currency,
            Order.status,
            Order.payment_status,
        )
        .where(Order.conversation_id == conversation_id)
        .order_by(Order.created_at.desc())
    )
    return list(rows)


def _paused_until(conversation: Conversation, now: datetime) -> datetime | None:
    until = conversation.agent_paused_until
    return until if until is not None and until > now else None


def _outside_window(channel: Channel, last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether the channel no longer accepts free text (Meta's 24-hour rule), as the
    outbox sender decides it."""
    window = channel.free_text_window
    if window is None:
        return False
    return last_inbound_at is None or now - last_inbound_at > window


def _window_hours(channel: Channel) -> int:
    window = channel.free_text_window or timedelta(hours=24)
    return round(window / timedelta(hours=1))


async def _render_conversation(
    request: web.Request,
    conversation_id: int,
    *,
    reply_text: str = "",
    reply_error: str = "",
    status: int = 200,
) -> web.StreamResponse:
    _ = await panel.gettext(request)
    now = utcnow()
    async with request.app[DATABASE].read_session() as session:
        conversation = await _load_conversation(session, conversation_id)
        messages = await session.scalars(
            sa.select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id)
        )
        transcript = [_transcript_message(m) for m in messages]
        orders = await _conversation_orders(session, conversation_id)
    channel = _sending_channel(request, conversation.channel)
    cannot_reply = ""
    if channel is None:
        cannot_reply = _(
            "The {channel} channel is not configured, so replies cannot be sent.",
            channel=_channel_name(request, conversation.channel),
        )
    elif _outside_window(channel, conversation.last_inbound_at, now):
        cannot_reply = _outside_window_text(_, request, channel)
    return await panel.render(
        request,
        "conversations/detail.html",
        {
            "conversation": conversation,
            "lead": conversation.lead,
            "messages": transcript,
            "orders": orders,
            "channels": _channel_info(request),
            "paused_until": _paused_until(conversation, now),
            "paused_indefinitely": PAUSED_INDEFINITELY,
            "cannot_reply": cannot_reply,
            "max_length": channel.limits.max_text_length if channel else None,
            "reply_text": reply_text,
            "reply_error": reply_error,
        },
        status=status,
    )


@routes.get(r"/conversations/{id:\d+}", name="conversation")
async def conversation_page(request: web.Request) -> web.StreamResponse:
    return await _render_conversation(request, int(request.match_info["id"]))


# --- replying as the merchant ---------------------------------------------------------


@dataclass(frozen=True)
class _ReplyTarget:
    conversation_id: int
    channel: str
    platform_id: str
    recipient_kind: str | None
    last_inbound_at: datetime | None
    paused_until: datetime | None


async def _reply_target(session: AsyncSession, conversation_id: int) -> _ReplyTarget:
    conversation = await _load_conversation(session, conversation_id)
    # Address the customer as their last message did (WhatsApp: phone or user id).
    last_event = await session.scalar(
        sa.select(InboxEvent.payload)
        .where(InboxEvent.conversation_id == conversation_id)
        .order_by(InboxEvent.id.desc())
        .limit(1)
    )
    return _ReplyTarget(
        conversation_id=conversation.id,
        channel=conversation.channel,
        platform_id=conversation.lead.platform_id,
        recipient_kind=(last_event or {}).get("recipient_kind"),
        last_inbound_at=conversation.last_inbound_at,
        paused_until=conversation.agent_paused_until,
    )


def _reply_problem(
    _: Callable[..., str],
    request: web.Request,
    text: str,
    target: _ReplyTarget,
    channel: Channel | None,
    now: datetime,
) -> str | None:
    """Why ``text`` cannot be sent now (translated), or None when it can."""
    if not text:
        return _("Write a message first.")
    if channel is None:
        return _(
            "The {channel} channel is not configured, so replies cannot be sent.",
            channel=_channel_name(request, target.channel),
        )
    limits = channel.limits
    if not limits.fits_text(text):
        return _(
            "The message is too long for {channel}: {length} of at most {limit} characters.",
            channel=channel.display_name,
            length=limits.text_length(text),
            limit=limits.max_text_length,
        )
    if _outside_window(channel, target.last_inbound_at, now):
        return _outside_window_text(_, request, channel)
    return None


def _outside_window_text(_: Callable[..., str], request: web.Request, channel: Channel) -> str:
    return _(
        "More than {hours} hours have passed since the customer's last message, and "
        "{channel} only lets you write within that time. The reply was not sent; it can "
        "go out once the customer writes again.",
        hours=_window_hours(channel),
        channel=channel.display_name,
    )


async def send_merchant_reply(
    app: web.Application, target: _ReplyTarget, channel: Channel, text: str, now: datetime
) -> int:
    """Record ``text`` as the merchant's message, queue it for the channel and pause the
    agent for :data:`HUMAN_PAUSE` (a longer pause already set is kept). Returns the
    message id."""
    message = OutboundMessage(
        channel=channel.name,
        recipient_id=target.platform_id,
        text=text,
        recipient_kind=target.recipient_kind,
    )
    pause_until = now + HUMAN_PAUSE
    if target.paused_until is not None and target.paused_until > pause_until:
        pause_until = target.paused_until
    async with _writing(app), app[DATABASE].session() as session:
        row = await enqueue(session, target.conversation_id, message, now, author="merchant")
        await session.execute(
            sa.update(Conversation)
            .where(Conversation.id == target.conversation_id)
            .values(last_message_at=now, agent_paused_until=pause_until)
        )
        message_id = row.id
    pipeline = app.get(PIPELINE)
    if pipeline is not None:
        pipeline.sender.wake()
    return message_id


@routes.post(r"/conversations/{id:\d+}/reply", name="conversation_reply")
async def reply(request: web.Request) -> web.StreamResponse:
    _ = await panel.gettext(request)
    conversation_id = int(request.match_info["id"])
    form = await request.post()
    text = str(form.get("text", "")).strip()
    async with request.app[DATABASE].read_session() as session:
        target = await _reply_target(session, conversation_id)
    channel = _sending_channel(request, target.channel)
    now = utcnow()
    problem = _reply_problem(_, request, text, target, channel, now)
    if problem is not None or channel is None:
        return await _render_conversation(
            request, conversation_id, reply_text=text, reply_error=problem or "", status=422
        )
    await send_merchant_reply(request.app, target, channel, text, now)
    await panel.flash(request, _("Reply sent. The agent is paused for 15 minutes."), "success")
    raise panel.redirect(request, "conversation", id=str(conversation_id))


# --- pausing and resuming the agent ---------------------------------------------------


@routes.post(r"/conversations/{id:\d+}/pause", name="conversation_pause")
async def pause(request: web.Request) -> web.StreamResponse:
    _ = await panel.gettext(request)
    conversation_id = int(request.match_info["id"])
    form = await request.post()
    choice = str(form.get("duration", "15m"))
    if choice not in PAUSE_CHOICES:
        await panel.flash(request, _("Choose how long to pause the agent."), "error")
        raise panel.redirect(request, "conversation", id=str(conversation_id))
    duration = PAUSE_CHOICES[choice]
    until = PAUSED_INDEFINITELY if duration is None else utcnow() + duration
    await _update_conversation(request, conversation_id, agent_paused_until=until)
    await panel.flash(request, _("The agent is paused in this conversation."), "success")
    raise panel.redirect(request, "conversation", id=str(conversation_id))


@routes.post(r"/conversations/{id:\d+}/resume", name="conversation_resume")
async def resume(request: web.Request) -> web.StreamResponse:
    """Resume the agent and mark the conversation handled (clears "needs a person")."""
    _ = await panel.gettext(request)
    conversation_id = int(request.match_info["id"])
    await _update_conversation(request, conversation_id, agent_paused_until=None, needs_human=False)
    await panel.flash(request, _("The agent answers this conversation again."), "success")
    raise panel.redirect(request, "conversation", id=str(conversation_id))


async def _update_conversation(request: web.Request, conversation_id: int, **values: Any) -> None:
    async with _writing(request.app), request.app[DATABASE].session() as session:
        result = await session.execute(
            sa.update(Conversation).where(Conversation.id == conversation_id).values(**values)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise web.HTTPNotFound(text="No such conversation.")


# --- helpers --------------------------------------------------------------------------


def _writing(app: web.Application) -> AbstractAsyncContextManager[None]:
    """Panel writes queue behind webhook ingress on SQLite, like the pipeline's own."""
    pipeline: Pipeline | None = app.get(PIPELINE)
    if pipeline is None:
        return contextlib.nullcontext()
    return pipeline.gate.background()


def _sending_channel(request: web.Request, name: str) -> Channel | None:
    """The channel that can deliver a reply now (installed and configured), or None."""
    pipeline: Pipeline | None = request.app.get(PIPELINE)
    return pipeline.channels.get(name) if pipeline is not None else None


def _channel_name(request: web.Request, name: str) -> str:
    channel = (request.app.get(CHANNELS) or {}).get(name)
    return channel.display_name if channel is not None else name.capitalize()


def _channel_info(request: web.Request) -> dict[str, dict[str, Any]]:
    """Display name and icon of every installed channel, by name. The icons are inline
    SVG written by the channel plugins (code, not customer data)."""
    return {
        name: {"name": channel.display_name, "icon": Markup(channel.icon)}
        for name, channel in (request.app.get(CHANNELS) or {}).items()
    }
