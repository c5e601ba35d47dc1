"""``tendero serve``: migrate, then serve the web app until stopped.

With ``--workers N`` (N > 1, PostgreSQL only) the command becomes a small supervisor:
it migrates once, prints the links once, then runs N server processes that all listen
on the same port (``SO_REUSEPORT``: the kernel spreads connections over them) and share
the database — the inbox, the outbox and the per-conversation advisory locks
(:mod:`tendero.db.locks`) make that safe. SIGTERM or SIGINT stops every worker; a worker
that dies is reported and started again.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

import click
import sqlalchemy as sa
from aiohttp import web

from tendero import accounts
from tendero.app import create_app
from tendero.cli.common import console, get_settings
from tendero.db import Database
from tendero.db.engine import is_sqlite
from tendero.db.migrate import upgrade
from tendero.logging import configure_logging
from tendero.settings import Settings

#: Connections one process opens besides its pool: the checkpointer's pool (4) and the
#: two advisory-lock sessions (turns, outbox).
EXTRA_CONNECTIONS = 6
#: A worker that dies sooner than this after its start counts as a crash loop.
QUICK_DEATH_SECONDS = 10.0
MAX_QUICK_DEATHS = 5
#: Set in a worker by a SIGTERM that came before its event loop took the signal over.
_STOP_REQUESTED: list[bool] = []


@click.command()
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 8080].")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes sharing the port (more than 1 needs PostgreSQL).",
)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the webhooks, the API and the merchant panel."""
    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    url = settings.effective_database_url
    if workers > 1 and is_sqlite(url):
        raise click.UsageError(
            "--workers above 1 needs PostgreSQL (TENDERO_DATABASE_URL=postgresql+asyncpg://…): "
            "SQLite allows one writer, so Tendero on SQLite runs as one process."
        )
    configure_logging(settings.log_level, settings.log_format)
    upgrade(url)

    base = f"http://{host}:{port}"
    setup_secret = asyncio.run(_setup_link_if_needed(url))
    console.print(f"Tendero panel: {base}/orders")
    if setup_secret:
        console.print(
            f"Create the owner account (one-time link): {base}/setup?token={setup_secret}"
        )
    if workers > 1:
        # Every worker must sign sessions with the same key: make it exist once, here.
        settings.ensure_secret_key()
        pool_size = _pool_size(settings, workers)
        raise SystemExit(_supervise(host, port, workers, pool_size))
    web.run_app(
        create_app(settings),
        host=host,
        port=port,
        print=None,
        shutdown_timeout=10,
        access_log=None,
    )


async def _setup_link_if_needed(url: str) -> str | None:
    db = Database(url)
    try:
        async with db.session() as session:
            if await accounts.has_users(session):
                return None
            return await accounts.create_setup_token(session)
    finally:
        await db.dispose()


# --- several workers -------------------------------------------------------------------


def _pool_size(settings: Settings, workers: int) -> int:
    """The pool size of each worker: the setting when given, else what keeps all the
    workers within 80 % of the server's ``max_connections`` (at most the default)."""
    max_connections = asyncio.run(_max_connections(settings.effective_database_url))
    if "database_pool_size" in settings.model_fields_set:
        pool = settings.database_pool_size
    else:
        budget = int(max_connections * 0.8) // workers
        pool = max(1, min(settings.database_pool_size, (budget - EXTRA_CONNECTIONS) // 2))
    needed = workers * (2 * pool + EXTRA_CONNECTIONS)
    console.print(
        f"{workers} workers, database pool {pool} each: up to {needed} connections "
        f"(server max_connections {max_connections})",
        style="dim",
    )
    if needed > max_connections:
        console.print(
            f"Warning: {workers} workers may open {needed} connections but PostgreSQL "
            f"allows {max_connections}; lower TENDERO_DATABASE_POOL_SIZE or --workers, "
            "or raise max_connections.",
            style="yellow",
        )
    return pool


async def _max_connections(url: str) -> int:
    db = Database(url, pool_size=1)
    try:
        async with db.read_session() as session:
            return int(await session.scalar(sa.text("SHOW max_connections")) or 100)
    finally:
        await db.dispose()


def _supervise(host: str, port: int, workers: int, pool_size: int) -> int:
    """Run ``workers`` server processes until SIGTERM/SIGINT; the exit status."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start(index: int) -> BaseProcess:
        proc = context.Process(
            target=_worker,
            args=(host, port, pool_size, os.getpid()),
            name=f"tendero-worker-{index}",
        )
        proc.start()
        started[index] = time.monotonic()
        return proc

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs.values():
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)

    started: dict[int, float] = {}
    procs: dict[int, BaseProcess] = {}
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for index in range(workers):
        procs[index] = start(index)
    quick_deaths = 0
    status = 0
    while any(proc.is_alive() for proc in procs.values()) or not stopping:
        wait([proc.sentinel for proc in procs.values() if proc.is_alive()], timeout=1.0)
        for index, proc in list(procs.items()):
            if proc.is_alive() or proc.exitcode is None or stopping:
                continue
            proc.join()
            console.print(
                f"Worker {index} (pid {proc.pid}) exited with status {proc.exitcode}; "
                "starting it again",
                style="yellow",
            )
            if time.monotonic() - started[index] < QUICK_DEATH_SECONDS:
                quick_deaths += 1
                if quick_deaths >= MAX_QUICK_DEATHS:
                    console.print("Workers keep dying right after start; stopping.", style="red")
                    status = 1
                    stop(signal.SIGTERM, None)
                    break
                time.sleep(1.0)
            procs[index] = start(index)
    for proc in procs.values():
        proc.join()
        # -SIGTERM: a worker stopped while it was still starting (before its handler).
        if proc.exitcode not in (0, -signal.SIGTERM):
            status = 1
    return status


def _worker(host: str, port: int, pool_size: int, parent_pid: int) -> None:
    """One server process of ``serve --workers`` (started with the spawn method)."""
    # Terminal signals go to the whole process group; the supervisor forwards one
    # SIGTERM to each worker, so a worker ignores SIGINT and stops on SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Asked to stop while starting: start, then stop at once (see _serve_worker).
    signal.signal(signal.SIGTERM, lambda _signum, _frame: _STOP_REQUESTED.append(True))
    settings = get_settings()
    settings.database_pool_size = pool_size
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(_serve_worker(settings, host, port, parent_pid))


async def _serve_worker(settings: Settings, host: str, port: int, parent_pid: int) -> None:
    runner = web.AppRunner(create_app(settings), access_log=None, shutdown_timeout=10)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=True).start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        if _STOP_REQUESTED:
            stop.set()
        while not stop.is_set():
            if os.getppid() != parent_pid:  # the supervisor is gone (killed): stop too
                break
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
    finally:
        await runner.cleanup()
