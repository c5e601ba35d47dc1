"""Every extension point of Tendero.

Hooks are grouped by stage: start-up and web, ingress (channels), the agent turn,
checkout, catalog, order events, export. Naming families:

* ``register_*`` return objects to add; **all results are collected** (a list, one
  entry per plugin that answered; ``None`` answers are dropped).
* ``on_*`` are notifications; their return values are ignored.
* Hooks marked *firstresult* stop at the first plugin that returns something other
  than ``None``; plugins registered later run first.

Call hooks with keyword arguments only. Arguments are added over time but never renamed:
an implementation may accept any subset of a spec's arguments (pluggy passes only the
ones it names), so old plugins keep working.

Any hook implementation may be a plain function or an ``async def``: the host awaits what
comes back when it is awaitable (:func:`tendero.plugins.call_hook`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from tendero import PROJECT_NAME

if TYPE_CHECKING:
    from aiohttp import web

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


# --- start-up and web -------------------------------------------------------------------


@hookspec
def startup(app: web.Application) -> Any:
    """Called once when the web application starts, after the database is ready.

    All implementations run (in registration order, later plugins first). Use it to
    open connections or start background tasks; store them on ``app`` with your own
    ``web.AppKey``. May be async.
    """


@hookspec
def shutdown(app: web.Application) -> Any:
    """Called once when the web application stops, before the database is closed.

    All implementations run. Close what ``startup`` opened. May be async.
    """


@hookspec
def register_routes(app: web.Application) -> Any:
    """Add HTTP routes (and sub-apps, middlewares, templates) to the application.

    Called once while the app is built, before it starts; all implementations run.
    Add routes with ``app.router``; do not start tasks here (use ``startup``).
    """


# --- ingress: channels -------------------------------------------------------------------


@hookspec
def register_channels(settings: Any) -> Any:
    """Return a list of channel adapters (all results collected).

    A channel adapter has a ``name`` (``whatsapp``, ``facebook``, ``instagram`` or your
    own), a ``display_name``, an ``icon`` (inline SVG), ``configured`` (whether its
    credentials are set in ``settings``), its webhook handlers (GET verify, POST events),
    ``parse(raw_body) -> list[InboundEvent]``, ``send(OutboundMessage) -> delivery id`` and
    its message limits (max buttons, list rows, text length) so replies fit the channel.
    """


# --- agent turn --------------------------------------------------------------------------


@hookspec(firstresult=True)
def agent_graph(context: Any) -> Any:
    """Return the compiled LangGraph graph that runs one agent turn (*firstresult*).

    ``context`` carries the settings, the database and the plugin manager. The built-in
    graph is registered by the ``core`` plugin; a plugin that wants to replace it
    returns its own graph (later-registered plugins are asked first).
    """


# --- checkout ----------------------------------------------------------------------------


@hookspec
def register_checkout_steps(workflow: str) -> Any:
    """Return checkout steps for ``workflow`` (all results collected, then ordered).

    ``workflow`` is ``shipping_only``, ``pickup_only`` or ``shipping_and_pickup``. Each
    step has a ``name``, an ``order`` number (built-ins use 100 delivery choice, 200
    shipping address, 300 pickup location, 800 confirmation, 900 payment proof), a
    ``applies(state)`` test and the fields it must collect. Return ``None`` or ``[]`` for
    workflows your step does not apply to.
    """


# --- catalog -----------------------------------------------------------------------------


@hookspec(firstresult=True)
def search_products(query: str, limit: int, catalog: Any) -> Any:
    """Return ranked products for ``query`` (*firstresult*), at most ``limit`` of them.

    ``catalog`` is the :class:`tendero.catalog.Catalog` service (read products through
    it). Return ``None`` to let the next implementation — finally the built-in fuzzy
    search — answer. Never return inactive products. May be async (e.g. a semantic
    search that calls an embedding model).
    """


# --- order and conversation events ---------------------------------------------------------


@hookspec
def order_created(order: Any) -> Any:
    """Notification: an order was created (``order`` is its JSON dict, §3 format).

    Called after the creating transaction committed; all implementations run; a failing
    implementation is logged and does not affect the others. May be async.
    """


@hookspec
def order_status_changed(order: Any, old_status: str, new_status: str, actor: str) -> Any:
    """Notification: an order's status moved (``actor`` is agent, merchant or system).

    Called after commit; all implementations run. May be async.
    """


@hookspec
def payment_status_changed(order: Any, old_status: str, new_status: str, actor: str) -> Any:
    """Notification: an order's payment status moved. Called after commit; all run."""


@hookspec
def conversation_needs_human(conversation: Any, reason: str) -> Any:
    """Notification: a conversation was flagged as needing a person. All run."""


# --- export ------------------------------------------------------------------------------


@hookspec
def register_exporters() -> Any:
    """Return a list of exporters (all results collected).

    An exporter has a ``name`` (``csv``, ``xlsx``, ``json`` or your own), a
    ``media_type``, a file ``extension`` and an async ``write(orders, rows, out)``
    that streams an async iterator of order dicts into a binary writer, row by row.
    """
