"""The dispatcher: turns pending inbox rows into agent turns.

Rows are taken in arrival order per conversation — one turn at a time per conversation —
and many conversations run at once (bounded by a semaphore). A turn runs outside any
write transaction (see :mod:`tendero.conversations.turns`); its effects, its replies
(outbound messages + outbox rows) and the "done" mark of its inbox row then commit in
ONE short transaction that first re-checks the row is still pending. A crash before that
commit leaves the row pending (retried on restart); after it, the outbox owns delivery:
nothing is lost and nothing is answered twice.

The webhook hands over the conversations it just queued turns for
(:meth:`Dispatcher.hint`): their drains start at once, without a scan. The full scan
runs at start and every few seconds (rows of other processes, failed turns to retry).
A drain loads one row at a time with a look at whether another one waits behind it, so
it ends without an empty query; the sender is told which conversation has new replies.

With PostgreSQL several processes may run dispatchers over one inbox: each drain of a
conversation holds the conversation's advisory lock (:mod:`tendero.db.locks`), so no
conversation ever runs two turns at once — the LangGraph checkpoint, written during the
turn, is never written by two processes at once. The re-check in the commit stays as a
second guard. Rows of a process that died are still ``pending`` (nothing is marked
before the commit) and its locks died with its session: the next poll of any survivor
takes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tendero.channels.base import Channel, InboundEvent, OutboundMessage
from tendero.channels.render import render
from tendero.conversations.gate import WriteGate
from tendero.conversations.media import store_media
from tendero.conversations.outbox import enqueue
from tendero.conversations.turns import LeadInfo, Reply, TurnContext, TurnRunner
from tendero.conversations.workers import ConversationWorkers
from tendero.db import Database, is_disconnect
from tendero.db.locks import ConversationLocks
from tendero.db.models import Conversation, InboxEvent, Lead, Message
from tendero.db.types import utcnow
from tendero.plugins import resolve
from tendero.settings import Settings

log = structlog.get_logger(__name__)

SCAN_BATCH = 500


@dataclass
class _Work:
    row_id: int
    more: bool  # another pending row of the conversation waits behind this one
    channel: str
    message_id: int | None
    attempts: int
    event: InboundEvent
    conversation_id: int
    paused: bool
    lead: LeadInfo
    language: str


class Dispatcher(ConversationWorkers):
    """Runs turns for pending inbox rows; see the module doc."""

    kind = "turns"

    def __init__(
        self,
        db: Database,
        settings: Settings,
        channels: Mapping[str, Channel],
        runner: TurnRunner,
        *,
        concurrency: int = 32,
        poll_interval: float = 2.0,
        max_attempts: int = 5,
        on_committed: Callable[[int], None] | None = None,
        gate: WriteGate | None = None,
        locks: ConversationLocks | None = None,
    ) -> None:
        super().__init__(concurrency=concurrency, poll_interval=poll_interval, locks=locks)
        self.db = db
        self.settings = settings
        self.channels = channels
        self.runner = runner
        self.max_attempts = max_attempts
        self.on_committed = on_committed
        self.gate = gate or WriteGate(enabled=False)

    async def scan(self) -> float | None:
        """Start a drain task for each conversation with pending inbox rows."""
        if not self.channels:
            return None
        first = sa.func.min(InboxEvent.id)
        async with self.db.read_session() as session:
            rows = await session.execute(
                sa.select(InboxEvent.conversation_id)
                .where(InboxEvent.status == "pending", InboxEvent.channel.in_(list(self.channels)))
                .group_by(InboxEvent.conversation_id)
                .order_by(first)
                .limit(SCAN_BATCH)
            )
            conversation_ids = list(rows.scalars())
        self.start(conversation_ids)
        return None

    async def handle_next(self, conversation_id: int) -> bool:
        """Run the turn of the conversation's oldest pending row; ``True`` when it ran
        and another row waits behind it, ``False`` when there is nothing more or it
        failed (retried at the next poll, keeping arrival order)."""
        work = await self._next_work(conversation_id)
        if work is None:
            return False
        channel = self.channels.get(work.channel)
        if channel is None:  # its plugin was removed while the row waited
            return False
        if work.paused:
            await self._commit(work, [], [], None)
            log.info("agent paused: no reply", conversation=conversation_id)
            return work.more
        await self._mark_read(channel, work.event)
        media_paths, media_problems = await self._download_media(channel, work.event)
        try:
            async with self.db.read_session() as session:
                ctx = TurnContext(
                    conversation_id=conversation_id,
                    channel=channel.name,
                    lead=work.lead,
                    event=work.event,
                    limits=channel.limits,
                    session=session,
                    settings=self.settings,
                    language=work.language,
                    media_paths=media_paths,
                )
                replies = list(await self.runner(ctx))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("turn failed", conversation=conversation_id, inbox_id=work.row_id)
            await self._record_failure(work, exc)
            return False
        outbound = [
            message
            for reply in replies
            for message in self._render(reply, channel, work)
            if message.text or message.image_url
        ]
        await self._commit(work, outbound, ctx.effects, media_paths, media_problems)
        return work.more

    def _render(self, reply: Reply, channel: Channel, work: _Work) -> list[OutboundMessage]:
        messages = render(reply, work.channel, work.lead.platform_id, channel.limits)
        if work.event.recipient_kind:
            messages = [_with_recipient_kind(m, work.event.recipient_kind) for m in messages]
        return messages

    async def _next_work(self, conversation_id: int) -> _Work | None:
        async with self.db.read_session() as session:
            # Two rows: the second only says whether the drain goes on after this turn.
            found = (await session.execute(_NEXT_WORK, {"conversation_id": conversation_id})).all()
        if not found:
            return None
        row, conversation, lead = found[0]
        now = utcnow()
        # A handoff or a merchant's reply pauses the agent for a while (needs_human
        # stays set for the panel until a merchant clears it).
        paused = (
            conversation.agent_paused_until is not None and conversation.agent_paused_until > now
        )
        return _Work(
            row_id=row.id,
            more=len(found) > 1,
            channel=row.channel,
            message_id=row.message_id,
            attempts=row.attempts,
            event=InboundEvent.from_json(row.payload),
            conversation_id=conversation.id,
            paused=paused,
            lead=LeadInfo(
                id=lead.id,
                name=lead.name,
                platform_id=lead.platform_id,
                phone=lead.phone or "",
                email=lead.email or "",
                last_address=dict(lead.last_address) if lead.last_address else None,
            ),
            language=conversation.language,
        )

    async def _claim(self, session: AsyncSession, row_id: int, conversation_id: int) -> bool:
        """Take the row for this commit; ``False`` when another worker already did, or
        when the conversation's lock was lost during the turn (its next holder runs the
        turn again: committing this one too would answer twice)."""
        if self.locks is not None and not await self.locks.still_held(session, conversation_id):
            log.warning("conversation lock lost during the turn", conversation=conversation_id)
            return False
        if self.db.dialect == "postgresql":
            locked = await session.execute(
                sa.select(InboxEvent.id)
                .where(InboxEvent.id == row_id, InboxEvent.status == "pending")
                .with_for_update(skip_locked=True)
            )
            if locked.first() is None:
                return False
        done = await session.execute(
            sa.update(InboxEvent)
            .where(InboxEvent.id == row_id, InboxEvent.status == "pending")
            .values(status="done", processed_at=utcnow(), last_error=None)
            .returning(InboxEvent.id)
        )
        return done.first() is not None

    async def _commit(
        self,
        work: _Work,
        outbound: list[OutboundMessage],
        effects: list,
        media_paths: list[str] | None,
        media_problems: list[str] | None = None,
    ) -> None:
        async with self.gate.background(), self.db.session() as session:
            if not await self._claim(session, work.row_id, work.conversation_id):
                log.info("inbox row already handled elsewhere", inbox_id=work.row_id)
                return
            now = utcnow()
            if (media_paths or media_problems) and work.message_id is not None:
                # The transcript shows the file, or why it was not kept.
                await session.execute(
                    sa.update(Message)
                    .where(Message.id == work.message_id)
                    .values(
                        media_path=media_paths[0] if media_paths else None,
                        error="; ".join(media_problems)[:2000] if media_problems else None,
                    )
                )
            for effect in effects:
                await effect(session)
            for message in outbound:
                await enqueue(
                    session,
                    work.conversation_id,
                    message,
                    now,
                    kind=_outbound_kind(message),
                    payload=_outbound_payload(message),
                )
            if outbound:
                await session.execute(
                    sa.update(Conversation)
                    .where(Conversation.id == work.conversation_id)
                    .values(last_message_at=now)
                )
        if outbound and self.on_committed is not None:
            self.on_committed(work.conversation_id)

    async def _record_failure(self, work: _Work, exc: Exception) -> None:
        if is_disconnect(exc):
            # The database went away (a restart): not the turn's fault, so no attempt is
            # counted; the row is still pending and runs again once the database is back.
            log.warning("turn cut off by the database; retried", inbox_id=work.row_id)
            return
        attempts = work.attempts + 1
        status = "failed" if attempts >= self.max_attempts else "pending"
        async with self.gate.background(), self.db.session() as session:
            await session.execute(
                sa.update(InboxEvent)
                .where(InboxEvent.id == work.row_id, InboxEvent.status == "pending")
                .values(
                    attempts=attempts,
                    status=status,
                    last_error=f"{type(exc).__name__}: {exc}"[:2000],
                    processed_at=utcnow() if status == "failed" else None,
                )
            )

    async def _mark_read(self, channel: Channel, event: InboundEvent) -> None:
        try:
            await resolve(channel.mark_read(event))
        except Exception:
            log.warning("mark_read failed", channel=channel.name, exc_info=True)

    async def _download_media(
        self, channel: Channel, event: InboundEvent
    ) -> tuple[list[str], list[str]]:
        """The stored attachments' paths, and why each refused one was not stored."""
        paths, problems = [], []
        for attachment in event.attachments:
            if not (attachment.url or attachment.media_id):
                continue  # a location, or nothing to fetch
            try:
                content, media_type = await channel.download_media(attachment)
                paths.append(store_media(self.settings.data_dir, content, media_type))
            except Exception as exc:
                log.warning(
                    "media not stored", channel=channel.name, kind=attachment.kind, error=str(exc)
                )
                problems.append(f"{attachment.kind} not stored: {exc or type(exc).__name__}")
        return paths, problems


# Built once (building a statement costs about what running it does).
_NEXT_WORK = (
    sa.select(InboxEvent, Conversation, Lead)
    .join(Conversation, Conversation.id == InboxEvent.conversation_id)
    .join(Lead, Lead.id == Conversation.lead_id)
    .where(
        InboxEvent.conversation_id == sa.bindparam("conversation_id"),
        InboxEvent.status == "pending",
    )
    .order_by(InboxEvent.id)
    .limit(2)
)


def _outbound_kind(message: OutboundMessage) -> str:
    if message.buttons:
        return "buttons"
    if message.list_rows:
        return "list"
    if message.image_url:
        return "image"
    return "text"


def _outbound_payload(message: OutboundMessage) -> dict[str, object] | None:
    body = message.to_json()
    payload = {k: body[k] for k in ("buttons", "list_rows", "list_button", "image_url") if body[k]}
    return payload or None


def _with_recipient_kind(message: OutboundMessage, kind: str) -> OutboundMessage:
    from dataclasses import replace

    return replace(message, recipient_kind=kind)
