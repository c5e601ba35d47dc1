"""The running message pipeline: one dispatcher and one sender over a set of channels.

The app starts it at startup and stops it at shutdown; ``tendero chat`` runs one of its
own with the terminal channel. Everything here is channel-neutral.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from aiohttp import web

from tendero.channels.base import Channel
from tendero.conversations.dispatcher import Dispatcher
from tendero.conversations.gate import WriteGate
from tendero.conversations.outbox import Sender
from tendero.conversations.turns import TurnRunner
from tendero.db import Database
from tendero.db.locks import OUTBOX, TURNS, ConversationLocks
from tendero.settings import Settings

log = structlog.get_logger(__name__)


class Pipeline:
    """Dispatcher (inbox -> turns -> outbox) and sender (outbox -> channels).

    ``dispatcher_options`` and ``sender_options`` are passed to :class:`Dispatcher` and
    :class:`Sender` (tests use tiny poll intervals and backoff delays); ``stop_grace``:
    seconds running turns and sends get to finish at shutdown.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        channels: Mapping[str, Channel],
        runner: TurnRunner,
        *,
        dispatcher_options: Mapping[str, Any] | None = None,
        sender_options: Mapping[str, Any] | None = None,
        stop_grace: float = 5.0,
    ) -> None:
        self.stop_grace = stop_grace
        self.channels = channels
        # SQLite: one writer; ingress goes first (see tendero.conversations.gate).
        self.gate = WriteGate(enabled=db.is_sqlite)
        # PostgreSQL: other processes may share the work; per-conversation advisory
        # locks keep each conversation's turns, and its sends, to one process at a time.
        self._locks: list[ConversationLocks] = []
        turn_locks = outbox_locks = None
        if db.dialect == "postgresql":
            turn_locks = ConversationLocks(db.url, TURNS)
            outbox_locks = ConversationLocks(db.url, OUTBOX)
            self._locks = [turn_locks, outbox_locks]
        self.sender = Sender(
            db, channels, gate=self.gate, locks=outbox_locks, **dict(sender_options or {})
        )
        self.dispatcher = Dispatcher(
            db,
            settings,
            channels,
            runner,
            on_committed=self._replies_committed,
            gate=self.gate,
            locks=turn_locks,
            **dict(dispatcher_options or {}),
        )
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self.dispatcher.run(), name="tendero-dispatcher"),
            asyncio.create_task(self.sender.run(), name="tendero-sender"),
        ]

    def wake(self, conversation_ids: Iterable[int] | None = None) -> None:
        """New inbox rows were stored: run the turns of ``conversation_ids`` now (no
        scan); without ids, scan for turns to run."""
        if conversation_ids is None:
            self.dispatcher.wake()
        else:
            self.dispatcher.hint(conversation_ids)

    def _replies_committed(self, conversation_id: int) -> None:
        self.sender.hint([conversation_id])

    async def stop(self, grace: float | None = None) -> None:
        """Finish running turns and sends within ``grace`` seconds, abandon the rest
        (abandoned work stays pending in the database and resumes at the next start)."""
        grace = self.stop_grace if grace is None else grace
        await self.dispatcher.stop(grace)
        await self.sender.stop(grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for task in self._tasks:
            if not task.cancelled() and task.exception() is not None:
                log.error("pipeline task ended with an error", task=task.get_name())
        self._tasks = []
        for locks in self._locks:
            await locks.close()


PIPELINE = web.AppKey("pipeline", Pipeline)
