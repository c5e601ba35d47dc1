"""Panel pages: orders (to be built; a placeholder keeps the routes named)."""

from __future__ import annotations

from aiohttp import web

from tendero_web import panel

routes = web.RouteTableDef()


@routes.get("/orders", name="orders")
async def orders_page(request: web.Request) -> web.StreamResponse:
    return await panel.render(request, "base.html")
