"""The aiohttp application factory: the one way to build the app (``serve`` and tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pluggy
import sqlalchemy as sa
import structlog
from aiohttp import web

from tendero import __version__
from tendero.db import Database
from tendero.plugins import call_hook, create_plugin_manager, notify
from tendero.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
PLUGINS = web.AppKey("plugins", pluggy.PluginManager)
HTTP_CLIENT = web.AppKey("http_client", aiohttp.ClientSession)

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
) -> web.Application:
    """Build the web application.

    The database must already be migrated (``tendero db upgrade``; ``serve`` does it).
    ``plugin_manager`` defaults to every installed plugin; tests pass one built with an
    allow-list. Everything opened here is closed by the app's cleanup context.
    """
    settings.ensure_secret_key()
    pm = plugin_manager or create_plugin_manager(trace=settings.trace_hooks or None)
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[SETTINGS] = settings
    app[PLUGINS] = pm
    app[DATABASE] = database or Database(settings.effective_database_url)

    app.router.add_get("/healthz", healthz)
    pm.hook.register_routes(app=app)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=30, connect=10)
        app[HTTP_CLIENT] = aiohttp.ClientSession(timeout=timeout)
        await call_hook(pm, "startup", app=app)
        log.info("tendero started", version=__version__, database=app[DATABASE].dialect)
        try:
            yield
        finally:
            # One failing plugin must not keep the others, or the database, open.
            await notify(pm, "shutdown", app=app)
            await app[HTTP_CLIENT].close()
            await app[DATABASE].dispose()
        log.info("tendero stopped")

    app.cleanup_ctx.append(resources)
    return app
