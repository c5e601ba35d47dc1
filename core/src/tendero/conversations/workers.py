"""The loop the dispatcher and the sender share: one worker task per conversation.

Work is ordered within a conversation and independent across conversations, so each
conversation with something to do gets one task that handles its items one after
another, with at most ``concurrency`` such tasks running at once. A subclass says how
to find conversations with work (:meth:`scan`) and how to handle one item
(:meth:`handle_next`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import structlog

log = structlog.get_logger(__name__)


class ConversationWorkers:
    """Scan for work, run one drain task per conversation, wake on demand, stop cleanly."""

    #: Names the tasks and the log lines ("turns", "outbox").
    kind = "work"

    def __init__(self, *, concurrency: int = 32, poll_interval: float = 2.0) -> None:
        self.poll_interval = poll_interval
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

    async def _drain(self, conversation_id: int) -> None:
        handled = 0
        try:
            async with self._semaphore:
                while not self._stopping and await self.handle_next(conversation_id):
                    handled += 1
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
