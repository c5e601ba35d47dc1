"""Ingress: record a webhook delivery's events in one short write transaction.

Customer messages go to the durable inbox (``inbox_events``) with
``INSERT ... ON CONFLICT DO NOTHING`` on (channel, platform message id), so the
platform's redeliveries — concurrent ones too — are no-ops; each new one also becomes a
transcript :class:`~tendero.db.models.Message`. Statuses, echoes and reactions update
records and never reach the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tendero.channels.base import EventKind, InboundEvent
from tendero.conversations.gate import WriteGate
from tendero.db import Database
from tendero.db.models import Conversation, EarlyStatus, InboxEvent, Lead, Message
from tendero.db.types import utcnow

log = structlog.get_logger(__name__)

HUMAN_PAUSE = timedelta(minutes=15)
OUTSIDE_WINDOW = "outside the 24-hour window"
# Delivery statuses only move forward; "failed" is final unless the message was read.
STATUS_RANK = {"": 0, "pending": 0, "sent": 1, "delivered": 2, "read": 3}
EARLY_STATUS_TTL = timedelta(hours=1)
TURN_KINDS = (EventKind.MESSAGE, EventKind.BUTTON)
CUSTOMER_KINDS = (*TURN_KINDS, EventKind.REACTION)


@dataclass
class InboxCounts:
    """What one delivery did."""

    queued: int = 0  # new customer events waiting for a turn
    duplicates: int = 0  # redeliveries of events already recorded
    statuses: int = 0  # delivery statuses applied
    echoes: int = 0  # business-side messages recorded (or known already)
    ignored: int = 0
    # The conversations the queued events belong to (the dispatcher drains them at once).
    conversations: set[int] = field(default_factory=set, compare=False)

    @property
    def total(self) -> int:
        return self.queued + self.duplicates + self.statuses + self.echoes + self.ignored


async def record_inbound_events(
    db: Database, channel: str, events: Iterable[InboundEvent]
) -> InboxCounts:
    """Store every event of one delivery in one write transaction; see the module doc."""
    events = list(events)
    if not events:
        return InboxCounts()
    async with db.session() as session:
        [counts] = await record_deliveries(session, [(channel, events)])
    return counts


async def record_deliveries(
    session: AsyncSession, deliveries: list[tuple[str, list[InboundEvent]]]
) -> list[InboxCounts]:
    """Store several deliveries in the caller's transaction; counts per delivery.

    Customer messages of all deliveries are written with a handful of multi-row
    statements whatever their number (the webhook's group commit relies on it);
    statuses and echoes take the per-event path.
    """
    results = [InboxCounts() for _ in deliveries]
    batch: list[tuple[int, str, InboundEvent]] = []
    for index, (channel, events) in enumerate(deliveries):
        for event in events:
            if is_customer_event(event):
                batch.append((index, channel, event))
            else:
                await _record(session, channel, event, results[index])
    if batch:
        await session.run_sync(_record_customer_events, batch, results)
    return results


def is_customer_event(event: InboundEvent) -> bool:
    """Whether the event takes the batched customer path (a message, a tap, a reaction)."""
    return event.kind in CUSTOMER_KINDS and bool(event.customer_id)


def _record_customer_events(
    session: Session, batch: list[tuple[int, str, InboundEvent]], results: list[InboxCounts]
) -> None:
    """The customer events of a batch of deliveries (synchronous: it runs in the async
    session's greenlet, or — SQLite's group commit — all of it in one worker thread)."""
    firsts: dict[tuple[str, str], InboundEvent] = {}
    for _, channel, event in batch:
        firsts.setdefault((channel, event.customer_id), event)
    known = _find_conversations(session, list(firsts))
    missing = [key for key in firsts if key not in known or known[key][5] is None]
    if missing:
        # New customers (or leads without a conversation): a few multi-row statements
        # for all of them, not four round trips each.
        _create_conversations(session, {key: firsts[key] for key in missing}, known)
    conversations: dict[tuple[str, str], ConversationRef] = {}
    for _, channel, event in batch:
        key = (channel, event.customer_id)
        if key in conversations:
            continue
        row = known[key]
        conversations[key] = ConversationRef(row[5], row[6])
        changes = {}
        if event.customer_name and row[3] != event.customer_name:
            changes["name"] = event.customer_name
        if event.customer_phone and row[4] != event.customer_phone:
            changes["phone"] = event.customer_phone
        if changes:
            session.execute(sa.update(Lead).where(Lead.id == row[2]).values(**changes))

    now = utcnow()
    message_ids = _insert_transcript(
        session,
        [
            {
                "conversation_id": conversations[(channel, event.customer_id)].id,
                "direction": "in",
                "author": "customer",
                "kind": _message_kind(event),
                "text": event.text,
                "payload": _message_payload(event),
                "platform_message_id": event.message_id or None,
                "delivery_status": "received",
                "created_at": now,
            }
            for _, channel, event in batch
        ],
    )
    inbox_rows = []
    for (_, channel, event), message_id in zip(batch, message_ids, strict=True):
        is_turn = event.kind in TURN_KINDS
        inbox_rows.append(
            {
                "channel": channel,
                "platform_message_id": event.message_id or f"noid:{uuid.uuid4().hex}",
                "conversation_id": conversations[(channel, event.customer_id)].id,
                "message_id": message_id,
                "kind": str(event.kind),
                "payload": event.to_json(),
                "status": "pending" if is_turn else "done",
                "attempts": 0,
                "received_at": now,
                "processed_at": None if is_turn else now,
            }
        )
    # Redeliveries (also two copies inside this batch) insert nothing; their transcript
    # rows are removed again.
    inserted = set(
        (session.execute(_INSERT_INBOX[session.bind.dialect.name], inbox_rows)).scalars()
    )
    duplicates = [m for m in message_ids if m not in inserted]
    if duplicates:
        session.execute(sa.delete(Message).where(Message.id.in_(duplicates)))

    touched: dict[int, dict[str, object]] = {}
    for (index, channel, event), message_id in zip(batch, message_ids, strict=True):
        if message_id not in inserted:
            results[index].duplicates += 1
            continue
        conversation = conversations[(channel, event.customer_id)]
        change = touched.setdefault(conversation.id, {"conversation_id": conversation.id})
        if event.kind in TURN_KINDS:
            results[index].queued += 1
            results[index].conversations.add(conversation.id)
            seen = min(event.timestamp, now)
            if conversation.last_inbound_at is None or seen > conversation.last_inbound_at:
                conversation.last_inbound_at = seen
        else:
            results[index].ignored += 1
        # The same keys in every row, so the update is one executemany.
        change.update(last_message_at=now, last_inbound_at=conversation.last_inbound_at)
    if touched:
        session.execute(_TOUCH_CONVERSATIONS, list(touched.values()))


def _find_conversations(
    session: Session, keys: list[tuple[str, str]], *, lock: bool = False
) -> dict[tuple[str, str], Any]:
    """(channel, customer id) -> (channel, platform id, lead id, name, phone, latest
    conversation id or None, its last_inbound_at), for the leads that exist."""
    by_channel: dict[str, list[str]] = {}
    for channel, customer_id in keys:
        by_channel.setdefault(channel, []).append(customer_id)
    query = (
        _FIND_CONVERSATIONS_LOCKED
        if lock and session.bind.dialect.name == "postgresql"
        else _FIND_CONVERSATIONS
    )
    found: dict[tuple[str, str], Any] = {}
    for channel, ids in by_channel.items():
        for row in session.execute(query, {"channel": channel, "ids": ids}):
            found[(row[0], row[1])] = row
    return found


# Built once: building a statement costs more than running it (~0.3 ms per batch).
# Per channel, not a row-value IN over (channel, platform id): SQLite scans the whole
# leads index for that; this is one index search per customer.
_FIND_CONVERSATIONS = (
    sa.select(
        Lead.channel,
        Lead.platform_id,
        Lead.id,
        Lead.name,
        Lead.phone,
        Conversation.id,
        Conversation.last_inbound_at,
    )
    .outerjoin(
        Conversation,
        Conversation.id
        == (
            sa.select(sa.func.max(Conversation.id))
            .where(Conversation.lead_id == Lead.id)
            .correlate(Lead)
            .scalar_subquery()
        ),
    )
    .where(
        Lead.channel == sa.bindparam("channel"),
        Lead.platform_id.in_(sa.bindparam("ids", expanding=True)),
    )
)
# PostgreSQL: serialise conversation creation for leads that have none yet.
_FIND_CONVERSATIONS_LOCKED = _FIND_CONVERSATIONS.with_for_update(of=Lead)
_LAST_MESSAGE_ID = sa.select(sa.func.max(Message.id))


def _create_conversations(
    session: Session,
    events: dict[tuple[str, str], InboundEvent],
    known: dict[tuple[str, str], Any],
) -> None:
    """Create the missing leads and conversations of ``events`` (one event per key) and
    put their rows in ``known``."""
    now = utcnow()
    new_leads = [key for key in events if key not in known]
    if new_leads:
        session.execute(
            _insert(session, Lead.__table__).on_conflict_do_nothing(
                index_elements=["channel", "platform_id"]
            ),
            [
                {
                    "channel": channel,
                    "platform_id": customer_id,
                    "name": events[(channel, customer_id)].customer_name or "",
                    "phone": events[(channel, customer_id)].customer_phone or "",
                    "email": "",
                    "created_at": now,
                }
                for channel, customer_id in new_leads
            ],
        )
    # A concurrent delivery may have created a lead (and its conversation) first: its
    # insert made ours wait for its commit, so this SELECT sees both.
    found = _find_conversations(session, list(events), lock=True)
    without = [row for row in found.values() if row[5] is None]
    if without:
        created = session.execute(
            sa.insert(Conversation.__table__).returning(
                Conversation.__table__.c.lead_id, Conversation.__table__.c.id
            ),
            [
                {
                    "lead_id": row[2],
                    "channel": row[0],
                    "language": "",
                    "needs_human": False,
                    "last_message_at": now,
                    "created_at": now,
                }
                for row in without
            ],
        )
        conversation_of = dict(created.all())
        for row in without:
            found[(row[0], row[1])] = (*row[:5], conversation_of[row[2]], None)
    known.update(found)


def _insert_transcript(session: Session, rows: list[dict[str, object]]) -> list[int]:
    """Insert the transcript rows; their ids, in the order of ``rows``.

    SQLite cannot return the ids of a multi-row INSERT in parameter order, so SQLAlchemy
    would insert row by row (one statement each: most of a batch's time). The write
    transaction holds SQLite's only write lock (``BEGIN IMMEDIATE``), so the next ids
    are known: the rows get them explicitly and go in one ``executemany`` — the same ids
    SQLite would have picked (``INTEGER PRIMARY KEY`` without AUTOINCREMENT). PostgreSQL
    keeps its sequence and ``RETURNING`` (batched there).
    """
    if session.bind.dialect.name != "sqlite":
        result = session.execute(
            sa.insert(Message).returning(Message.id, sort_by_parameter_order=True), rows
        )
        return list(result.scalars())
    top = session.scalar(_LAST_MESSAGE_ID) or 0
    ids = list(range(top + 1, top + 1 + len(rows)))
    for row, message_id in zip(rows, ids, strict=True):
        row["id"] = message_id
    session.execute(_TRANSCRIPT_INSERT, rows)
    return ids


# Core, not the ORM's bulk path: the same statement, less per-row work.
_INSERT_INBOX = {
    name: module.insert(InboxEvent.__table__)
    .on_conflict_do_nothing(index_elements=["channel", "platform_message_id"])
    .returning(InboxEvent.__table__.c.message_id)
    for name, module in (("sqlite", sqlite), ("postgresql", postgresql))
}
_conversations = Conversation.__table__
_TOUCH_CONVERSATIONS = (
    sa.update(_conversations)
    .where(_conversations.c.id == sa.bindparam("conversation_id"))
    .values(
        last_message_at=sa.bindparam("last_message_at"),
        last_inbound_at=sa.bindparam("last_inbound_at"),
    )
)

# A missing payload stays SQL NULL, as the ORM stores it (not the JSON text "null").
_TRANSCRIPT_INSERT = sa.insert(Message.__table__).values(
    payload=sa.bindparam("payload", type_=sa.JSON(none_as_null=True))
)


async def _record(
    session: AsyncSession, channel: str, event: InboundEvent, counts: InboxCounts
) -> None:
    if event.kind == EventKind.STATUS:
        await _apply_status(session, channel, event, counts)
        return
    if event.kind != EventKind.ECHO or not event.customer_id:
        counts.ignored += 1  # OTHER: known to the channel, nothing to act on
        return
    conversation = await get_or_create_conversation(session, channel, event)
    await _record_echo(session, conversation, event, counts)


def _insert(session: AsyncSession | Session, table: type | sa.Table) -> sa.Insert:
    dialect = session.bind.dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)  # type: ignore[return-value]


@dataclass
class ConversationRef:
    """The few fields ingress needs of a conversation (no ORM object: cheaper)."""

    id: int
    last_inbound_at: datetime | None


async def get_or_create_conversation(
    session: AsyncSession, channel: str, event: InboundEvent
) -> ConversationRef:
    """The lead (channel, customer id) and its open conversation, created when new.

    Leads never merge across channels. The lead's name and phone follow the latest
    values the channel reports. The common case (a known lead) is one SELECT.
    """
    found = await _find_conversation(session, channel, event.customer_id)
    if found is None:
        await session.execute(
            _insert(session, Lead)
            .values(
                channel=channel,
                platform_id=event.customer_id,
                name="" if event.kind == EventKind.ECHO else event.customer_name or "",
                phone="" if event.kind == EventKind.ECHO else event.customer_phone or "",
                email="",
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["channel", "platform_id"])
        )
        # A concurrent delivery may have created the lead (and its conversation) first:
        # its insert made ours wait for its commit, so this SELECT sees both.
        found = await _find_conversation(session, channel, event.customer_id, lock=True)
        assert found is not None
    lead_id, name, phone, conversation_id, last_inbound_at = found
    if event.kind != EventKind.ECHO:
        changes = {}
        if event.customer_name and name != event.customer_name:
            changes["name"] = event.customer_name
        if event.customer_phone and phone != event.customer_phone:
            changes["phone"] = event.customer_phone
        if changes:
            await session.execute(sa.update(Lead).where(Lead.id == lead_id).values(**changes))
    if conversation_id is None:
        now = utcnow()
        conversation_id = (
            await session.execute(
                sa.insert(Conversation)
                .values(
                    lead_id=lead_id,
                    channel=channel,
                    language="",
                    needs_human=False,
                    last_message_at=now,
                    created_at=now,
                )
                .returning(Conversation.id)
            )
        ).scalar_one()
    return ConversationRef(conversation_id, last_inbound_at)


async def _find_conversation(
    session: AsyncSession, channel: str, customer_id: str, *, lock: bool = False
) -> sa.Row | None:
    query = (
        sa.select(Lead.id, Lead.name, Lead.phone, Conversation.id, Conversation.last_inbound_at)
        .outerjoin(Conversation, Conversation.lead_id == Lead.id)
        .where(Lead.channel == channel, Lead.platform_id == customer_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if lock and session.bind.dialect.name == "postgresql":
        # Serialise conversation creation for a lead that has none yet.
        query = query.with_for_update(of=Lead)
    return (await session.execute(query)).first()


async def _record_echo(
    session: AsyncSession, conversation: ConversationRef, event: InboundEvent, counts: InboxCounts
) -> None:
    counts.echoes += 1
    if event.echo_from_app:
        # Our own reply: the outbox records it (with its platform id) when send returns.
        return
    now = utcnow()
    await session.execute(
        sa.update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(agent_paused_until=now + HUMAN_PAUSE, last_message_at=now)
    )
    if event.message_id and await _message_known(session, conversation.id, event.message_id):
        return
    session.add(
        Message(
            conversation_id=conversation.id,
            direction="out",
            author="merchant",
            kind=_message_kind(event),
            text=event.text,
            payload=_message_payload(event),
            platform_message_id=event.message_id or None,
            delivery_status="sent",
            created_at=now,
        )
    )
    log.info("agent paused: a person replied", conversation=conversation.id)


async def _message_known(session: AsyncSession, conversation_id: int, platform_id: str) -> bool:
    found = await session.execute(
        sa.select(Message.id)
        .where(
            Message.platform_message_id == platform_id, Message.conversation_id == conversation_id
        )
        .limit(1)
    )
    return found.first() is not None


async def _apply_status(
    session: AsyncSession, channel: str, event: InboundEvent, counts: InboxCounts
) -> None:
    status = (event.status or "").lower()
    if not event.message_id:
        if status and event.watermark is not None and event.customer_id:
            await _apply_watermark(session, channel, event, status, counts)
        else:
            counts.ignored += 1  # a receipt naming no message and no time
        return
    message = (
        await session.execute(
            sa.select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.platform_message_id == event.message_id,
                Message.direction == "out",
                Conversation.channel == channel,
            )
            .limit(1)
        )
    ).scalar_one_or_none()
    if not status:
        counts.ignored += 1
        return
    counts.statuses += 1
    if message is None:
        # Not ours, or the sender has not recorded the platform id yet: park it.
        _note_parked()
        now = utcnow()
        await session.execute(
            sa.delete(EarlyStatus).where(EarlyStatus.received_at < now - EARLY_STATUS_TTL)
        )
        session.add(
            EarlyStatus(
                channel=channel,
                platform_message_id=event.message_id,
                status=status,
                error=event.error,
                received_at=now,
            )
        )
        return
    merge_delivery_status(message, status, event.error)


async def _apply_watermark(
    session: AsyncSession, channel: str, event: InboundEvent, status: str, counts: InboxCounts
) -> None:
    """A watermark receipt (Messenger ``read``/``delivery`` without ``mids``): every
    outbound message to this customer on this channel created at or before the
    watermark, and already sent (it has a platform id), reached ``status``.

    Messages not yet sent when the receipt arrives are left alone (the customer cannot
    have seen them); a later watermark covers them.
    """
    if status not in STATUS_RANK or STATUS_RANK[status] < STATUS_RANK["delivered"]:
        counts.ignored += 1
        return
    behind = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
    messages = (
        await session.scalars(
            sa.select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Lead, Lead.id == Conversation.lead_id)
            .where(
                Lead.channel == channel,
                Lead.platform_id == event.customer_id,
                Conversation.channel == channel,
                Message.direction == "out",
                Message.platform_message_id.is_not(None),
                Message.created_at <= event.watermark,
                # Only forward; "failed" stays failed (as in merge_delivery_status).
                Message.delivery_status.in_(behind),
            )
            .order_by(Message.id)
        )
    ).all()
    counts.statuses += 1
    for message in messages:
        merge_delivery_status(message, status, event.error)


def _note_parked() -> None:
    global _last_parked
    _last_parked = time.monotonic()


def merge_delivery_status(message: Message, status: str, error: str | None) -> None:
    """Apply a platform delivery status; statuses arrive out of order, so a message never
    moves back (read stays read) and ``failed`` wins over anything but ``read``."""
    current = message.delivery_status or ""
    if status == "failed":
        if current != "read":
            message.delivery_status = "failed"
            message.error = describe_error(error)
        return
    if current == "failed" or status not in STATUS_RANK:
        return
    if STATUS_RANK[status] > STATUS_RANK.get(current, 0):
        message.delivery_status = status


async def apply_early_statuses(
    session: AsyncSession, channel: str, platform_id: str, message_id: int
) -> None:
    """Apply to message ``message_id`` and drop the statuses parked for ``platform_id``
    before it was recorded."""
    parked = (
        await session.scalars(
            sa.select(EarlyStatus)
            .where(EarlyStatus.channel == channel, EarlyStatus.platform_message_id == platform_id)
            .order_by(EarlyStatus.id)
        )
    ).all()
    if not parked:
        return
    message = await session.get(Message, message_id)
    for row in parked:
        if message is not None:
            merge_delivery_status(message, row.status, row.error)
        await session.delete(row)


def statuses_parked_since(moment: float, dialect: str) -> bool:
    """Whether a delivery status may have been parked (:class:`EarlyStatus`) since
    ``moment`` (``time.monotonic()``), so the sender must look for it.

    On SQLite one process serves the database and every status goes through this
    process's ingress, which notes when it parks one: usually none was, and the lookup
    is skipped. With PostgreSQL another process may have parked it: always look.
    """
    return dialect != "sqlite" or _last_parked >= moment


# time.monotonic() when this process last parked a status (see statuses_parked_since).
_last_parked = float("-inf")


def describe_error(error: str | None) -> str:
    """A platform error as shown to the merchant (131047 spelled out)."""
    text = error or "delivery failed"
    if "131047" in text and "24-hour" not in text:
        text = f"{text} ({OUTSIDE_WINDOW})"
    return text


def _message_kind(event: InboundEvent) -> str:
    if event.kind == EventKind.BUTTON:
        return "button"
    if event.kind == EventKind.REACTION:
        return "reaction"
    if event.attachments:
        return event.attachments[0].kind
    return "text"


def _message_payload(event: InboundEvent) -> dict[str, object] | None:
    payload: dict[str, object] = {}
    if event.payload:
        payload["choice"] = event.payload
    if event.attachments:
        payload["attachments"] = event.to_json()["attachments"]
    if event.reply_to:
        payload["reply_to"] = event.reply_to
    return payload or None


class InboxWriter:
    """Group commit for the webhook: concurrent deliveries share one write transaction.

    Each :meth:`record` call waits until its events are committed (the webhook answers
    200 only then); the writer takes whatever deliveries are waiting (up to
    ``max_batch``) and stores them with :func:`record_deliveries`. If a batch fails,
    each delivery is retried on its own so one bad delivery fails alone.

    On SQLite a batch of customer events (nearly every batch) is written whole in one
    worker thread through :attr:`Database.sync_writer`: the same statements, but one
    hop to the thread instead of ~27 aiosqlite hops that each wait for a busy event
    loop (measured: ~10 ms per batch under load, whatever its size).
    """

    def __init__(
        self, db: Database, *, max_batch: int = 200, gate: WriteGate | None = None
    ) -> None:
        self.db = db
        self.gate = gate or WriteGate(enabled=False)
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[str, list[InboundEvent], asyncio.Future[InboxCounts]]] = (
            asyncio.Queue()
        )
        self._task: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._in_thread: asyncio.Future[list[InboxCounts]] | None = None

    async def record(self, channel: str, events: Iterable[InboundEvent]) -> InboxCounts:
        events = list(events)
        if not events:
            return InboxCounts()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="tendero-inbox-writer")
        future: asyncio.Future[InboxCounts] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((channel, events, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < self.max_batch:
                batch.append(self._queue.get_nowait())
            deliveries = [(c, e) for c, e, _ in batch]
            try:
                async with self.gate.urgent():
                    if self.db.has_sync_writer and all(
                        is_customer_event(e) for _, events in deliveries for e in events
                    ):
                        results = await self._write_in_thread(deliveries)
                    else:
                        async with self.db.session() as session:
                            results = await record_deliveries(session, deliveries)
            except Exception:
                if len(batch) == 1:
                    log.exception("inbox write failed")
                    _settle(batch[0][2], error=sys.exc_info()[1])
                    continue
                for channel, events, future in batch:
                    try:
                        async with self.gate.urgent():
                            counts = await record_inbound_events(self.db, channel, events)
                    except Exception as exc:
                        log.exception("inbox write failed", channel=channel)
                        _settle(future, error=exc)
                    else:
                        _settle(future, counts)
                continue
            for (_, _, future), counts in zip(batch, results, strict=True):
                _settle(future, counts)

    async def _write_in_thread(
        self, deliveries: list[tuple[str, list[InboundEvent]]]
    ) -> list[InboxCounts]:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tendero-inbox")
        loop = asyncio.get_running_loop()
        self._in_thread = loop.run_in_executor(self._thread, _write_batch, self.db, deliveries)
        # Shielded: a stop() while the thread writes waits for it (see stop).
        return await asyncio.shield(self._in_thread)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._in_thread is not None:
            # The database closes after this: let a batch being written finish first.
            await asyncio.wait([self._in_thread])
            self._in_thread = None
        if self._thread is not None:
            self._thread.shutdown(wait=False)
            self._thread = None


def _write_batch(
    db: Database, deliveries: list[tuple[str, list[InboundEvent]]]
) -> list[InboxCounts]:
    """Customer events of several deliveries in one transaction of the synchronous
    SQLite writer (runs in the inbox thread)."""
    results = [InboxCounts() for _ in deliveries]
    batch = [
        (index, channel, event)
        for index, (channel, events) in enumerate(deliveries)
        for event in events
    ]
    with Session(db.sync_writer) as session, session.begin():
        _record_customer_events(session, batch, results)
    return results


def _settle(
    future: asyncio.Future[InboxCounts],
    counts: InboxCounts | None = None,
    error: BaseException | None = None,
) -> None:
    if future.done():  # the request went away meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(counts or InboxCounts())
