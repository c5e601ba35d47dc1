"""The API middleware: JSON errors for everything under ``/api/``, and authentication.

Only paths under :data:`API_PREFIX` are touched; the panel's pages pass straight
through. Whatever goes wrong in an API request — no such route, a domain error, a bug —
the answer is the JSON error shape of :mod:`tendero_web.api.errors`, never HTML.
"""

from __future__ import annotations

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from tendero.errors import TenderoError

from tendero_web.api.auth import API_CLIENT, authenticate
from tendero_web.api.errors import API_HEADERS, ApiError, from_domain, from_http

log = structlog.get_logger(__name__)

API_PREFIX = "/api/"
PUBLIC_PATHS = frozenset({"/api/v1/openapi.json"})
STREAMING = "tendero_web.api.streaming"  # request key: the response is already sent


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate API requests and turn every failure into a JSON error."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    try:
        unmatched = request.match_info.http_exception
        if unmatched is not None:
            raise unmatched
        if request.path not in PUBLIC_PATHS:
            request[API_CLIENT] = await authenticate(request)
        response = await handler(request)
    except ApiError as exc:
        return exc.response()
    except TenderoError as exc:
        return from_domain(exc).response()
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects and the like are not errors
            raise
        return from_http(exc).response()
    except Exception:
        if request.get(STREAMING):
            # The headers and part of the body are out: the only honest signal left is
            # to break the connection (aiohttp does when the error propagates).
            raise
        log.exception("API request failed", method=request.method, path=request.path)
        return ApiError(
            500, "internal_error", "internal error; the server log has the details"
        ).response()
    if not response.prepared:
        for key, value in API_HEADERS.items():
            response.headers.setdefault(key, value)
    return response
