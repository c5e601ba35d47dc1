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
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
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
MAIL_RETRY_JOB = 4  # a round of the mail spool's retries (tendero.notifications.mail)

_TRY_LOCK = sa.text("SELECT pg_try_advisory_lock(:classid, :objid)")
_UNLOCK = sa.text("SELECT pg_advisory_unlock(:classid, :objid)")
# Whether session ``pid`` holds the two-integer advisory lock (objsubid 2 marks that form;
# pg_locks shows the keys as unsigned ``oid``s).
_HELD_BY = sa.text(
    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = :pid "
    "AND classid = CAST(CAST(:classid AS integer) AS oid) "
    "AND objid = CAST(CAST(:objid AS integer) AS oid) AND objsubid = 2"
)


def lock_key(value: int) -> int:
    """``value`` folded into PostgreSQL's signed 32-bit ``objid``."""
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value >= (1 << 31) else value


class ConversationLocks:
    """Per-conversation advisory locks of one namespace, held on one dedicated connection.

    :meth:`try_acquire` never waits for another process; :meth:`holds` says whether the
    lock is still ours (``False`` once the connection was lost: PostgreSQL released every
    lock of that session, so the holder must stop working on the conversation).

    A lost connection (a database restart, ``pg_terminate_backend``, a network cut) is
    noticed at the next statement or :meth:`check` and replaced by a new one at the next
    :meth:`try_acquire`; the locks it held are not taken again behind the holders' backs:
    another process may have had the conversation in between, so its drain ends and a
    fresh drain takes the lock again. Work done under a lock should be committed only if
    :meth:`still_held` says, inside the committing transaction, that the lock survived.
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
        self._pid: int | None = None  # the lock session's server process

    def holds(self, conversation_id: int) -> bool:
        return conversation_id in self._held

    async def still_held(
        self, session: AsyncSession | AsyncConnection, conversation_id: int
    ) -> bool:
        """Whether the lock session still holds the conversation's lock, asked through
        ``session`` (the caller's transaction) — PostgreSQL knows at once when the lock
        session died, this process only at its next statement. Call it right before
        committing work done under the lock: ``False`` means the lock was lost meanwhile
        and another process may be doing the same work; roll back and leave it to them.
        """
        pid = self._pid
        if pid is None or conversation_id not in self._held:
            return False
        found = await session.execute(_HELD_BY, {"pid": pid, **self._params(conversation_id)})
        return found.first() is not None

    async def try_acquire(self, conversation_id: int) -> bool:
        """Take the conversation's lock if no other session holds it; ``True`` if taken."""
        async with self._io:
            conn = await self._connection()
            try:
                got = (await conn.execute(_TRY_LOCK, self._params(conversation_id))).scalar_one()
            except BaseException:  # cancelled mid-statement too: the session is unusable
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
            except BaseException:
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
            conn = await self._engine.connect()
            try:
                self._pid = (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
            except BaseException:
                with contextlib.suppress(Exception):
                    await conn.invalidate()
                raise
            self._conn = conn
            self._last_ok = time.monotonic()
        return self._conn

    async def _lost(self) -> None:
        self._held.clear()
        self._pid = None
        conn, self._conn = self._conn, None
        if conn is not None:
            # Invalidate: close the socket without a goodbye the dead server never reads.
            with contextlib.suppress(Exception):
                await conn.invalidate()
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
