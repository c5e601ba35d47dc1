"""A TCP proxy between the app and PostgreSQL that can play a server restart.

The shared PostgreSQL server must not be restarted (other work uses it), so the fault
tests point the app at this proxy instead. From the app's side :meth:`PgProxy.restart`
looks like a restart of the server: every open connection is cut (reset, as when the
server process goes away), new connections are refused (nothing listens on the port)
for a few seconds, then the port accepts again and connections reach the same server,
the same databases, with every committed row in place. :meth:`PgProxy.cut_at` cuts one
connection at an exact moment: when a given statement comes through it (the server
dies right then; the statement never runs and its transaction is rolled back).
"""

from __future__ import annotations

import asyncio
import contextlib
import re

import sqlalchemy as sa


class PgProxy:
    """Forwards ``127.0.0.1:<port>`` to PostgreSQL; see the module doc."""

    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5432) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.connections = 0  # connections forwarded so far
        self.cut = 0  # connections cut by restarts
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()
        self._cut_at: re.Pattern[bytes] | None = None
        self._cuts_left = 0
        self.cut_at_done = asyncio.Event()

    def url(self, database_url: str) -> str:
        """``database_url`` (a PostgreSQL URL on the target) through the proxy."""
        return (
            sa.make_url(database_url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )

    async def start(self) -> None:
        """Listen (on the same port as before, after the first start)."""
        self._server = await asyncio.start_server(
            self._forward, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def cut_all(self) -> int:
        """Reset every open connection, both sides; return how many client connections."""
        writers = list(self._open)
        for writer in writers:
            writer.transport.abort()
        self._open.clear()
        cut = len(writers) // 2
        self.cut += cut
        return cut

    async def restart(self, down_for: float) -> int:
        """Play a server restart: refuse new connections and cut the open ones, stay down
        ``down_for`` seconds, then accept again. Returns how many connections were cut."""
        await self.stop_listening()
        cut = self.cut_all()
        await asyncio.sleep(down_for)
        await self.start()
        return cut

    def cut_at(self, statement: re.Pattern[bytes], times: int = 1) -> None:
        """Cut the next ``times`` connections that send a statement matching
        ``statement``, before the server gets it (asyncpg sends a statement's text when
        it first prepares it on a connection; psycopg, as the checkpointer runs it, every
        time). :attr:`cut_at_done` is set after the last cut."""
        self._cut_at = statement
        self._cuts_left = times
        self.cut_at_done.clear()

    async def close(self) -> None:
        await self.stop_listening()
        self.cut_all()
        for task in list(self._pumps):
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._open.update((writer, up_writer))
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer, watch=True)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._pumps.update(pumps)
        try:
            await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            self._pumps.difference_update(pumps)
            for w in (writer, up_writer):
                self._open.discard(w)
                w.transport.abort()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, watch: bool = False
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                if watch and self._cut_at is not None and self._cut_at.search(data):
                    self._cuts_left -= 1
                    if self._cuts_left <= 0:
                        self._cut_at = None
                        self.cut_at_done.set()
                    self.cut += 1
                    break  # not forwarded; both sides are cut below
                sink.write(data)
                await sink.drain()
        # One side ended: end the other (a server-side close reaches the client).
        with contextlib.suppress(Exception):
            sink.transport.abort()
