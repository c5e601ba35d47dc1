"""The ``notifications`` plugin: emails and chat status updates on order events.

Registered through the ``tendero`` entry-point group like any plugin, and written
against the same hooks a third party would use. ``startup`` builds the app's
:class:`~tendero.notifications.notifier.Notifier` and starts its mail retry job; each event hook hands the event to it
and returns at once (the work runs in the background); ``shutdown`` lets running
notifications finish within a grace period.

The event hooks carry no app, so the plugin remembers the notifier of the app that
started last: one app per process, as ``tendero serve`` runs. Events that arrive with
no app running (a CLI command such as ``tendero orders expire``) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from aiohttp import web

from tendero import hookimpl
from tendero.notifications.notifier import Notifier

log = structlog.get_logger(__name__)

NOTIFIER = web.AppKey("tendero.notifier", Notifier)

# The notifiers of running apps, latest last.
_running: list[Notifier] = []


def current_notifier() -> Notifier | None:
    """The notifier of the running app (``None`` outside one, e.g. in a CLI command,
    whose stdout must carry only its data: the event is skipped without a word)."""
    return _running[-1] if _running else None


@hookimpl
def startup(app: web.Application) -> None:
    """Build the notifier; a bad ``TENDERO_SMTP_URL`` or ``TENDERO_MAIL_FROM`` stops the start."""
    notifier = Notifier.for_app(app)
    app[NOTIFIER] = notifier
    _running.append(notifier)
    notifier.start()


@hookimpl
async def shutdown(app: web.Application) -> None:
    """Let running notifications finish (within a grace period), then forget the app."""
    notifier = app.get(NOTIFIER)
    if notifier is None:
        return
    if notifier in _running:
        _running.remove(notifier)
    await notifier.close()


@hookimpl
async def order_created(order: dict[str, Any]) -> None:
    """New-order email to the merchant, confirmation email to the customer."""
    if notifier := current_notifier():
        notifier.order_created(order)


@hookimpl
async def payment_status_changed(order: dict[str, Any], new_status: str) -> None:
    """Receipt received: email to the merchant (receipt attached) and to the customer."""
    if notifier := current_notifier():
        notifier.payment_status_changed(order, new_status)


@hookimpl
async def order_status_changed(order: dict[str, Any], new_status: str) -> None:
    """Shipped or ready for pickup: a chat message to the customer, inside the window."""
    if notifier := current_notifier():
        notifier.order_status_changed(order, new_status)


@hookimpl
async def conversation_needs_human(conversation: Any, reason: str) -> None:
    """Email to the merchant with the conversation's latest messages."""
    conversation_id = _conversation_id(conversation)
    if conversation_id is None:
        log.warning("needs-human: the conversation has no id", conversation=repr(conversation))
        return
    if notifier := current_notifier():
        notifier.conversation_needs_human(conversation_id, reason)


def _conversation_id(conversation: Any) -> int | None:
    """The id of a conversation given as a row, a mapping or the id itself."""
    if isinstance(conversation, int):
        return conversation
    value = (
        conversation.get("id")
        if isinstance(conversation, Mapping)
        else getattr(conversation, "id", None)
    )
    return int(value) if value is not None else None
