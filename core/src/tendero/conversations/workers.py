"""The loop the dispatcher and the sender share: one worker task per conversation.

Work is ordered within a conversation and independent across conversations, so each
conversation with something to do gets one task that handles its items one after
another, with at most ``concurrency`` such tasks running at once. A subclass says how
to find conversations with work (:meth:`scan`) and how to handle one item
(:meth:`handle_next`).

With PostgreSQL several processes may share the work: then each drain holds the
conversation's advisory lock (:class:`~tendero.db.locks.ConversationLocks`) from its first
item to its last, and a process that does not get the lock leaves the conversation to the
holder (looking again shortly, in case the holder was just finishing).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from tendero.db.locks import ConversationLocks

log = structlog.get_logger(__name__)


class ConversationWorkers:
    """Scan for work, run one drain task per conversation, wake on demand, stop cleanly."""

    #: Names the tasks and the log lines ("turns", "outbox").
    kind = "work"

    #: Seconds before looking again at a conversation another process was draining.
    busy_retry = 0.25

    def __init__(
        self,
        *,
        concurrency: int = 32,
        poll_interval: float = 2.0,
        locks: ConversationLocks | None = None,
    ) -> None:
        self.poll_interval = poll_interval
        self.locks = locks
        self._retry_handle: asyncio.TimerHandle | None = None
        self._semaphore = asyncio.Semaphore(concurrency)
        self._wakeup = asyncio.Event()
        self._active: dict[int, asyncio.Task[None]] = {}
        self._stopping = False

    async def scan(self) -> float | None:
        """Start drains (:meth:`start`) for conversations with work due; return the
        seconds until more work falls due, or ``None`` to wait the poll interval."""
        raise NotImplementedError

    async def handle_next(self, conversation_id: int) -> bool:
        """Handle the conversation's next item; ``False`` when there is nothing (more)
        to do now."""
        raise NotImplementedError

    async def before_run(self) -> None:
        """Called once when :meth:`run` starts (e.g. recovery after a crash)."""

    def wake(self) -> None:
        """Look for new work now instead of at the next poll."""
        self._wakeup.set()

    @property
    def busy(self) -> int:
        """How many conversations are being worked on right now."""
        return len(self._active)

    async def run(self) -> None:
        """Scan, then wait for a wake-up or the next due time; until :meth:`stop`."""
        try:
            await self.before_run()
        except Exception:
            log.exception(f"{self.kind}: start-up step failed")
        while not self._stopping:
            self._wakeup.clear()
            wait = self.poll_interval
            try:
                if self.locks is not None:
                    await self.locks.check()
                due = await self.scan()
                if due is not None:
                    wait = min(wait, due)
            except Exception:
                log.exception(f"{self.kind}: scan failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), max(wait, 0.005))

    def start(self, conversation_ids: Iterable[int]) -> int:
        """Start a drain task for each conversation not already being worked on."""
        started = 0
        for conversation_id in conversation_ids:
            if conversation_id in self._active or self._stopping:
                continue
            self._active[conversation_id] = asyncio.create_task(
                self._drain(conversation_id), name=f"tendero-{self.kind}-{conversation_id}"
            )
            started += 1
        return started

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking work; let running tasks finish for ``grace`` seconds, then cancel
        them (the subclasses commit nothing for a cancelled item: it is done again)."""
        self._stopping = True
        self._wakeup.set()
        tasks = list(self._active.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._retry_handle is not None:
            self._retry_handle.cancel()

    def _retry_soon(self) -> None:
        """Wake once in :attr:`busy_retry` seconds (however many drains ask)."""
        if self._retry_handle is None or self._retry_handle.cancelled():
            loop = asyncio.get_running_loop()
            self._retry_handle = loop.call_later(self.busy_retry, self._retry_now)

    def _retry_now(self) -> None:
        self._retry_handle = None
        self.wake()

    async def _drain(self, conversation_id: int) -> None:
        handled = 0
        locks = self.locks
        try:
            async with self._semaphore:
                if locks is not None and not await locks.try_acquire(conversation_id):
                    # Another process is draining it. It may have just found nothing and
                    # be letting go while our item was being stored: look again soon.
                    self._retry_soon()
                    return
                try:
                    while (
                        not self._stopping
                        and (locks is None or locks.holds(conversation_id))
                        and await self.handle_next(conversation_id)
                    ):
                        handled += 1
                finally:
                    if locks is not None:
                        await locks.release(conversation_id)
        except Exception:
            log.exception(
                f"{self.kind}: a conversation's work failed", conversation=conversation_id
            )
        finally:
            self._active.pop(conversation_id, None)
            if handled:
                # Work that arrived while this conversation was busy was skipped by the
                # scan; look again.
                self.wake()
