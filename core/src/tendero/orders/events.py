"""Order events, fired through the plugin hooks only after the change is committed.

The service functions record an :class:`OrderEvent` on the session for every change
(creation, status move, payment move) with the order's JSON as it was at that moment.
Whoever owns the transaction publishes them once it has committed — most simply with
:func:`order_transaction`::

    async with order_transaction(db, pm) as session:
        await change_status(session, 1001, "shipped", actor="merchant")
    # order_status_changed has now been delivered to every plugin

A rolled-back transaction never announces anything.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tendero.plugins import notify

if TYPE_CHECKING:
    import pluggy
    from sqlalchemy.ext.asyncio import AsyncSession

    from tendero.db import Database

_SESSION_KEY = "tendero.order_events"

ORDER_CREATED = "order_created"
ORDER_STATUS_CHANGED = "order_status_changed"
PAYMENT_STATUS_CHANGED = "payment_status_changed"


@dataclass(frozen=True)
class OrderEvent:
    """One hook call to make: ``hook`` with the order's JSON and, for moves, the move."""

    hook: str
    order: dict[str, Any]
    old_status: str | None = None
    new_status: str | None = None
    actor: str | None = None

    def hook_kwargs(self) -> dict[str, Any]:
        if self.hook == ORDER_CREATED:
            return {"order": self.order}
        return {
            "order": self.order,
            "old_status": self.old_status,
            "new_status": self.new_status,
            "actor": self.actor,
        }


def record_event(session: AsyncSession, event: OrderEvent) -> None:
    """Remember ``event`` until the session's owner publishes it after commit."""
    session.info.setdefault(_SESSION_KEY, []).append(event)


def take_order_events(session: AsyncSession) -> list[OrderEvent]:
    """The events recorded on ``session`` so far, removing them from it."""
    return session.info.pop(_SESSION_KEY, [])


async def publish_order_events(pm: pluggy.PluginManager, events: Iterable[OrderEvent]) -> None:
    """Call the hooks for ``events`` in order; a failing plugin is logged, not raised."""
    for event in events:
        await notify(pm, event.hook, **event.hook_kwargs())


@asynccontextmanager
async def order_transaction(
    db: Database, pm: pluggy.PluginManager | None = None
) -> AsyncIterator[AsyncSession]:
    """A write session whose order events are published once it has committed."""
    async with db.session() as session:
        yield session
        events = take_order_events(session)
    if pm is not None:
        await publish_order_events(pm, events)
