"""Status updates to the customer by chat.

When the merchant marks an order ``shipped`` or ``ready_for_pickup``, the customer gets a
message in the conversation the order came from — but only inside the channel's
free-text window (Meta's rule on WhatsApp, Messenger and Instagram alike: 24 hours from
the customer's last message; ``Channel.free_text_window``). When the message cannot go
out, the order gets a note saying why, so the merchant knows to tell the customer
another way.

The message travels like any agent reply: rendered for the channel, stored as an
outbound message with its outbox row, then delivered (with retries and delivery
statuses) by the outbox sender, which this module wakes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tendero.agent.replies.messages import Replies
from tendero.channels.base import Channel
from tendero.channels.render import render
from tendero.conversations.outbox import enqueue
from tendero.conversations.pipeline import Pipeline
from tendero.conversations.turns import Reply
from tendero.db import Database
from tendero.db.models import Conversation, InboxEvent
from tendero.db.types import utcnow
from tendero.orders.service import add_note
from tendero.store.document import StoreDocument
from tendero.store.service import get_published

log = structlog.get_logger(__name__)

# The order statuses the customer is told about by chat.
STATUS_UPDATES = frozenset({"shipped", "ready_for_pickup"})
NOTE_AUTHOR = "system"


class Outcome(StrEnum):
    """What became of one status update."""

    QUEUED = "queued"  # in the outbox; the sender delivers it
    NO_CONVERSATION = "no_conversation"
    CHANNEL_UNAVAILABLE = "channel_unavailable"
    OUTSIDE_WINDOW = "outside_window"


NOTES = {
    "es": {
        "note": "No se pudo avisar al cliente por chat que su pedido {event}: {reason}. "
        "Avísale por otro medio.",
        "shipped": "ya va en camino",
        "ready_for_pickup": "está listo para recoger",
        Outcome.OUTSIDE_WINDOW: "pasaron más de {hours} horas desde su último mensaje y "
        "{channel} solo permite escribirle dentro de ese plazo",
        Outcome.NO_CONVERSATION: "el pedido no está ligado a una conversación",
        Outcome.CHANNEL_UNAVAILABLE: "el canal {channel} no está configurado",
    },
    "en": {
        "note": "The customer could not be told by chat that their order {event}: {reason}. "
        "Let them know another way.",
        "shipped": "is on its way",
        "ready_for_pickup": "is ready for pickup",
        Outcome.OUTSIDE_WINDOW: "more than {hours} hours have passed since their last "
        "message, and {channel} only allows writing to them within that time",
        Outcome.NO_CONVERSATION: "the order is not linked to a conversation",
        Outcome.CHANNEL_UNAVAILABLE: "the {channel} channel is not configured",
    },
}


@dataclass(frozen=True)
class _Recipient:
    """The conversation an order came from, and how to address its customer there."""

    conversation_id: int
    channel: str
    platform_id: str
    recipient_kind: str | None
    language: str
    last_inbound_at: datetime | None


class StatusMessenger:
    """Sends the ``shipped`` / ``ready for pickup`` chat message of an order, or notes on
    the order that it could not be sent.

    ``pipeline``: the app's running pipeline (its configured channels, write gate and
    sender); ``None`` means no channel can send. ``channel_names``: display names of
    every installed channel, for the notes.
    """

    def __init__(
        self,
        db: Database,
        pipeline: Pipeline | None,
        channel_names: Mapping[str, str] | None = None,
    ) -> None:
        self.db = db
        self.pipeline = pipeline
        self.channel_names = dict(channel_names or {})

    async def send(
        self, order: Mapping[str, Any], status: str, *, now: datetime | None = None
    ) -> Outcome:
        """Queue the message for ``order`` (its JSON) now at ``status``; see the module doc."""
        if status not in STATUS_UPDATES:
            raise ValueError(f"no chat message for status {status!r}")
        now = now or utcnow()
        async with self.db.read_session() as session:
            store = await get_published(session)
            recipient = await _recipient(session, order)
        pipeline = self.pipeline
        channel = pipeline.channels.get(recipient.channel) if pipeline and recipient else None
        if recipient is None:
            outcome = Outcome.NO_CONVERSATION
        elif pipeline is None or channel is None:
            outcome = Outcome.CHANNEL_UNAVAILABLE
        elif _outside(channel.free_text_window, recipient.last_inbound_at, now):
            outcome = Outcome.OUTSIDE_WINDOW
        else:
            await self._queue(pipeline, store, recipient, channel, order, status, now)
            log.info("status message queued", order=order["number"], status=status)
            return Outcome.QUEUED
        await self._note(store, order, status, outcome, recipient, channel)
        log.info("status message not sent", order=order["number"], status=status, why=outcome)
        return outcome

    def _writing(self) -> AbstractAsyncContextManager[None]:
        """Background writers queue behind webhook ingress on SQLite (see the gate)."""
        if self.pipeline is None:
            return contextlib.nullcontext()
        return self.pipeline.gate.background()

    async def _queue(
        self,
        pipeline: Pipeline,
        store: StoreDocument,
        recipient: _Recipient,
        channel: Channel,
        order: Mapping[str, Any],
        status: str,
        now: datetime,
    ) -> None:
        replies = Replies(store, recipient.language or None)
        reply = Reply(
            text=replies.status_update(status, int(order["number"])), language=replies.language
        )
        messages = render(reply, channel.name, recipient.platform_id, channel.limits)
        if recipient.recipient_kind:
            messages = [replace(m, recipient_kind=recipient.recipient_kind) for m in messages]
        async with pipeline.gate.background(), self.db.session() as session:
            for message in messages:
                await enqueue(session, recipient.conversation_id, message, now, author="system")
            await session.execute(
                sa.update(Conversation)
                .where(Conversation.id == recipient.conversation_id)
                .values(last_message_at=now)
            )
        pipeline.sender.wake()

    async def _note(
        self,
        store: StoreDocument,
        order: Mapping[str, Any],
        status: str,
        outcome: Outcome,
        recipient: _Recipient | None,
        channel: Channel | None,
    ) -> None:
        texts = NOTES.get(store.company.language, NOTES["es"])
        channel_name = recipient.channel if recipient else str(order.get("channel") or "")
        window = channel.free_text_window if channel else None
        reason = texts[outcome].format(
            channel=self.channel_names.get(channel_name) or channel_name.capitalize(),
            hours=round(window / timedelta(hours=1)) if window else 0,
        )
        text = texts["note"].format(event=texts[status], reason=reason)
        async with self._writing(), self.db.session() as session:
            await add_note(session, int(order["number"]), text, author=NOTE_AUTHOR)


async def _recipient(session: AsyncSession, order: Mapping[str, Any]) -> _Recipient | None:
    conversation_id = order.get("conversation_id")
    if not conversation_id:
        return None
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    # Address the customer as their last message did (WhatsApp: phone or user id).
    last_event = await session.scalar(
        sa.select(InboxEvent.payload)
        .where(InboxEvent.conversation_id == conversation.id)
        .order_by(InboxEvent.id.desc())
        .limit(1)
    )
    customer = order.get("customer") or {}
    return _Recipient(
        conversation_id=conversation.id,
        channel=conversation.channel,
        platform_id=conversation.lead.platform_id or str(customer.get("platform_id") or ""),
        recipient_kind=(last_event or {}).get("recipient_kind"),
        language=conversation.language,
        last_inbound_at=conversation.last_inbound_at,
    )


def _outside(window: timedelta | None, last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether free text may no longer be sent (``None`` window: the channel has none)."""
    if window is None:
        return False
    return last_inbound_at is None or now - last_inbound_at > window
