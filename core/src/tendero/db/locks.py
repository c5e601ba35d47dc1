"""PostgreSQL advisory locks: how several ``tendero serve`` processes share one database.

Several processes (on one machine or many) may serve the same PostgreSQL database. Rows
are still claimed with ``FOR UPDATE SKIP LOCKED``, but a turn runs outside any
transaction and writes the conversation's LangGraph checkpoint as it goes, and a send
happens between two transactions: so a conversation's whole drain — all its pending
turns, or all its pending sends — holds a **per-conversation advisory lock**.
A process that does not get the lock skips the conversation (the holder drains it).

The locks are session-level (``pg_try_advisory_lock(classid, objid)``) and held on one
dedicated connection per process and kind of work (:class:`ConversationLocks`), so they
cost two connections per process whatever the number of conversations in flight. When a
process dies its sessions end and PostgreSQL releases every lock it held: the survivors
take its conversations at their next poll.

Keys use the two-integer form, which PostgreSQL keeps apart from the one-``bigint`` form
other software tends to use; ``classid`` is one of the ``tendero`` namespaces below and
``objid`` the conversation id (folded into 32 bits: past four billion conversations two
of them may share a lock, which costs parallelism, never correctness).

SQLite means one process: there nothing here is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

log = structlog.get_logger(__name__)

#: Lock namespaces (``classid``): ASCII "td" followed by a number.
TURNS = 0x7464_0001  # the dispatcher: one conversation's turns
OUTBOX = 0x7464_0002  # the sender: one conversation's sends
JOBS = 0x7464_0003  # background jobs that must not run twice at once

#: ``objid`` of the jobs in the ``JOBS`` namespace.
CHECKPOINT_PRUNE_JOB = 1
MIGRATE_JOB = 2  # alembic upgrade (transaction-level, waits)
CHECKPOINT_SETUP_JOB = 3  # the checkpoint tables' own migrations (waits)

_TRY_LOCK = sa.text("SELECT pg_try_advisory_lock(:classid, :objid)")
_UNLOCK = sa.text("SELECT pg_advisory_unlock(:classid, :objid)")


def lock_key(value: int) -> int:
    """``value`` folded into PostgreSQL's signed 32-bit ``objid``."""
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value >= (1 << 31) else value


class ConversationLocks:
    """Per-conversation advisory locks of one namespace, held on one dedicated connection.

    :meth:`try_acquire` never waits for another process; :meth:`holds` says whether the
    lock is still ours (``False`` once the connection was lost: PostgreSQL released every
    lock of that session, so the holder must stop working on the conversation).
    """

    def __init__(self, url: str, namespace: int) -> None:
        self.namespace = namespace
        # NullPool + AUTOCOMMIT: exactly one long-lived session, never idle in a
        # transaction.
        self._engine: AsyncEngine = create_async_engine(
            url, poolclass=NullPool, isolation_level="AUTOCOMMIT"
        )
        self._conn: AsyncConnection | None = None
        self._io = asyncio.Lock()  # one statement at a time on the connection
        self._held: set[int] = set()
        self._last_ok = 0.0

    def holds(self, conversation_id: int) -> bool:
        return conversation_id in self._held

    async def try_acquire(self, conversation_id: int) -> bool:
        """Take the conversation's lock if no other session holds it; ``True`` if taken."""
        async with self._io:
            conn = await self._connection()
            try:
                got = (await conn.execute(_TRY_LOCK, self._params(conversation_id))).scalar_one()
            except Exception:
                await self._lost()
                raise
            self._last_ok = time.monotonic()
            if got:
                self._held.add(conversation_id)
            return bool(got)

    async def release(self, conversation_id: int) -> None:
        """Give the conversation's lock back (nothing to do when it was lost)."""
        async with self._io:
            if conversation_id not in self._held:
                return
            self._held.discard(conversation_id)
            if self._conn is None:
                return
            try:
                await self._conn.execute(_UNLOCK, self._params(conversation_id))
            except Exception:
                # Ending the session releases its locks all the same.
                log.warning("advisory unlock failed; reconnecting", exc_info=True)
                await self._lost()

    async def check(self, every: float = 1.0) -> None:
        """Notice a lost connection (and so lost locks) even when idle: a round trip,
        unless the connection answered less than ``every`` seconds ago."""
        async with self._io:
            if self._conn is None or time.monotonic() - self._last_ok < every:
                return
            try:
                await self._conn.execute(sa.text("SELECT 1"))
                self._last_ok = time.monotonic()
            except Exception:
                log.warning("advisory-lock connection lost", namespace=self.namespace)
                await self._lost()

    async def close(self) -> None:
        async with self._io:
            await self._lost()
        await self._engine.dispose()

    def _params(self, conversation_id: int) -> dict[str, int]:
        return {"classid": self.namespace, "objid": lock_key(conversation_id)}

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = await self._engine.connect()
        return self._conn

    async def _lost(self) -> None:
        self._held.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


@asynccontextmanager
async def job_lock(engine: AsyncEngine, objid: int) -> AsyncIterator[bool]:
    """Hold the ``JOBS`` lock ``objid`` for the block when no other process does; yields
    whether it was taken (``True`` always on SQLite: one process)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        params = {"classid": JOBS, "objid": objid}
        got = bool((await conn.execute(_TRY_LOCK, params)).scalar_one())
        try:
            yield got
        finally:
            if got:
                await conn.execute(_UNLOCK, params)
