"""The aiohttp application factory: the one way to build the app (``serve`` and tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pluggy
import sqlalchemy as sa
import structlog
from aiohttp import web

from tendero import __version__
from tendero.channels.base import collect_channels
from tendero.channels.webhooks import (
    CHANNELS,
    INBOX_WRITER,
    WEBHOOK_MAX_BYTES,
    add_webhook_routes,
)
from tendero.conversations.inbox import InboxWriter
from tendero.conversations.pipeline import PIPELINE, Pipeline
from tendero.conversations.turns import TurnRunner
from tendero.db import Database
from tendero.logging import hide_secrets, secret_values
from tendero.plugins import call_hook, create_plugin_manager, notify
from tendero.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
PLUGINS = web.AppKey("plugins", pluggy.PluginManager)
HTTP_CLIENT = web.AppKey("http_client", aiohttp.ClientSession)
TURN_RUNNER = web.AppKey("turn_runner", object)  # a TurnRunner
PIPELINE_OPTIONS = web.AppKey("pipeline_options", dict)
CLIENT_MAX_BYTES = 8 * 1024 * 1024

__all__ = [
    "CHANNELS",
    "DATABASE",
    "HTTP_CLIENT",
    "PIPELINE",
    "PLUGINS",
    "SETTINGS",
    "TURN_RUNNER",
    "WEBHOOK_MAX_BYTES",
    "create_app",
]

log = structlog.get_logger(__name__)


async def healthz(request: web.Request) -> web.Response:
    """Liveness and database check for load balancers and ``make run``."""
    db = request.app[DATABASE]
    try:
        async with db.read_session() as session:
            await session.execute(sa.text("SELECT 1"))
    except Exception as exc:  # the database is what matters here
        log.warning("health check failed", error=str(exc))
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "version": __version__, "database": db.dialect})


def create_app(
    settings: Settings,
    *,
    plugin_manager: pluggy.PluginManager | None = None,
    database: Database | None = None,
    turn_runner: TurnRunner | None = None,
    pipeline_options: Mapping[str, Any] | None = None,
    webhook_max_bytes: int | None = None,
) -> web.Application:
    """Build the web application.

    The database must already be migrated (``tendero db upgrade``; ``serve`` does it).
    ``plugin_manager`` defaults to every installed plugin; tests pass one built with an
    allow-list. ``turn_runner`` answers customer messages (default: the agent,
    :class:`~tendero.agent.runner.AgentRunner`; a runner with ``start``/``close`` is
    started and closed with the app); ``pipeline_options`` go to
    :class:`~tendero.conversations.pipeline.Pipeline` (``dispatcher_options``,
    ``sender_options``). ``webhook_max_bytes`` overrides ``TENDERO_WEBHOOK_MAX_BYTES``.
    Everything opened here is closed by the app's cleanup context.
    """
    settings.ensure_secret_key()
    hide_secrets(secret_values(settings))  # from every log line of this process
    pm = plugin_manager or create_plugin_manager(trace=settings.trace_hooks or None)
    # Forms and API bodies are read whole, up to this (the panel's catalog upload is the
    # largest); webhooks stream their bodies against their own, smaller cap.
    app = web.Application(client_max_size=CLIENT_MAX_BYTES)
    app[SETTINGS] = settings
    app[PLUGINS] = pm
    app[DATABASE] = database or Database(
        settings.effective_database_url, pool_size=settings.database_pool_size
    )
    if turn_runner is None:
        from tendero.agent.runner import AgentRunner

        turn_runner = AgentRunner(settings, app[DATABASE], pm)
    app[TURN_RUNNER] = turn_runner
    app[PIPELINE_OPTIONS] = dict(pipeline_options or {})
    app[WEBHOOK_MAX_BYTES] = (
        webhook_max_bytes if webhook_max_bytes is not None else settings.webhook_max_bytes
    )

    app.router.add_get("/healthz", healthz)
    add_webhook_routes(app)
    pm.hook.register_routes(app=app)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=30, connect=10)
        app[HTTP_CLIENT] = aiohttp.ClientSession(timeout=timeout)
        runner = app[TURN_RUNNER]
        pipeline: Pipeline | None = None
        try:
            if hasattr(runner, "start"):
                await runner.start()
            pipeline = await _start_pipeline(app)
            await call_hook(pm, "startup", app=app)
            log.info("tendero started", version=__version__, database=app[DATABASE].dialect)
            yield
        finally:
            # Running turns finish (or stay pending for the next start) before the
            # database closes; after a failed start (a plugin's startup raised) whatever
            # was opened is closed all the same.
            if pipeline is not None:
                await pipeline.stop()
                await app[INBOX_WRITER].stop()
            if hasattr(runner, "close"):
                await runner.close()
            # One failing plugin must not keep the others, or the database, open.
            await notify(pm, "shutdown", app=app)
            await app[HTTP_CLIENT].close()
            await app[DATABASE].dispose()
        log.info("tendero stopped")

    app.cleanup_ctx.append(resources)
    return app


async def _start_pipeline(app: web.Application) -> Pipeline:
    """Build the channels, give them the HTTP client, start dispatcher and sender."""
    settings = app[SETTINGS]
    channels = await collect_channels(app[PLUGINS], settings)
    for channel in channels.values():
        channel.attach(app[HTTP_CLIENT])
    app[CHANNELS] = channels
    configured = {name: c for name, c in channels.items() if c.configured()}
    options = app[PIPELINE_OPTIONS]
    pipeline = Pipeline(
        app[DATABASE],
        settings,
        configured,
        app[TURN_RUNNER],  # type: ignore[arg-type]
        dispatcher_options=options.get("dispatcher_options"),
        sender_options=options.get("sender_options"),
        stop_grace=options.get("stop_grace", 5.0),
    )
    app[INBOX_WRITER] = InboxWriter(app[DATABASE], gate=pipeline.gate)
    pipeline.start()
    app[PIPELINE] = pipeline
    return pipeline
