"""Hook implementations of the web panel plugin.

The panel itself (login, Orders, Products, Conversations, Settings, Channels) is still
to come; for now the plugin mounts a placeholder home page so ``/`` answers something
useful instead of 404.
"""

from __future__ import annotations

from aiohttp import web
from tendero import __version__, hookimpl

PLACEHOLDER = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tendero</title></head>
<body>
<main>
<h1>Tendero {version}</h1>
<p>The server is running. The merchant panel is not built yet.</p>
<p><a href="/healthz">Health check</a></p>
</main>
</body>
</html>
"""


async def home(request: web.Request) -> web.Response:
    """The placeholder home page."""
    return web.Response(text=PLACEHOLDER.format(version=__version__), content_type="text/html")


@hookimpl
def register_routes(app: web.Application) -> None:
    """Mount the panel's pages (for now: the placeholder home page at ``/``)."""
    app.router.add_get("/", home, name="home")
