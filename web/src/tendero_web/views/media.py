"""``/media/...``: files customers sent (payment receipts), for logged-in users only.

The panel guard already refuses logged-out requests; this handler serves only files
inside ``<data dir>/media`` (no path escapes: ``..``, absolute paths and symbolic links
leading outside all answer 404), as attachments unless they are images. The names are
random (see :func:`tendero.conversations.media.store_media`), so they cannot be guessed.
"""

from __future__ import annotations

from aiohttp import web
from tendero.app import SETTINGS

routes = web.RouteTableDef()

INLINE_TYPES = (".jpg", ".jpeg", ".png", ".webp", ".gif")


@routes.get("/media/{path:.+}", name="media")
async def media_file(request: web.Request) -> web.StreamResponse:
    root = (request.app[SETTINGS].data_dir / "media").resolve()
    try:
        # resolve() follows symbolic links, so one pointing outside is caught too.
        target = (root / request.match_info["path"]).resolve()
        found = target.is_relative_to(root) and target.is_file()
    except (OSError, ValueError):  # a NUL byte, a name too long for the file system
        found = False
    if not found:
        raise web.HTTPNotFound(text="No such file.")
    response = web.FileResponse(target)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if target.suffix.lower() not in INLINE_TYPES:
        response.headers["Content-Disposition"] = f'attachment; filename="{target.name}"'
    return response
