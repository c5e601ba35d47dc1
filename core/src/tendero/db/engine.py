"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite allows one writer at a time per file. Several pooled connections writing at once
only fight over the lock ("database is locked"), so writes go through a single
connection (``Database.session``) and reads that may run long — exports, the Orders
page — use a small separate pool (``Database.read_session``); WAL lets those readers
run beside the writer. On PostgreSQL both names share one pooled engine of
``pool_size`` connections plus as many again in overflow (``TENDERO_DATABASE_POOL_SIZE``;
see the README's "Scale-out" for the connection budget of several processes).

Other connections write to the same SQLite file too: a CLI command, a second process, a
backup tool. A write waits for the file's write lock ``busy_timeout`` at a time, for up to
:data:`LOCK_WAIT_SECONDS` in all (:func:`_begin_immediate`), so a long import in another
process delays the app's writes instead of failing them with "database is locked".
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = structlog.get_logger(__name__)

#: Milliseconds SQLite itself waits for a lock before answering "database is locked".
BUSY_TIMEOUT_MS = 10_000
#: Seconds a write waits for SQLite's write lock in all (``busy_timeout`` at a time) before
#: "database is locked" reaches the caller. Under the writer pool's ``pool_timeout`` (60 s):
#: the sessions queued behind this one do not time out first.
LOCK_WAIT_SECONDS = 50.0

#: Seconds a new PostgreSQL connection may take (asyncpg waits a minute by default):
#: while the server is unreachable, requests and loops fail fast and try again.
CONNECT_TIMEOUT_SECONDS = 10

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA temp_store=MEMORY",
    # 16 MB of page cache per connection, and no memory map: every mapped page a read
    # touches stays in the process's resident memory, so a whole-table export of a
    # million orders grew by 256 MB; the kernel's page cache serves repeated reads.
    "PRAGMA cache_size=-16000",
    "PRAGMA mmap_size=0",
)


def is_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached or the connection was lost
    (a restart, a network cut, ``pg_terminate_backend``) rather than that the work was
    wrong (SQLite: the file stayed locked): the same work can be done again once the
    database is back. Covers the app's engines (SQLAlchemy) and the PostgreSQL
    checkpointer (psycopg)."""
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc, sa.exc.InterfaceError):
            return True
        if isinstance(exc.orig, sqlite3.Error):
            # SQLite's OperationalError also means "no such table" or a damaged file,
            # which no retry mends: only a lock held too long passes.
            return is_locked_error(exc)
        return isinstance(exc, sa.exc.OperationalError)
    if isinstance(exc, OSError):  # refused, reset, timed out (TimeoutError is one)
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - installed with the checkpointer
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def is_sqlite(url: str | sa.URL) -> bool:
    return sa.make_url(url).get_backend_name() == "sqlite"


def _install_sqlite_pragmas(engine: AsyncEngine | sa.Engine, *, writer: bool) -> None:
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @sa.event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # aiosqlite's driver opens transactions itself; let SQLAlchemy issue BEGIN.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @sa.event.listens_for(sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Take the write lock up front: a deferred transaction that reads and then
        # writes fails with SQLITE_BUSY, without waiting, when another writer got in
        # between; IMMEDIATE waits for the lock instead (busy_timeout).
        if writer:
            _begin_immediate(conn)
        else:
            conn.exec_driver_sql("BEGIN")


def is_locked_error(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked" (SQLITE_BUSY): another connection
    held the lock for longer than ``busy_timeout``."""
    orig = getattr(exc, "orig", None) or exc
    return "database is locked" in str(orig)


def _begin_immediate(conn: sa.Connection) -> None:
    """``BEGIN IMMEDIATE``, tried again while another connection holds the write lock,
    for up to :data:`LOCK_WAIT_SECONDS`.

    Each try waits ``busy_timeout`` inside SQLite (in the driver's thread: the event
    loop keeps running). Nothing of the transaction has run yet, so trying again is
    always safe, whoever the caller is.
    """
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    tries = 0
    while True:
        tries += 1
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except sa.exc.OperationalError as exc:
            if not is_locked_error(exc) or time.monotonic() >= deadline:
                raise
            log.warning("sqlite: another connection holds the write lock; waiting", tries=tries)
            continue
        if tries > 1:
            log.info("sqlite: write lock taken", tries=tries)
        return


def make_engine(
    url: str, *, writer: bool = True, pool_size: int = 5, echo: bool = False
) -> AsyncEngine:
    """Create an async engine with this project's settings for the URL's backend."""
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            echo=echo,
            pool_size=1 if writer else pool_size,
            max_overflow=0,
            pool_timeout=60,
        )
        _install_sqlite_pragmas(engine, writer=writer)
        return engine
    # A connection the server dropped (a restart, pg_terminate_backend) fails the first
    # statement given to it; SQLAlchemy then sees a disconnect and retires every pooled
    # connection older than that moment, so the next sessions connect afresh (the
    # failed work is retried by its caller: the webhook's 500, the loops' next poll).
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,  # no pool_pre_ping: its round trip per session cost 0.1 ms CPU
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )


class Database:
    """The application's database handle: a writer engine and a reader engine."""

    def __init__(
        self, url: str, *, echo: bool = False, read_pool_size: int = 4, pool_size: int = 10
    ) -> None:
        self.url = url
        self.is_sqlite = is_sqlite(url)
        self.engine = make_engine(url, writer=True, echo=echo, pool_size=pool_size)
        self.read_engine = (
            make_engine(url, writer=False, echo=echo, pool_size=read_pool_size)
            if self.is_sqlite
            else self.engine
        )
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._sync_writer: sa.Engine | None = None

    @property
    def has_sync_writer(self) -> bool:
        """Whether :attr:`sync_writer` exists: SQLite, in a file (a second connection to
        an in-memory database would open another, empty database)."""
        database = sa.make_url(self.url).database or ""
        return self.is_sqlite and database not in ("", ":memory:") and "mode=memory" not in self.url

    @property
    def sync_writer(self) -> sa.Engine:
        """SQLite only: a synchronous writer engine (the stdlib driver, one connection,
        the same pragmas and ``BEGIN IMMEDIATE``) for work that runs whole in a worker
        thread — the webhook's group commit. Each aiosqlite statement is several hops
        between the event loop and the driver's thread, and under load every hop waits
        for the loop to come round; in a thread a whole batch costs one hop. It is a
        second writer connection: SQLite's lock (and ``busy_timeout``) orders it with
        the async writer, as it orders other processes."""
        if not self.has_sync_writer:
            raise RuntimeError("the synchronous writer is for SQLite database files")
        if self._sync_writer is None:
            url = sa.make_url(self.url).set(drivername="sqlite")
            engine = sa.create_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
            _install_sqlite_pragmas(engine, writer=True)
            self._sync_writer = engine
        return self._sync_writer

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for work that writes; commits on success, rolls back on error."""
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only (long scans included); never commits."""
        async with self._read_sessions() as session:
            yield session

    async def dispose(self) -> None:
        if self._sync_writer is not None:
            self._sync_writer.dispose()
            self._sync_writer = None
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
