"""Live updates of the Orders page: new orders pushed as Server-Sent Events.

``GET /orders/events`` (same filters as ``/orders``) is an ``text/event-stream``:

* ``event: order`` — ``{"number", "id", "html"}``: a new order that matches the page's
  filters, with its table row rendered on the server (escaped like the page itself);
* ``event: counters`` — ``{"new_orders", "payments_to_verify", "revenue"}``, formatted,
  after new orders arrived;
* a comment every ``HEARTBEAT`` seconds keeps proxies from closing an idle stream.

Orders are created by other processes too (the CLI, a second server), so an in-process
hook is not enough: one :class:`OrderFeed` per app polls the newest order — one indexed
query — every ``POLL_INTERVAL`` seconds while someone is watching, and fans new orders
out to the open streams. When the app shuts down every stream ends at once, so shutdown
never waits for browsers that keep the page open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web
from tendero.app import DATABASE
from tendero.db import Database
from tendero.orders import OrderFilter, fetch_orders_page

from tendero_web import panel
from tendero_web.views import orders as orders_view

log = structlog.get_logger(__name__)

routes = web.RouteTableDef()

POLL_INTERVAL = 1.0
HEARTBEAT = 15.0
MAX_BATCH = 50  # new orders sent at once per stream; more means "reload"
QUEUE_SIZE = 20


def _key(order: dict[str, Any]) -> tuple[datetime, int]:
    """The listing key of an order JSON dict: newest first by ``(created_at, id)``."""
    return datetime.fromisoformat(order["created_at"]), int(order["id"])


@dataclass(frozen=True)
class NewOrders:
    """New orders for one stream, newest first; ``more``: there were even more."""

    orders: list[dict[str, Any]]
    more: bool = False


CLOSED = NewOrders([])  # the feed is closing: end the stream


@dataclass(eq=False)
class Subscription:
    order_filter: OrderFilter
    queue: asyncio.Queue[NewOrders] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE)
    )

    def push(self, item: NewOrders) -> None:
        # A stream that stopped reading loses updates rather than growing without end.
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(item)


class OrderFeed:
    """Watches for new orders and hands them to the subscribed streams.

    The poller runs only while there are subscribers. ``wake()`` makes it look now
    (e.g. from an ``order_created`` hook) instead of at the next interval.
    """

    def __init__(self, db: Database, poll_interval: float = POLL_INTERVAL) -> None:
        self.db = db
        self.poll_interval = poll_interval
        self._subscriptions: set[Subscription] = set()
        self._newest: tuple[datetime, int] | None = None
        self._task: asyncio.Task[None] | None = None
        self._start_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._closed = False
        _FEEDS.add(self)

    @contextlib.asynccontextmanager
    async def subscribe(self, order_filter: OrderFilter) -> AsyncIterator[Subscription]:
        """A subscription for orders matching ``order_filter`` created from now on."""
        if self._closed:
            raise web.HTTPServiceUnavailable(text="The server is shutting down.")
        subscription = Subscription(order_filter)
        async with self._start_lock:
            if self._task is None or self._task.done():
                # The starting point is read before the stream answers, so an order
                # created once the client is connected is always new to it.
                self._newest = await self._newest_key()
                self._task = asyncio.create_task(self._run(), name="orders-live-feed")
            self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    def wake(self) -> None:
        self._wake.set()

    @property
    def polling_loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the poller runs on, while it runs."""
        return self._task.get_loop() if self._task is not None and not self._task.done() else None

    async def close(self) -> None:
        """End every stream and stop polling (the app's ``on_shutdown``)."""
        self._closed = True
        for subscription in list(self._subscriptions):
            while not subscription.queue.empty():
                subscription.queue.get_nowait()
            subscription.push(CLOSED)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _newest_key(self) -> tuple[datetime, int] | None:
        async with self.db.read_session() as session:
            page, _ = await fetch_orders_page(session, None, limit=1)
        return _key(page[0]) if page else None

    async def _run(self) -> None:
        while self._subscriptions and not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()
            try:
                await self.poll()
            except Exception as exc:  # a database hiccup: try again at the next interval
                log.warning("live orders poll failed", error=str(exc))

    async def poll(self) -> None:
        """Look for orders newer than the newest seen; push each stream its matches."""
        newest = await self._newest_key()
        if newest is None or (self._newest is not None and newest <= self._newest):
            return
        seen, self._newest = self._newest, newest
        by_filter: dict[OrderFilter, list[Subscription]] = {}
        for subscription in list(self._subscriptions):
            by_filter.setdefault(subscription.order_filter, []).append(subscription)
        for order_filter, subscriptions in by_filter.items():
            async with self.db.read_session() as session:
                page, following = await fetch_orders_page(session, order_filter, MAX_BATCH)
            fresh = [order for order in page if seen is None or _key(order) > seen]
            if not fresh:
                continue
            item = NewOrders(fresh, more=following is not None and len(fresh) == len(page))
            for subscription in subscriptions:
                subscription.push(item)


LIVE_FEED = web.AppKey("orders_live_feed", OrderFeed)
_FEEDS: weakref.WeakSet[OrderFeed] = weakref.WeakSet()


def wake_feeds() -> None:
    """An order was just created in this process: let this loop's feeds look now
    (orders from other processes are found by the poll)."""
    loop = asyncio.get_running_loop()
    for feed in list(_FEEDS):
        if feed.polling_loop is loop:
            feed.wake()


def setup(app: web.Application, poll_interval: float = POLL_INTERVAL) -> None:
    """Give ``app`` its feed of new orders, closed when the app shuts down."""
    feed = OrderFeed(app[DATABASE], poll_interval)
    app[LIVE_FEED] = feed

    async def close_feed(app: web.Application) -> None:
        await feed.close()

    app.on_shutdown.append(close_feed)


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@routes.get("/orders/events", name="order_events")
async def order_events(request: web.Request) -> web.StreamResponse:
    """The event stream of the Orders page (login required, like every panel page)."""
    _ = await panel.gettext(request)
    doc = await panel.store(request)
    filters = orders_view.read_filters(request, doc, _)
    if filters.errors:
        raise web.HTTPBadRequest(text="\n".join(filters.errors))
    context = {
        **orders_view.order_ui(request),
        "_": _,
        "fmt": await panel.formats(request),
    }
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass events through as they come
        }
    )
    async with request.app[LIVE_FEED].subscribe(filters.order_filter) as subscription:
        try:
            await response.prepare(request)
            await response.write(b"retry: 3000\n\n")
            while True:
                try:
                    item = await asyncio.wait_for(subscription.queue.get(), HEARTBEAT)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if item is CLOSED:
                    break
                for order in reversed(item.orders):  # oldest first: the newest ends on top
                    html = aiohttp_jinja2.render_string(
                        "orders/_row.html", request, {**context, "order": order}
                    )
                    data = {"number": order["number"], "id": order["id"], "html": html}
                    await response.write(_event("order", data))
                if item.more:
                    await response.write(_event("more", {}))
                counters = await orders_view.counters_of(request, filters.order_filter)
                await response.write(_event("counters", counters))
            await response.write_eof()
        except ConnectionResetError:  # the browser went away
            pass
    return response
