"""The sender: delivers outbox rows through their channel.

Messages of one conversation go out in order (a retrying message holds back the ones
after it); many conversations are served at once. A retryable
:class:`~tendero.channels.base.ChannelError` (429, 5xx, timeouts, Graph throttling codes)
is retried with exponential backoff and jitter (by default for at least half an hour, so
an outage of Meta's API of many minutes delays replies but loses none); a permanent
error, or too many attempts, is recorded visibly on the message
(``delivery_status="failed"`` + ``error``).
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

The dispatcher tells the sender which conversation it just queued replies for
(:meth:`Sender.hint`), so no scan is needed for them. A drain takes every due message of
its conversation in one ``UPDATE … RETURNING`` (those before the first one still waiting
for a retry) and sends them in order, recording each as sent as soon as the channel
accepted it (a crash then repeats at most the one message in flight); messages it took
but did not get to (a retry, a stop) go back to ``pending``.
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
from tendero.conversations.inbox import OUTSIDE_WINDOW, apply_early_statuses, statuses_parked_since
from tendero.conversations.workers import ConversationWorkers
from tendero.db import Database, is_disconnect
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


@dataclass
class _Sent:
    delivery: _Delivery
    platform_id: str
    started: float  # time.monotonic() when the send began (see statuses_parked_since)


class Sender(ConversationWorkers):
    """Delivers pending outbox rows; see the module doc."""

    kind = "outbox"

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        *,
        max_attempts: int = 20,
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
        """Seconds to wait before attempt ``attempts + 1``: between half and all of an
        exponentially growing cap ("equal jitter": spread out, yet with a floor, so the
        default 20 attempts span 31–64 minutes, never less)."""
        cap = min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1))
        return cap / 2 + random.uniform(0, cap / 2)

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
        """Deliver the conversation's due messages in order; always ``False``: the drain
        ends with them (new messages come with a :meth:`hint`, retries with a scan)."""
        deliveries = await self._take(conversation_id)
        for index, delivery in enumerate(deliveries):
            if self.locks is not None and not self.locks.holds(conversation_id):
                break  # the lock was lost: whoever takes it next sends what is left
            if self._stopping:
                await self._release(deliveries[index:])
                break
            started = time.monotonic()
            outcome = await self._deliver(delivery, deliveries[index + 1 :])
            if outcome is _RETRY:
                break  # the ones after it were given back, to wait for it
            if isinstance(outcome, str):
                # Recorded before the next one goes out: a crash repeats only this one.
                await self._sent([_Sent(delivery, outcome, started)])
        return False

    async def _deliver(self, delivery: _Delivery, behind: list[_Delivery]) -> str | object | None:
        """Send one message: its platform id when sent, ``None`` when it failed for good
        (recorded), ``_RETRY`` when it will be retried (recorded; ``behind``, the
        messages taken after it, go back to ``pending`` to wait for it)."""
        channel = self.channels.get(delivery.body.channel)
        if channel is None:
            await self._fail(delivery, f"channel {delivery.body.channel!r} is not available")
            return None
        window = channel.free_text_window
        if window is not None and not delivery.body.tag and _outside(delivery, window):
            await self._fail(delivery, OUTSIDE_WINDOW)
            return None
        bucket = self._buckets.get(channel.name)
        if bucket is not None:
            await bucket.acquire()
        try:
            return await channel.send(delivery.body)
        except asyncio.CancelledError:
            raise
        except ChannelError as exc:
            error: Exception = exc
            retryable = exc.retryable
        except (aiohttp.ClientError, TimeoutError) as exc:
            error, retryable = exc, True
        except Exception as exc:
            log.exception("channel send raised", channel=channel.name)
            error, retryable = exc, True
        handled = await self._failed_attempt(delivery, error, retryable=retryable, behind=behind)
        return None if handled else _RETRY

    async def _take(self, conversation_id: int) -> list[_Delivery]:
        """Mark the conversation's due messages ``sending`` (in order, up to the first
        one waiting for a retry) and return them."""
        now = utcnow()
        # Holding the conversation's lock (several processes), no live sender is
        # sending its messages: a ``sending`` row was left by a process that died
        # mid-send, and goes again (at least once beats never).
        params: dict[str, object] = {"b_conversation": conversation_id, "b_now": now}
        if self.locks is not None:
            statement = _TAKE_LEASED
            params["b_lease"] = now + SEND_LEASE
        else:
            statement = _TAKE
        async with self.gate.background(), self.db.session() as session:
            taken = (await session.execute(statement, params)).all()
        return [
            _Delivery(
                row_id=row.id,
                message_id=row.message_id,
                conversation_id=conversation_id,
                attempts=row.attempts,
                body=OutboundMessage.from_json(row.body),
                last_inbound_at=row.last_inbound_at,
            )
            for row in sorted(taken, key=lambda row: row.id)
        ]

    async def _release(self, deliveries: list[_Delivery]) -> None:
        """Give taken but unsent messages back (see :func:`_give_back`)."""
        if deliveries:
            async with self.gate.background(), self.db.session() as session:
                await _give_back(session, deliveries, utcnow())

    async def _sent(self, sent: list[_Sent]) -> None:
        """Record sent messages, all in one transaction; a connection lost meanwhile is
        tried again (for half a lease), or the rows, left ``sending``, would be sent a
        second time by the next drain."""
        deadline = time.monotonic() + SEND_LEASE.total_seconds() / 2
        delay = 0.05
        while True:
            try:
                return await self._record_sent(sent)
            except Exception as exc:
                if not is_disconnect(exc) or time.monotonic() >= deadline:
                    raise
                log.warning("outbox: recording sent messages failed; retrying", error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def _record_sent(self, sent: list[_Sent]) -> None:
        now = utcnow()
        async with self.gate.background(), self.db.session() as session:
            await session.execute(
                _MARK_SENT, [{"b_row": s.delivery.row_id, "b_sent_at": now} for s in sent]
            )
            await session.execute(
                _MESSAGE_SENT,
                [
                    {"b_message": s.delivery.message_id, "b_platform_id": s.platform_id or None}
                    for s in sent
                ],
            )
            # A status parked before this commit was parked after its send began (Meta
            # reports on a message only once it has it); inside this write transaction
            # every earlier ingress commit is visible.
            parked = [
                s
                for s in sent
                if s.platform_id and statuses_parked_since(s.started, self.db.dialect)
            ]
            for s in parked:
                await apply_early_statuses(
                    session, s.delivery.body.channel, s.platform_id, s.delivery.message_id
                )

    async def _failed_attempt(
        self,
        delivery: _Delivery,
        exc: Exception,
        *,
        retryable: bool,
        behind: list[_Delivery] | None = None,
    ) -> bool:
        """Record a failed send; ``True`` when it failed for good, ``False`` when it
        will be retried (then the messages taken ``behind`` it go back, waiting)."""
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
            await _give_back(session, behind or [], retry_at)
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


_RETRY = object()


async def _give_back(session: AsyncSession, deliveries: list[_Delivery], due: datetime) -> None:
    """Taken (``sending``) but never sent: ``pending`` again, due at ``due``, without the
    attempt (and without the lease: see ``_TAKE_LEASED``)."""
    if deliveries:
        await session.execute(
            sa.update(OutboxMessage)
            .where(
                OutboxMessage.id.in_([d.row_id for d in deliveries]),
                OutboxMessage.status == "sending",
            )
            .values(status="pending", attempts=OutboxMessage.attempts - 1, next_attempt_at=due)
        )


_outbox = OutboxMessage.__table__
_later = sa.alias(_outbox, "later")
_conversation = sa.alias(Conversation.__table__, "conversation")
# The conversation's messages to send now: ``pending`` or (several processes, see the
# module doc) ``sending``, up to the first one waiting for a retry (order is kept).
_TAKE_WHERE = (
    _outbox.c.conversation_id == sa.bindparam("b_conversation"),
    _outbox.c.id
    < sa.func.coalesce(
        sa.select(sa.func.min(_later.c.id))
        .where(
            _later.c.conversation_id == sa.bindparam("b_conversation"),
            _later.c.status == "pending",
            _later.c.next_attempt_at > sa.bindparam("b_now"),
        )
        .scalar_subquery(),
        2**62,
    ),
)
# With the conversation's last customer message (the 24-hour window): no second query.
# (SQLite renders RETURNING columns unqualified, ``id = conversation_id`` inside the
# subquery: by SQL's scoping ``id`` is the conversation's, ``conversation_id`` the row's.)
_TAKE_RETURNING = (
    _outbox.c.id,
    _outbox.c.message_id,
    _outbox.c.attempts,
    _outbox.c.body,
    sa.select(_conversation.c.last_inbound_at)
    .where(_conversation.c.id == _outbox.c.conversation_id)
    .scalar_subquery()
    .label("last_inbound_at"),
)
_TAKE = (
    sa.update(_outbox)
    .where(_outbox.c.status == "pending", *_TAKE_WHERE)
    .values(status="sending", attempts=_outbox.c.attempts + 1)
    .returning(*_TAKE_RETURNING)
)
_TAKE_LEASED = (
    sa.update(_outbox)
    .where(_outbox.c.status.in_(("pending", "sending")), *_TAKE_WHERE)
    .values(
        status="sending", attempts=_outbox.c.attempts + 1, next_attempt_at=sa.bindparam("b_lease")
    )
    .returning(*_TAKE_RETURNING)
)
_MARK_SENT = (
    sa.update(_outbox)
    .where(_outbox.c.id == sa.bindparam("b_row"))
    .values(status="sent", sent_at=sa.bindparam("b_sent_at"), last_error=None)
)
_messages = Message.__table__
# Statuses only move forward: a "delivered" or "read" that came first stays.
_MESSAGE_SENT = (
    sa.update(_messages)
    .where(_messages.c.id == sa.bindparam("b_message"))
    .values(
        platform_message_id=sa.func.coalesce(
            sa.bindparam("b_platform_id", type_=sa.String), _messages.c.platform_message_id
        ),
        delivery_status=sa.case(
            (
                # Not IN (…): an expanding parameter cannot go into an executemany.
                sa.or_(*(_messages.c.delivery_status == s for s in ("sent", "delivered", "read"))),
                _messages.c.delivery_status,
            ),
            else_="sent",
        ),
        error=None,
    )
)


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
