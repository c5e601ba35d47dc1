"""The loop the dispatcher and the sender share: one worker task per conversation.

Work is ordered within a conversation and independent across conversations, so each
conversation with something to do gets one task that handles its items one after
another, with at most ``concurrency`` such tasks running at once. A subclass says how
to find conversations with work (:meth:`scan`) and how to handle one item
(:meth:`handle_next`).

Whoever creates work names its conversation (:meth:`hint`: the webhook hands over the
conversations it just queued turns for, the dispatcher the conversation whose replies it
just committed), so a drain starts at once without a scan; a conversation hinted while
its drain runs is drained again right after. The full scan runs at start, on
:meth:`wake` and every ``poll_interval`` (work of other processes, retries that fell
due, anything a hint missed).

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

from tendero.db.engine import is_disconnect

if TYPE_CHECKING:
    from tendero.db.locks import ConversationLocks

log = structlog.get_logger(__name__)


def _log_failure(exc: Exception, what: str, conversation_id: int | None = None) -> None:
    """A lost or unreachable database is one warning line per failure (the loop tries
    again at its next poll: a restart of PostgreSQL must not flood the log with
    tracebacks); anything else is logged with its traceback."""
    context = {} if conversation_id is None else {"conversation": conversation_id}
    if is_disconnect(exc):
        log.warning(
            f"{what}: database unreachable", error=f"{type(exc).__name__}: {exc}"[:300], **context
        )
    else:
        log.exception(what, **context)


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
        # Conversations hinted (or found by a scan) while their drain ran: drain again.
        self._again: set[int] = set()
        # Conversations another process was draining: try them again (see _retry_soon).
        self._retry: set[int] = set()
        self._stopping = False

    async def scan(self) -> float | None:
        """Start drains (:meth:`start`) for conversations with work due; return the
        seconds until more work falls due, or ``None`` to wait the poll interval."""
        raise NotImplementedError

    async def handle_next(self, conversation_id: int) -> bool:
        """Handle the conversation's next item(s); ``False`` when there is nothing more
        to do now (known without asking the database again where possible: a drain
        ends without an empty round trip, and :meth:`hint` restarts it for new work)."""
        raise NotImplementedError

    async def before_run(self) -> None:
        """Called once when :meth:`run` starts (e.g. recovery after a crash)."""

    def wake(self) -> None:
        """Scan for new work now instead of at the next poll."""
        self._wakeup.set()

    def hint(self, conversation_ids: Iterable[int]) -> None:
        """These conversations have new work: drain them now, no scan (a conversation
        being drained is drained again when its drain ends)."""
        self.start(conversation_ids)

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
            except Exception as exc:
                _log_failure(exc, f"{self.kind}: scan failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), max(wait, 0.005))

    def start(self, conversation_ids: Iterable[int]) -> int:
        """Start a drain task for each conversation not already being worked on."""
        started = 0
        for conversation_id in conversation_ids:
            if self._stopping:
                break
            if conversation_id in self._active:
                # Its drain may already be past this work: drain it again afterwards.
                self._again.add(conversation_id)
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

    def _retry_soon(self, conversation_id: int) -> None:
        """Try the conversation again in :attr:`busy_retry` seconds (one timer however
        many drains ask)."""
        self._retry.add(conversation_id)
        if self._retry_handle is None or self._retry_handle.cancelled():
            loop = asyncio.get_running_loop()
            self._retry_handle = loop.call_later(self.busy_retry, self._retry_now)

    def _retry_now(self) -> None:
        self._retry_handle = None
        retry, self._retry = self._retry, set()
        self.start(retry)

    async def _drain(self, conversation_id: int) -> None:
        locks = self.locks
        try:
            async with self._semaphore:
                if locks is not None and not await locks.try_acquire(conversation_id):
                    # Another process is draining it. It may have just found nothing and
                    # be letting go while our item was being stored: look again soon.
                    self._retry_soon(conversation_id)
                    return
                try:
                    while (
                        not self._stopping
                        and (locks is None or locks.holds(conversation_id))
                        and await self.handle_next(conversation_id)
                    ):
                        pass
                finally:
                    if locks is not None:
                        await locks.release(conversation_id)
        except Exception as exc:
            _log_failure(exc, f"{self.kind}: a conversation's work failed", conversation_id)
        finally:
            self._active.pop(conversation_id, None)
            if conversation_id in self._again:
                # New work was announced while this drain ran: drain again.
                self._again.discard(conversation_id)
                self.start([conversation_id])
