"""The sender: delivers outbox rows through their channel.

Messages of one conversation go out in order (a retrying message holds back the ones
after it); many conversations are served at once. A retryable
:class:`~tendero.channels.base.ChannelError` (429, 5xx, timeouts, Graph throttling codes)
is retried with exponential backoff and full jitter; a permanent error, or too many
attempts, is recorded visibly on the message (``delivery_status="failed"`` + ``error``).
Free text outside the channel's customer-service window is refused without calling the
channel. Each channel has a token-bucket rate limit.

With PostgreSQL several processes may share the outbox. A message is marked ``sending``
in one transaction and sent after it, so row locks alone would let two processes send
two messages of one conversation at once (out of order): each drain holds the
conversation's advisory lock (:mod:`tendero.db.locks`). A ``sending`` row is then a
lease: it carries the time after which it counts as abandoned (:data:`SEND_LEASE`), the
scan looks at such rows again, and whoever next takes the conversation's lock sends
again what a dead process left ``sending`` (at least once beats never). The start-up
recovery of every ``sending`` row is for one process (SQLite) only: with several, those
rows may be another live process's sends.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tendero.channels.base import Channel, ChannelError, OutboundMessage
from tendero.conversations.gate import WriteGate
from tendero.conversations.inbox import OUTSIDE_WINDOW, STATUS_RANK, apply_early_statuses
from tendero.conversations.workers import ConversationWorkers
from tendero.db import Database
from tendero.db.locks import ConversationLocks
from tendero.db.models import Conversation, Message, OutboxMessage
from tendero.db.types import utcnow

log = structlog.get_logger(__name__)

SCAN_BATCH = 500
#: With several processes (PostgreSQL): how long a ``sending`` row belongs to the process
#: that marked it; after that scans look at it again (and find the conversation locked
#: while its sender lives: a send takes at most ~30 s).
SEND_LEASE = timedelta(seconds=30)


class TokenBucket:
    """Allows ``rate`` operations per second on average, bursts up to ``capacity``."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


@dataclass
class _Delivery:
    row_id: int
    message_id: int
    conversation_id: int
    attempts: int
    body: OutboundMessage
    last_inbound_at: datetime | None


class Sender(ConversationWorkers):
    """Delivers pending outbox rows; see the module doc."""

    kind = "outbox"

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        *,
        max_attempts: int = 8,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        concurrency: int = 32,
        poll_interval: float = 2.0,
        rate_limits: Mapping[str, float | None] | None = None,
        gate: WriteGate | None = None,
        locks: ConversationLocks | None = None,
    ) -> None:
        super().__init__(concurrency=concurrency, poll_interval=poll_interval, locks=locks)
        self.db = db
        self.channels = channels
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.gate = gate or WriteGate(enabled=False)
        rates = dict(rate_limits or {})
        self._buckets: dict[str, TokenBucket] = {}
        for name, channel in channels.items():
            rate = rates.get(name, channel.send_rate_per_second)
            if rate:
                self._buckets[name] = TokenBucket(rate)

    def backoff(self, attempts: int) -> float:
        """Seconds to wait before attempt ``attempts + 1``: full jitter over an
        exponentially growing cap."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1)))

    async def recover(self) -> int:
        """After a crash, rows left ``sending`` may or may not have gone out; send them
        again (at least once beats never)."""
        async with self.gate.background(), self.db.session() as session:
            result = await session.execute(
                sa.update(OutboxMessage)
                .where(
                    OutboxMessage.status == "sending",
                    OutboxMessage.channel.in_(list(self.channels)),
                )
                .values(status="pending")
            )
        return result.rowcount or 0

    async def before_run(self) -> None:
        if self.locks is not None:
            return  # several processes: recovered per conversation (see _take)
        if self.channels and (recovered := await self.recover()):
            log.warning("outbox: resending interrupted messages", count=recovered)

    async def scan(self) -> float:
        """Start delivering for each conversation with a due message; return the seconds
        until the next retry falls due (or the poll interval)."""
        if not self.channels:
            return self.poll_interval
        now = utcnow()
        pending = (OutboxMessage.status == "pending") & OutboxMessage.channel.in_(
            list(self.channels)
        )
        takeable = OutboxMessage.status == "pending"
        if self.locks is not None:  # and sends whose lease ran out (see the module doc)
            takeable = OutboxMessage.status.in_(("pending", "sending"))
        async with self.db.read_session() as session:
            due = await session.execute(
                sa.select(OutboxMessage.conversation_id)
                .where(
                    takeable,
                    OutboxMessage.channel.in_(list(self.channels)),
                    OutboxMessage.next_attempt_at <= now,
                )
                .group_by(OutboxMessage.conversation_id)
                .order_by(sa.func.min(OutboxMessage.id))
                .limit(SCAN_BATCH)
            )
            conversation_ids = list(due.scalars())
            upcoming = (
                await session.execute(
                    sa.select(sa.func.min(OutboxMessage.next_attempt_at)).where(
                        pending, OutboxMessage.next_attempt_at > now
                    )
                )
            ).scalar_one_or_none()
        self.start(conversation_ids)
        if upcoming is None:
            return self.poll_interval
        return max(0.0, (upcoming - utcnow()).total_seconds())

    async def handle_next(self, conversation_id: int) -> bool:
        """Deliver the conversation's oldest pending message when it is due; ``True``
        when one was handled (sent or failed for good)."""
        delivery = await self._take(conversation_id)
        if delivery is None:
            return False
        channel = self.channels.get(delivery.body.channel)
        if channel is None:
            await self._fail(delivery, f"channel {delivery.body.channel!r} is not available")
            return True
        window = channel.free_text_window
        if window is not None and not delivery.body.tag and _outside(delivery, window):
            await self._fail(delivery, OUTSIDE_WINDOW)
            return True
        bucket = self._buckets.get(channel.name)
        if bucket is not None:
            await bucket.acquire()
        try:
            platform_id = await channel.send(delivery.body)
        except asyncio.CancelledError:
            raise
        except ChannelError as exc:
            return await self._failed_attempt(delivery, exc, retryable=exc.retryable)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return await self._failed_attempt(delivery, exc, retryable=True)
        except Exception as exc:
            log.exception("channel send raised", channel=channel.name)
            return await self._failed_attempt(delivery, exc, retryable=True)
        await self._sent(delivery, platform_id)
        return True

    async def _take(self, conversation_id: int) -> _Delivery | None:
        """Mark the conversation's head message ``sending`` (when due) and return it."""
        async with self.gate.background(), self.db.session() as session:
            # Holding the conversation's lock (several processes), no live sender is
            # sending its messages: a ``sending`` head was left by a process that died
            # mid-send, and goes again (at least once beats never).
            takeable = ("pending", "sending") if self.locks is not None else ("pending",)
            query = (
                sa.select(OutboxMessage, Conversation.last_inbound_at)
                .join(Conversation, Conversation.id == OutboxMessage.conversation_id)
                .where(
                    OutboxMessage.conversation_id == conversation_id,
                    OutboxMessage.status.in_(takeable),
                )
                .order_by(OutboxMessage.id)
                .limit(1)
            )
            if self.db.dialect == "postgresql":
                query = query.with_for_update(of=OutboxMessage, skip_locked=True)
            found = (await session.execute(query)).first()
            if found is None:
                return None
            row, last_inbound_at = found
            if row.status == "sending":
                log.warning("outbox: resending an interrupted message", message=row.message_id)
            elif row.next_attempt_at > utcnow():
                return None
            row.status = "sending"
            row.attempts += 1
            if self.locks is not None:
                row.next_attempt_at = utcnow() + SEND_LEASE
            return _Delivery(
                row_id=row.id,
                message_id=row.message_id,
                conversation_id=row.conversation_id,
                attempts=row.attempts,
                body=OutboundMessage.from_json(row.body),
                last_inbound_at=last_inbound_at,
            )

    async def _sent(self, delivery: _Delivery, platform_id: str) -> None:
        now = utcnow()
        async with self.gate.background(), self.db.session() as session:
            await session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id == delivery.row_id)
                .values(status="sent", sent_at=now, last_error=None)
            )
            message = await session.get(Message, delivery.message_id)
            if message is not None:
                message.platform_message_id = platform_id or message.platform_message_id
                if STATUS_RANK.get(message.delivery_status or "", 0) < STATUS_RANK["sent"]:
                    message.delivery_status = "sent"
                message.error = None
                if platform_id:
                    await apply_early_statuses(session, delivery.body.channel, platform_id, message)

    async def _failed_attempt(
        self, delivery: _Delivery, exc: Exception, *, retryable: bool
    ) -> bool:
        error = str(exc) or type(exc).__name__
        if not retryable or delivery.attempts >= self.max_attempts:
            suffix = "" if not retryable else f" (gave up after {delivery.attempts} attempts)"
            await self._fail(delivery, f"{error}{suffix}")
            return True
        retry_at = utcnow() + timedelta(seconds=self.backoff(delivery.attempts))
        async with self.gate.background(), self.db.session() as session:
            await session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id == delivery.row_id)
                .values(status="pending", next_attempt_at=retry_at, last_error=error[:2000])
            )
            # Later messages of the conversation wait behind this one (order is kept).
            await session.execute(
                sa.update(OutboxMessage)
                .where(
                    OutboxMessage.conversation_id == delivery.conversation_id,
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at < retry_at,
                )
                .values(next_attempt_at=retry_at)
            )
        log.info("send will be retried", error=error, attempts=delivery.attempts, at=retry_at)
        self.wake()
        return False

    async def _fail(self, delivery: _Delivery, error: str) -> None:
        async with self.gate.background(), self.db.session() as session:
            await session.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id == delivery.row_id)
                .values(status="failed", last_error=error[:2000])
            )
            await session.execute(
                sa.update(Message)
                .where(Message.id == delivery.message_id)
                .values(delivery_status="failed", error=error)
            )
        log.warning("message not delivered", message=delivery.message_id, error=error)


def _outside(delivery: _Delivery, window: timedelta) -> bool:
    last = delivery.last_inbound_at
    return last is None or utcnow() - last > window


async def enqueue(
    session: AsyncSession,
    conversation_id: int,
    message: OutboundMessage,
    now: datetime,
    *,
    author: str = "agent",
    kind: str = "text",
    payload: dict[str, object] | None = None,
) -> Message:
    """Record ``message`` in the conversation's transcript and queue it for the sender
    (in the caller's transaction)."""
    row = Message(
        conversation_id=conversation_id,
        direction="out",
        author=author,
        kind=kind,
        text=message.text,
        payload=payload,
        delivery_status="pending",
        created_at=now,
    )
    session.add(row)
    await session.flush()
    session.add(
        OutboxMessage(
            message_id=row.id,
            conversation_id=conversation_id,
            channel=message.channel,
            body=message.to_json(),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return row
