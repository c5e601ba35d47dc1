"""The advisory-lock session dies (``pg_terminate_backend``, a restart): its locks are
gone with it, the process stops counting on them, another process can take them, and a
new session replaces the dead one. Real PostgreSQL; the restart goes through the proxy
of :mod:`tests.faults._pg_proxy`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import sqlalchemy as sa
from tendero.db import Database
from tendero.db.locks import TURNS, ConversationLocks

from tests.conftest import fresh_postgres_database

from ._pg_proxy import PgProxy


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_postgres_database("h_faults_b", migrate=False) as url:
        yield url


@pytest.fixture
async def admin(pg_url: str) -> AsyncIterator[Database]:
    db = Database(pg_url)
    yield db
    await db.dispose()


async def terminate(admin: Database, pid: int) -> None:
    """End the backend ``pid`` and wait until it is gone (without a timeout the call only
    signals it, and its locks may still show for a moment)."""
    async with admin.session() as session:
        killed = await session.scalar(
            sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}
        )
    assert killed


async def held_by_server(admin: Database, locks: ConversationLocks, conversation_id: int) -> bool:
    async with admin.session() as session:
        return await locks.still_held(session, conversation_id)


async def test_a_terminated_lock_session_loses_its_locks_and_is_replaced(
    pg_url: str, admin: Database
) -> None:
    mine, other = ConversationLocks(pg_url, TURNS), ConversationLocks(pg_url, TURNS)
    try:
        assert await mine.try_acquire(7)
        assert not await other.try_acquire(7)
        assert await held_by_server(admin, mine, 7)
        # A conversation id past 2**31 folds to a negative key: still found.
        assert await mine.try_acquire(3_000_000_000)
        assert await held_by_server(admin, mine, 3_000_000_000)

        old_pid = mine._pid
        assert old_pid is not None
        await terminate(admin, old_pid)
        # The process has not noticed yet, but the server knows: work done under the
        # lock must not be committed.
        assert mine.holds(7)
        assert not await held_by_server(admin, mine, 7)
        assert await other.try_acquire(7)  # the lock was released with the session

        await mine.check(every=0)  # the loss is noticed...
        assert not mine.holds(7) and not mine.holds(3_000_000_000)
        assert not await held_by_server(admin, mine, 7)
        # ...and the next acquire opens a new session (the other process keeps 7).
        assert not await mine.try_acquire(7)
        assert await mine.try_acquire(8)
        assert mine._pid not in (None, old_pid)
        assert await held_by_server(admin, mine, 8)
    finally:
        await mine.close()
        await other.close()


async def test_lock_sessions_come_back_after_a_database_restart(
    pg_url: str, admin: Database
) -> None:
    proxy = PgProxy(sa.make_url(pg_url).host or "127.0.0.1", sa.make_url(pg_url).port or 5432)
    await proxy.start()
    locks = ConversationLocks(proxy.url(pg_url), TURNS)
    try:
        assert await locks.try_acquire(11)
        await proxy.stop_listening()
        assert proxy.cut_all() == 1
        with pytest.raises(Exception):  # noqa: B017 - whichever way the driver says it
            await locks.try_acquire(12)  # the dead session is noticed here...
        assert not locks.holds(11)
        with pytest.raises(OSError):
            await locks.try_acquire(12)  # ...and while the server is down, nothing connects
        await proxy.start()
        assert await locks.try_acquire(12)  # back: a new session
        assert await locks.try_acquire(11)  # the old session's lock was freed
        assert await held_by_server(admin, locks, 11)
    finally:
        await locks.close()
        await proxy.close()
