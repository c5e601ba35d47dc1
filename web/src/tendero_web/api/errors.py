"""One JSON error shape for the whole API, and the mapping from domain errors to it.

Every error the API answers looks like::

    {"error": {"code": "not_found", "message": "order #9999 does not exist",
               "details": [{"message": "...", "field": "status", "index": 0}]}}

``code`` is stable and machine-readable; ``message`` is for people; ``details`` lists
every problem found (``field`` and ``index`` only when they apply).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from aiohttp import web
from tendero.errors import Conflict, NotFound, TenderoError, ValidationFailed
from tendero.orders.service import OutOfStock, StaleOrder
from tendero.orders.status import IllegalStatusMove

dumps = partial(json.dumps, ensure_ascii=False)

# Headers on every API answer: JSON is data, never a page to render or cache.
API_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}

BEARER_CHALLENGE = 'Bearer realm="tendero"'


class ApiError(Exception):
    """An error answer of the API: HTTP status, stable code, message and details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Iterable[str | Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = [_detail(d) for d in details]
        self.headers = dict(headers or {})

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def response(self) -> web.Response:
        return web.json_response(
            self.to_json(), status=self.status, headers={**API_HEADERS, **self.headers}, dumps=dumps
        )


def _detail(value: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, str):
        return {"message": value}
    return dict(value)


def bad_request(message: str, details: Iterable[str | Mapping[str, Any]] = ()) -> ApiError:
    """400: the request itself is malformed (unparsable JSON, bad query parameter)."""
    return ApiError(400, "bad_request", message, details)


def invalid(message: str, details: Iterable[str | Mapping[str, Any]] = ()) -> ApiError:
    """422: well-formed input whose values do not pass validation."""
    return ApiError(422, "validation_failed", message, details)


def unauthorized(message: str, *, token_given: bool) -> ApiError:
    """401 with the bearer challenge (RFC 6750): missing, unknown or revoked token."""
    challenge = BEARER_CHALLENGE + (', error="invalid_token"' if token_given else "")
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})


def from_domain(exc: TenderoError) -> ApiError:
    """The API answer for a domain error (the one place this mapping lives)."""
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", exc.message, exc.details)
    if isinstance(exc, ValidationFailed):
        return ApiError(422, "validation_failed", exc.message, exc.details)
    if isinstance(exc, IllegalStatusMove):
        return ApiError(409, "illegal_move", exc.message, exc.details)
    if isinstance(exc, StaleOrder):
        return ApiError(409, "stale", exc.message, exc.details)
    if isinstance(exc, OutOfStock):
        return ApiError(409, "out_of_stock", exc.message, exc.details)
    if isinstance(exc, Conflict):
        return ApiError(409, "conflict", exc.message, exc.details)
    return ApiError(exc.http_status, "error", exc.message, exc.details)


def from_http(exc: web.HTTPException) -> ApiError:
    """aiohttp's own answers (no route, wrong method, body too large) as JSON."""
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    code = codes.get(exc.status, "http_error")
    headers = {}
    message = exc.reason
    if exc.status == 404:
        message = "no such API endpoint; the document at /api/v1/openapi.json lists them all"
    if exc.status == 405 and "Allow" in exc.headers:
        headers["Allow"] = exc.headers["Allow"]
        message = f"method not allowed; use {exc.headers['Allow']}"
    return ApiError(exc.status, code, message, headers=headers)
