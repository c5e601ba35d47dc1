"""Every extension point of Tendero, grouped by the stage where the host calls it.

Stages, in the order a request meets them: start-up and web, ingress (channels), the
agent turn, checkout, catalog, order and conversation events, export.

Calling conventions (each spec's docstring names its own):

* **All results collected** — ``register_*`` hooks return objects to add: a list, a
  single object or ``None``. Every implementation runs; ``None`` answers are dropped and
  the host flattens the rest (:func:`tendero.plugins.call_hook` +
  :func:`tendero.plugins.flatten`).
* **First result wins** (*firstresult*) — the host asks one implementation after another
  and stops at the first answer that is not ``None``; plugins registered later are asked
  first, so a third-party plugin overrides the built-in (:func:`tendero.plugins.call_firstresult`).
* **Notification** — the event hooks (``order_created``, ``order_status_changed``, ...):
  every implementation runs, return values are ignored, and an exception in one plugin
  is logged without stopping the others (:func:`tendero.plugins.notify`).
* **Lifecycle** — ``startup``, ``shutdown`` and ``register_routes``: every implementation
  runs, return values are ignored, and an exception stops the app from starting (a shop
  half set up is worse than one that refuses to start).

Call hooks with keyword arguments only. Arguments are added over time but never renamed:
an implementation may accept any subset of a spec's arguments (pluggy passes only those
it names), so old plugins keep working.

Any implementation may be a plain function or an ``async def`` — the host awaits what
comes back when it is awaitable — except ``register_routes``, which runs while the app is
built and must be a plain function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

from tendero import PROJECT_NAME

if TYPE_CHECKING:
    from aiohttp import web

    from tendero.settings import Settings

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


# --- start-up and web ------------------------------------------------------------------


@hookspec
def startup(app: web.Application) -> Any:
    """Lifecycle: the web application is starting; the database is ready.

    Every implementation runs; return values are ignored; an exception stops the start.
    Open connections or start background tasks here and keep them on ``app`` under your
    own ``web.AppKey``. May be async.
    """


@hookspec
def shutdown(app: web.Application) -> Any:
    """Lifecycle: the web application is stopping; the database is still open.

    Every implementation runs; return values are ignored. Close what ``startup`` opened.
    May be async.
    """


@hookspec
def register_routes(app: web.Application) -> Any:
    """Lifecycle: add HTTP routes (sub-apps, middlewares, static files) to the app.

    Every implementation runs once while the app is built, before it starts; the return
    value is ignored. Must be a plain function (the app factory is synchronous). Add
    routes with ``app.router``; start nothing here (use ``startup``).
    """


# --- ingress: channels -----------------------------------------------------------------


@hookspec
def register_channels(settings: Settings) -> Any:
    """Return channel adapters (all results collected). May be async.

    Each adapter is a :class:`tendero.channels.base.Channel`: a ``name`` (``whatsapp``,
    ``facebook``, ``instagram`` or your own; it is also the webhook path
    ``/webhooks/{name}``), a ``display_name``, an ``icon`` (inline SVG), its
    ``limits`` (buttons, list rows, text length) so replies are rendered to fit,
    ``configured(settings)``, ``parse(raw_body) -> list[InboundEvent]`` (ingress) and
    ``send(OutboundMessage) -> delivery id`` (egress). Return adapters even when their
    credentials are missing: the host shows them as "not configured".
    """


# --- agent turn ------------------------------------------------------------------------


@hookspec(firstresult=True)
def agent_graph(context: Any) -> Any:
    """Return the compiled LangGraph graph that runs one agent turn (*firstresult*).

    ``context`` carries the settings, the database and the plugin manager. The built-in
    graph is registered by the ``core`` plugin; a plugin that wants to replace it returns
    its own graph (later-registered plugins are asked first; return ``None`` to pass).
    May be async.
    """


# --- checkout --------------------------------------------------------------------------


@hookspec
def register_checkout_steps(workflow: str) -> Any:
    """Return checkout steps for ``workflow`` (all results collected, then ordered).

    ``workflow`` is ``shipping_only``, ``pickup_only`` or ``shipping_and_pickup``. Each
    step has a ``name``, an ``order`` number (built-ins use 100 delivery choice, 200
    shipping address, 300 pickup location, 800 confirmation, 900 payment proof), an
    ``applies(state)`` test and the fields it must collect. Return ``None`` or ``[]`` for
    workflows your step does not apply to. May be async.
    """


# --- catalog ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def search_products(query: str, limit: int, catalog: Any) -> Any:
    """Return ranked products for ``query``, at most ``limit`` of them (*firstresult*).

    ``catalog`` is the catalog service (read products through it). Return ``None`` to let
    the next implementation — finally the built-in fuzzy search of the ``core`` plugin —
    answer. Never return inactive products. May be async (e.g. a semantic search that
    calls an embedding model).
    """


# --- order and conversation events -----------------------------------------------------


@hookspec
def order_created(order: dict[str, Any]) -> Any:
    """Notification: an order was created; ``order`` is its JSON dict (ARCHITECTURE §3).

    Called after the creating transaction committed. Every implementation runs; a failing
    one is logged and does not affect the others or the order. May be async.
    """


@hookspec
def order_status_changed(
    order: dict[str, Any], old_status: str, new_status: str, actor: str
) -> Any:
    """Notification: an order's status moved (``actor``: ``agent``, ``merchant``, ``system``).

    Called after commit with the order's JSON dict as it is now. Every implementation
    runs; failures are logged. May be async.
    """


@hookspec
def payment_status_changed(
    order: dict[str, Any], old_status: str, new_status: str, actor: str
) -> Any:
    """Notification: an order's payment status moved (``actor`` as above).

    Called after commit with the order's JSON dict as it is now. Every implementation
    runs; failures are logged. May be async.
    """


@hookspec
def conversation_needs_human(conversation: Any, reason: str) -> Any:
    """Notification: a conversation was flagged as needing a person.

    ``reason`` says why (the customer asked for a person, the agent could not help, a
    payment proof needs checking, ...). Every implementation runs; failures are logged.
    May be async.
    """


# --- export ----------------------------------------------------------------------------


@hookspec
def register_exporters() -> Any:
    """Return order exporters (all results collected). May be async.

    Each is a :class:`tendero.exporting.Exporter`: a ``name`` (``csv``, ``xlsx``,
    ``json`` or your own; the ``--format`` of ``tendero orders export``), a ``label``,
    a ``media_type``, a file ``extension`` and ``async write(orders, rows, out) -> int``
    that streams an async iterator of order dicts into a binary writer and returns the
    number of rows written.
    """
