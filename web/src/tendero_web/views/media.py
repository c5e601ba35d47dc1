"""``/media/...``: files customers sent (payment receipts), for logged-in users only.

The panel guard already refuses logged-out requests; this handler serves only files
inside ``<data dir>/media`` (no path escapes), as attachments unless they are images.
"""

from __future__ import annotations

from aiohttp import web
from tendero.app import SETTINGS

routes = web.RouteTableDef()

INLINE_TYPES = (".jpg", ".jpeg", ".png", ".webp", ".gif")


@routes.get("/media/{path:.+}", name="media")
async def media_file(request: web.Request) -> web.StreamResponse:
    root = (request.app[SETTINGS].data_dir / "media").resolve()
    target = (root / request.match_info["path"]).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise web.HTTPNotFound(text="No such file.")
    response = web.FileResponse(target)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if target.suffix.lower() not in INLINE_TYPES:
        response.headers["Content-Disposition"] = f'attachment; filename="{target.name}"'
    return response
