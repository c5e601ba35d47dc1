"""Hook implementations of the web panel plugin: the panel's pages and the JSON API."""

from __future__ import annotations

from aiohttp import web
from tendero import hookimpl

from tendero_web import panel
from tendero_web.api import setup_api
from tendero_web.views import (
    auth,
    channels,
    conversations,
    live,
    media,
    orders,
    products,
    settings,
)

PAGES = (auth, media, orders, live, products, conversations, settings, channels)


@hookimpl
def register_routes(app: web.Application) -> None:
    """Mount the panel (login, Orders, Products, Conversations, Settings, Channels) and
    the JSON API under ``/api/v1/``."""
    panel.setup(app, [page.routes for page in PAGES])
    live.setup(app)  # the Orders page's feed of new orders, closed on shutdown
    setup_api(app)


@hookimpl
def order_created() -> None:
    """Open Orders pages show an order made in this process at once, not at the next poll."""
    live.wake_feeds()
