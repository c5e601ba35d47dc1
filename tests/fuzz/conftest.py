"""Property-based (hypothesis) fuzzing: the profile every fuzz test runs under, and the
real app served from a background event loop so a plain (synchronous) hypothesis test
can hit it over a socket example after example while its dispatcher and sender keep
running in between.

The profile keeps the folder within its time budget (bounded ``max_examples``, no
per-example deadline: the machine is shared), is reproducible under ``CI`` (the same
examples every run) and keeps no example database (no ``.hypothesis/`` folder in the
checkout). ``FUZZ_EXAMPLES=N`` multiplies the example counts for a longer local run;
``FUZZ_PROFILE=tendero-fuzz-quick`` skips shrinking.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import TypeVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis.configuration import set_hypothesis_home_dir

from tests.conftest import IN_CI
from tests.web.api.conftest import api  # noqa: F401  (the API fixture, for the regressions)

T = TypeVar("T")

# Hypothesis's caches (unicode tables, constants) go to the temp folder, not the checkout.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "tendero-hypothesis")

settings.register_profile(
    "tendero-fuzz",
    max_examples=100,
    deadline=None,
    derandomize=IN_CI,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The same without shrinking: a failure shows at once, unsimplified (local debugging).
settings.register_profile(
    "tendero-fuzz-quick", settings.get_profile("tendero-fuzz"), phases=tuple(Phase)[:-2]
)
settings.load_profile(os.environ.get("FUZZ_PROFILE", "tendero-fuzz"))

SCALE = max(1, int(os.environ.get("FUZZ_EXAMPLES", "1") or 1))


def examples(count: int) -> int:
    """``count`` hypothesis examples, times ``FUZZ_EXAMPLES`` for a longer local run."""
    return count * SCALE


class BackgroundLoop:
    """An event loop on a thread of its own: servers started on it keep serving (and
    their background tasks keep running) while the test thread blocks on a request."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz-loop")
        self._thread.start()

    def run(self, work: Awaitable[T] | Callable[[], Awaitable[T]], timeout: float = 120) -> T:
        """Run a coroutine (or a coroutine function) on the loop; its result."""
        coro = work() if callable(work) else work
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(timeout)

    def enter(self, manager: AbstractAsyncContextManager[T]) -> tuple[T, Callable[[], None]]:
        """Enter an async context manager on the loop; (its value, a function that exits it)."""
        value = self.run(manager.__aenter__())

        def leave() -> None:
            self.run(manager.__aexit__(None, None, None))

        return value, leave

    def close(self) -> None:
        async def cancel_rest() -> None:
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        self.run(cancel_rest, timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()


@contextmanager
def background_loop() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    try:
        yield loop
    finally:
        loop.close()


def task_alive(loop: BackgroundLoop, name: str) -> bool:
    """Whether a task called ``name`` runs on ``loop`` (the dispatcher, the sender)."""

    async def check() -> bool:
        return any(t.get_name() == name and not t.done() for t in asyncio.all_tasks())

    return loop.run(check)
