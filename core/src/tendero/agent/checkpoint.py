"""Where the agent's LangGraph checkpoints live, and how they are kept small.

:func:`open_checkpointer` opens the saver for the configured database:

* **SQLite** (the default): an ``AsyncSqliteSaver`` on ``<data dir>/checkpoints.db``, a file of
  its own so checkpoint writes never wait on the app's writer, in WAL mode with
  ``synchronous=NORMAL`` (one fsync per WAL checkpoint instead of one per commit).
* **PostgreSQL**: an ``AsyncPostgresSaver`` on a small psycopg pool in the app's database
  (tables ``checkpoints``, ``checkpoint_blobs``, ``checkpoint_writes``, ``checkpoint_migrations``,
  created by ``setup()``).

Run the graph with ``durability="exit"``: one checkpoint per turn instead of one per
superstep plus pending writes (about 6x less storage and half the CPU). A crash mid-turn
then replays the whole turn, so message de-duplication belongs to the app's own database.

Every turn still adds a checkpoint, so :func:`prune_checkpoints` deletes all but the latest
checkpoint of every thread (with its writes and, on PostgreSQL, the blobs nothing kept uses);
:func:`delete_thread` removes a whole conversation. Both are safe while the app serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import sqlalchemy as sa
import structlog
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg import AsyncConnection
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from tendero.db.engine import CONNECT_TIMEOUT_SECONDS
from tendero.db.locks import CHECKPOINT_SETUP_JOB, JOBS
from tendero.settings import Settings

log = structlog.get_logger(__name__)

CHECKPOINT_FILE = "checkpoints.db"
#: Seconds the PostgreSQL checkpointer's pool keeps retrying one failed connection.
CHECKPOINT_RECONNECT_SECONDS = 5.0
#: Threads pruned per SQLite transaction; the saver is locked only for one batch at a time.
PRUNE_BATCH = 200
#: Metadata keys a ``DeltaChannel`` leaves; such threads need their parent chain, so they are
#: never pruned (upstream's Postgres prune refuses them too).
_DELTA_MARKERS = ("counters_since_delta_snapshot", "delta_writes_versioned")


def is_postgres_url(url: str) -> bool:
    return sa.make_url(url).get_backend_name() == "postgresql"


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+asyncpg://…``) as a libpq URL for psycopg."""
    parsed = sa.make_url(url).set(drivername="postgresql")
    query = dict(parsed.query)
    if "ssl" in query and "sslmode" not in query:  # asyncpg spells it ``ssl``
        query["sslmode"] = query.pop("ssl")
    return parsed.set(query=query).render_as_string(hide_password=False)


def checkpoint_path(settings: Settings) -> Path:
    return settings.ensure_data_dir() / CHECKPOINT_FILE


@asynccontextmanager
async def open_checkpointer(
    settings: Settings, *, pool_size: int = 4
) -> AsyncIterator[AsyncSqliteSaver | AsyncPostgresSaver]:
    """Open the checkpoint saver for ``settings`` (ready to use) and close it on exit."""
    url = settings.effective_database_url
    if is_postgres_url(url):
        async with _open_postgres(libpq_url(url), pool_size) as pg_saver:
            yield pg_saver
    else:
        async with _open_sqlite(checkpoint_path(settings)) as sqlite_saver:
            yield sqlite_saver


@asynccontextmanager
async def _open_sqlite(path: Path) -> AsyncIterator[AsyncSqliteSaver]:
    conn = await aiosqlite.connect(str(path))
    try:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=5000")
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        yield saver
    finally:
        await conn.close()


@asynccontextmanager
async def _open_postgres(conninfo: str, pool_size: int) -> AsyncIterator[AsyncPostgresSaver]:
    sweeper = _SweepOnFailure()
    pool = AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=max(1, pool_size),
        # What AsyncPostgresSaver needs: its statements commit on their own, run through
        # PgBouncer (no server-side prepared statements) and read rows as dicts.
        kwargs={
            "autocommit": True,
            "prepare_threshold": 0,
            "row_factory": dict_row,
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        },
        # Connections can sit idle through a long LLM call, or die with a database restart
        # or pg_terminate_backend: check one before handing it out (a dead one is replaced;
        # one that breaks in use is discarded when it comes back, and the turn is retried).
        check=sweeper,
        # After a failed connection attempt the pool retries with doubling delays (1 s,
        # 2 s, 4 s, ...) for this long, then gives that attempt up and the next turn that
        # needs a connection starts a fresh one. Kept short (the default is 5 minutes of
        # doubling), the pool is back within seconds of the database after a long outage.
        reconnect_timeout=CHECKPOINT_RECONNECT_SECONDS,
        name="tendero-checkpoints",
        open=False,
    )
    sweeper.pool = pool
    await pool.open(wait=True)
    try:
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        # Processes starting together would race on the saver's migrations: one at a time.
        # The others poll rather than wait inside a statement: a waiting statement is an
        # open transaction, which the saver's CREATE INDEX CONCURRENTLY would wait for.
        async with pool.connection() as conn:
            key = (JOBS, CHECKPOINT_SETUP_JOB)
            while True:
                if await _try_lock(conn, key):
                    break
                await asyncio.sleep(0.1)
            try:
                await saver.setup()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        yield saver
    finally:
        await pool.close()


class _SweepOnFailure:
    """The pool's check of a connection before it is handed out; when one is dead, every
    idle one is checked at once (:meth:`AsyncConnectionPool.check`, in the background).

    A dead connection means the server restarted or ended sessions, so the other idle
    ones are most likely dead too. The pool alone would try them one by one for the
    waiting turn, pausing 1 s, 2 s, 4 s, ... between them: 15 s for a pool of four.
    """

    def __init__(self) -> None:
        self.pool: AsyncConnectionPool[Any] | None = None
        self._sweep: asyncio.Task[None] | None = None

    async def __call__(self, conn: AsyncConnection[Any]) -> None:
        try:
            await AsyncConnectionPool.check_connection(conn)
        except Exception:
            if self.pool is not None and (self._sweep is None or self._sweep.done()):
                self._sweep = asyncio.create_task(
                    self._sweep_idle(self.pool), name="tendero-checkpoint-pool-sweep"
                )
            raise

    @staticmethod
    async def _sweep_idle(pool: AsyncConnectionPool[Any]) -> None:
        try:
            await pool.check()
        except Exception:  # the pool is closing, or the server is still away
            log.info("checkpoint pool sweep failed", exc_info=True)


async def _try_lock(conn: AsyncConnection[Any], key: tuple[int, int]) -> bool:
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s, %s) AS got", key)
    row = await cur.fetchone()
    return bool(row and row["got"])


async def delete_thread(saver: BaseCheckpointSaver[str], thread_id: str) -> None:
    """Delete every checkpoint, write and blob of one conversation."""
    await saver.adelete_thread(str(thread_id))


async def prune_checkpoints(saver: BaseCheckpointSaver[str]) -> int:
    """Delete all but the latest checkpoint of every thread; return the rows deleted.

    The latest checkpoint of each namespace keeps its pending writes (and on PostgreSQL
    the blobs it points at), so every conversation resumes exactly where it was. Threads
    that use a ``DeltaChannel`` are left alone. A thread that is being written while it is
    pruned is skipped on PostgreSQL and done on the next run.
    """
    if isinstance(saver, AsyncSqliteSaver):
        return await _prune_sqlite(saver)
    if isinstance(saver, AsyncPostgresSaver):
        return await _prune_postgres(saver)
    raise TypeError(f"cannot prune a {type(saver).__name__}")


# --- SQLite ---------------------------------------------------------------------------

_SQLITE_DELTA_THREADS = " OR ".join(
    f"CAST(metadata AS TEXT) LIKE '%\"{key}\"%'" for key in _DELTA_MARKERS
)

_SQLITE_CANDIDATES = f"""
SELECT thread_id, checkpoint_ns FROM checkpoints
GROUP BY thread_id, checkpoint_ns HAVING count(*) > 1
EXCEPT
SELECT thread_id, checkpoint_ns FROM checkpoints WHERE {_SQLITE_DELTA_THREADS}
"""

_SQLITE_UNKEPT = """
SELECT checkpoint_id FROM checkpoints
WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id <> (
    SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ?
)
"""


async def _prune_sqlite(saver: AsyncSqliteSaver) -> int:
    await saver.setup()
    async with saver.lock, saver.conn.execute(_SQLITE_CANDIDATES) as cur:
        candidates: list[tuple[str, str]] = [(r[0], r[1]) for r in await cur.fetchall()]
    deleted = 0
    for start in range(0, len(candidates), PRUNE_BATCH):
        # Under the saver's lock, so no put of the saver interleaves with the transaction;
        # checkpoint ids are time-ordered (uuid6), so max() is the latest.
        async with saver.lock:
            try:
                for thread_id, ns in candidates[start : start + PRUNE_BATCH]:
                    deleted += await _prune_sqlite_namespace(saver.conn, thread_id, ns)
                await saver.conn.commit()
            except BaseException:
                await saver.conn.rollback()
                raise
    if deleted:
        log.info("checkpoints.pruned", backend="sqlite", rows=deleted)
    return deleted


async def _prune_sqlite_namespace(conn: aiosqlite.Connection, thread_id: str, ns: str) -> int:
    async with conn.execute(_SQLITE_UNKEPT, (thread_id, ns, thread_id, ns)) as cur:
        unkept = [r[0] for r in await cur.fetchall()]
    deleted = 0
    for start in range(0, len(unkept), 500):
        ids = unkept[start : start + 500]
        marks = ", ".join("?" * len(ids))
        for table in ("writes", "checkpoints"):
            # Writes go by the checkpoints deleted: a run may save a step's writes before
            # the checkpoint they belong to.
            cur = await conn.execute(
                f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_ns = ? "
                f"AND checkpoint_id IN ({marks})",
                (thread_id, ns, *ids),
            )
            deleted += max(cur.rowcount, 0)
            await cur.close()
    # The kept checkpoint no longer has a parent to point at.
    await conn.execute(
        "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = ? "
        "AND checkpoint_ns = ? AND parent_checkpoint_id IS NOT NULL AND parent_checkpoint_id "
        "NOT IN (SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ?)",
        (thread_id, ns, thread_id, ns),
    )
    return deleted


# --- PostgreSQL -----------------------------------------------------------------------

_PG_CANDIDATES = """
SELECT DISTINCT thread_id FROM checkpoints
GROUP BY thread_id, checkpoint_ns HAVING count(*) > 1
"""

_PG_ROWS = """
SELECT (SELECT count(*) FROM checkpoints WHERE thread_id = %(t)s)
     + (SELECT count(*) FROM checkpoint_writes WHERE thread_id = %(t)s)
     + (SELECT count(*) FROM checkpoint_blobs WHERE thread_id = %(t)s) AS n
"""


async def _pg_rows(saver: AsyncPostgresSaver, thread_id: str) -> int:
    async with saver._cursor() as cur:
        await cur.execute(_PG_ROWS, {"t": thread_id})
        row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def _prune_postgres(saver: AsyncPostgresSaver) -> int:
    async with saver._cursor() as cur:
        await cur.execute(_PG_CANDIDATES)
        thread_ids: Sequence[str] = [r["thread_id"] for r in await cur.fetchall()]
    deleted = 0
    for thread_id in thread_ids:
        # langgraph's own keep_latest: one REPEATABLE READ transaction per thread that
        # keeps the latest checkpoint of each namespace, its writes and the blobs it uses.
        before = await _pg_rows(saver, thread_id)
        try:
            await saver.aprune([thread_id], strategy="keep_latest")
        except NotImplementedError:  # DeltaChannel thread: needs its parent chain
            continue
        except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected):
            log.info("checkpoints.prune_skipped", thread_id=thread_id, reason="busy")
            continue
        # Approximate if the thread got a new turn meanwhile; never negative.
        deleted += max(before - await _pg_rows(saver, thread_id), 0)
    if deleted:
        log.info("checkpoints.pruned", backend="postgresql", rows=deleted)
    return deleted
