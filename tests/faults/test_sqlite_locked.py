"""SQLite's "database is locked" under write load: waited out, never shown to a customer.

Another connection to the same file — a CLI command, a second process, a backup tool —
may hold SQLite's write lock for longer than ``busy_timeout``. The app's writes then wait
for it (:func:`tendero.db.engine._begin_immediate`, up to ``LOCK_WAIT_SECONDS``) instead
of failing: the webhook still stores the message (or, past that, answers a status Meta
redelivers), turns and sends are committed once the lock is free, and the customers'
conversations end in their orders as if nothing happened.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from tendero.db import Database
from tendero.db.engine import BUSY_TIMEOUT_MS, LOCK_WAIT_SECONDS, is_locked_error
from tendero.db.models import Lead

from tests.faults._serve import SCRIPTS, Customer, Deliverer, play, run_cli, shop

#: Longer than SQLite's own wait, shorter than the app's whole wait.
HOLD = BUSY_TIMEOUT_MS / 1000 + 3
CONVERSATIONS = 8


class LockHolder:
    """A plain ``sqlite3`` connection that takes the write lock (``BEGIN IMMEDIATE``),
    writes, and keeps the lock for ``seconds`` before committing — in a thread, so the
    test's event loop (and the fake Graph API on it) keeps running."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.holding = threading.Event()
        self.held: list[float] = []

    def hold(self, seconds: float) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        try:
            conn.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            self.holding.set()
            conn.execute("UPDATE sequences SET name = name")  # a real write, uncommitted
            time.sleep(seconds)
            conn.execute("COMMIT")
            self.held.append(time.monotonic() - started)
        finally:
            self.holding.clear()
            conn.close()

    async def hold_async(self, seconds: float) -> None:
        await asyncio.to_thread(self.hold, seconds)


def sqlite_path(url: str) -> Path:
    return Path(sa.make_url(url).database or "")


def test_the_lock_wait_outlasts_the_busy_timeout() -> None:
    assert LOCK_WAIT_SECONDS > HOLD > BUSY_TIMEOUT_MS / 1000


@pytest.mark.slow
async def test_writes_wait_out_a_lock_held_longer_than_the_busy_timeout(sqlite_url: str) -> None:
    """Both writers of the app (the async one and the webhook's synchronous one) get
    their write in once the other connection commits."""
    db = Database(sqlite_url)
    holder = LockHolder(sqlite_path(sqlite_url))
    try:
        held = asyncio.ensure_future(holder.hold_async(HOLD))
        await asyncio.to_thread(holder.holding.wait, 10)
        started = time.monotonic()

        async def async_write() -> float:
            async with db.session() as session:
                session.add(Lead(channel="whatsapp", platform_id="async-writer", name="A"))
            return time.monotonic() - started

        def sync_write() -> float:
            with Session(db.sync_writer) as session, session.begin():
                session.add(Lead(channel="whatsapp", platform_id="sync-writer", name="S"))
            return time.monotonic() - started

        waits = await asyncio.gather(async_write(), asyncio.to_thread(sync_write))
        await held
        async with db.read_session() as session:
            stored = set((await session.execute(sa.select(Lead.platform_id))).scalars())
    finally:
        await db.dispose()
    assert stored == {"async-writer", "sync-writer"}
    # They really waited past SQLite's own timeout (the first "database is locked").
    assert min(waits) > BUSY_TIMEOUT_MS / 1000, waits


@pytest.mark.slow
async def test_a_lock_held_past_the_whole_wait_still_fails_clearly(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wait is bounded: past ``LOCK_WAIT_SECONDS`` the caller gets SQLite's own
    error (the webhook answers 5xx, Meta redelivers; a turn stays pending), and the
    connection is usable right after."""
    import tendero.db.engine as engine

    monkeypatch.setattr(engine, "LOCK_WAIT_SECONDS", 0.0)  # give up at the first timeout
    db = Database(sqlite_url)
    holder = LockHolder(sqlite_path(sqlite_url))
    try:
        held = asyncio.ensure_future(holder.hold_async(HOLD))
        await asyncio.to_thread(holder.holding.wait, 10)
        with pytest.raises(sa.exc.OperationalError) as failure:
            async with db.session() as session:
                session.add(Lead(channel="whatsapp", platform_id="too-late", name="L"))
        assert is_locked_error(failure.value)
        await held
        async with db.session() as session:
            session.add(Lead(channel="whatsapp", platform_id="after", name="A"))
        async with db.read_session() as session:
            stored = set((await session.execute(sa.select(Lead.platform_id))).scalars())
    finally:
        await db.dispose()
    assert stored == {"after"}


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_conversations_go_on_while_other_connections_hold_the_write_lock(
    tmp_path: Path,
) -> None:
    """``tendero serve`` under write load from outside: a connection holds the lock for
    longer than ``busy_timeout`` twice, at different points of the stream, while CLI
    commands write to the same file the whole time."""
    async with shop("sqlite", tmp_path) as (channel, server, url):
        customers = [Customer(channel, n, SCRIPTS[n % len(SCRIPTS)]) for n in range(CONVERSATIONS)]
        total = sum(len(c.script.says) for c in customers)
        holder = LockHolder(sqlite_path(url))
        cli_writes: list[str] = []
        cli_failures: list[str] = []

        async def cli_load(stop: asyncio.Event, *command: str) -> None:
            """Run ``tendero COMMAND`` over and over (``{n}``: the round) until ``stop``."""
            n = 0
            while not stop.is_set():
                n += 1
                args = [part.replace("{n}", str(n)) for part in command]
                try:
                    await run_cli(server.env, tmp_path, *args)
                except AssertionError as exc:
                    cli_failures.append(str(exc)[-300:])
                else:
                    cli_writes.append(" ".join(args))

        async def write_load(deliverer: Deliverer) -> None:
            stop = asyncio.Event()
            cli = asyncio.gather(
                cli_load(stop, "settings", "set", "company.greeting", "Hola #{n}"),
                cli_load(stop, "tokens", "create", "--name", "load {n}"),
            )
            for share in (0.25, 0.6):
                await deliverer.wait_posted(int(total * share))
                await holder.hold_async(HOLD)
            stop.set()
            await cli

        outcome = await play(customers, server, channel, url, beside=write_load)

    assert len(holder.held) == 2 and min(holder.held) >= HOLD
    assert cli_writes, "the CLI wrote nothing"
    assert not cli_failures, cli_failures
    # Nothing was lost: a delivery that got no 200 was one Meta redelivers (5xx or no
    # answer in time), never a 4xx it would drop.
    assert all(status == 0 or status >= 500 for status in outcome.statuses), outcome.statuses
    # No reply carried an error, and the app did meet the lock.
    replies = [text for c in customers for text in c.replies()]
    assert not [t for t in replies if "locked" in t.lower() or "error" in t.lower()]
    logs = server.logs(lines=100_000)
    assert "another connection holds the write lock" in logs
    assert "database is locked" not in logs, logs
    print(
        f"\n{CONVERSATIONS} conversations, {outcome.messages} messages in "
        f"{outcome.seconds:.1f} s; lock held {[round(h, 1) for h in holder.held]} s; "
        f"{len(cli_writes)} CLI writes; {outcome.redelivered} deliveries redelivered "
        f"(non-200: {sorted(set(outcome.statuses))})"
    )
