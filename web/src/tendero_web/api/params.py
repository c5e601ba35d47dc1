"""Reading what a client sends: query parameters, order filters, pages and JSON bodies.

Query strings are checked strictly — an unknown parameter is an error, not ignored —
so a typo (``?stauts=new``) is reported instead of silently returning every order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from aiohttp import web
from multidict import MultiMapping
from tendero.app import DATABASE
from tendero.errors import ValidationFailed
from tendero.orders.query import OrderFilter
from tendero.store.service import get_published

from tendero_web.api.errors import bad_request

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

# Query parameters of the order list and the export (repeatable ones: any of).
ORDER_FILTER_PARAMS = (
    "status",
    "payment_status",
    "channel",
    "delivery_method",
    "pickup_location",
    "since",
    "until",
    "q",
)
REPEATABLE = frozenset(
    {"status", "payment_status", "channel", "delivery_method", "pickup_location"}
)
# A NUL character or a lone UTF-16 surrogate: text no database stores.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "contains a NUL character or an unpaired surrogate"


def check_params(query: MultiMapping[str], known: Iterable[str]) -> None:
    """Refuse parameters the endpoint does not know, and repeats of single ones."""
    known = tuple(known)
    problems = []
    for name in dict.fromkeys(query):
        if name not in known:
            problems.append(
                {"field": name, "message": f"unknown parameter {name!r}; use: {', '.join(known)}"}
            )
        elif name not in REPEATABLE and len(query.getall(name)) > 1:
            problems.append({"field": name, "message": f"give {name!r} only once"})
    for name, value in query.items():
        if _UNSTORABLE.search(value):
            # No database text can hold them (PostgreSQL refuses NUL outright).
            problems.append({"field": name, "message": UNSTORABLE_MESSAGE})
    if problems:
        raise bad_request("invalid query parameters", problems)


def _values(query: MultiMapping[str], name: str, *, split: bool = True) -> tuple[str, ...] | None:
    """A repeatable parameter; ``?status=new,processing`` counts as two values too
    (``split=False`` for free names, such as a location's, that may hold commas)."""
    raws = query.getall(name, [])
    values = [v.strip() for raw in raws for v in (raw.split(",") if split else [raw])]
    values = [v for v in values if v]
    return tuple(dict.fromkeys(values)) or None


def _day(query: MultiMapping[str], name: str) -> date | None:
    raw = query.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise bad_request(
            f"{name} must be a date written YYYY-MM-DD",
            [{"field": name, "message": f"{raw!r} is not a YYYY-MM-DD date"}],
        ) from None


async def store_timezone(request: web.Request) -> str:
    """The store's time zone (published settings): the one ``since``/``until`` mean."""
    async with request.app[DATABASE].read_session() as session:
        return (await get_published(session)).company.timezone


async def order_filter_from(request: web.Request) -> OrderFilter:
    """The :class:`OrderFilter` of the request's query (the same filters as the CLI
    export, plus ``delivery_method``, ``pickup_location`` and ``q``)."""
    query = request.query
    try:
        return OrderFilter(
            status=_values(query, "status"),
            payment_status=_values(query, "payment_status"),
            channel=_values(query, "channel"),
            delivery_method=_values(query, "delivery_method"),
            pickup_location=_values(query, "pickup_location", split=False),
            since=_day(query, "since"),
            until=_day(query, "until"),
            search=query.get("q", "").strip(),
            timezone=await store_timezone(request),
        )
    except ValidationFailed as exc:
        raise bad_request(exc.message, exc.details) from None


def limit_from(query: MultiMapping[str]) -> int:
    """The page size: ``limit``, 1 to 500, default 50."""
    raw = query.get("limit", "").strip()
    if not raw:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(
            f"limit must be a whole number from 1 to {MAX_LIMIT}",
            [{"field": "limit", "message": f"{raw!r} is not between 1 and {MAX_LIMIT}"}],
        )
    return limit


def next_link(request: web.Request, cursor: str) -> str:
    """The ``Link`` header value for the next page: this URL with ``cursor`` replaced."""
    query = [(k, v) for k, v in request.query.items() if k != "cursor"]
    query.append(("cursor", cursor))
    return f'<{request.url.with_query(query)}>; rel="next"'


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; a 400 for an empty or malformed body."""
    raw = await request.read()
    if not raw.strip():
        raise bad_request("the request body is empty; send a JSON document")
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise bad_request("the request body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise bad_request(
            "the request body is not valid JSON",
            [{"message": f"{exc.msg} at line {exc.lineno}, column {exc.colno}"}],
        ) from None
    except (ValueError, RecursionError) as exc:
        raise bad_request("the request body is not valid JSON", [{"message": str(exc)}]) from None
    try:
        unstorable = _unstorable_text(body)
    except RecursionError:
        raise bad_request("the request body is nested too deep") from None
    if unstorable is not None:
        raise bad_request(
            "the request body holds text no database stores",
            [{"field": unstorable, "message": UNSTORABLE_MESSAGE}],
        )
    return body


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity: JavaScript, not JSON (the standard library reads them)."""
    raise ValueError(f"{name} is not a JSON value")


def _unstorable_text(value: Any, path: str = "") -> str | None:
    """The path (``items.0.name``) of the first text, key or value, holding a NUL or a
    lone surrogate; None when there is none."""
    if isinstance(value, str):
        return path or "(body)" if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if _UNSTORABLE.search(key):
                return where
            found = _unstorable_text(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable_text(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; a 400 when it is anything else."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request(f"the request body must be a JSON object, not {_json_type(body)}")
    return body


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__


def unknown_fields(body: Mapping[str, Any], known: Iterable[str]) -> list[dict[str, str]]:
    """A detail for each key of ``body`` not in ``known``."""
    known = tuple(known)
    return [
        {"field": key, "message": f"unknown field {key!r}; use: {', '.join(known)}"}
        for key in body
        if key not in known
    ]
