"""``GET|POST /webhooks/{name}``: the ingress of every channel.

POST: refuse oversized bodies (413, limit ``TENDERO_WEBHOOK_MAX_BYTES``; nothing of a
refused body is kept): by their Content-Length before reading any of them, or, for a
chunked body, as soon as more than the limit has come; read the raw bytes; let the
channel authenticate them (403 and nothing stored when it refuses); parse; fit the
events to the inbox's limits (:mod:`tendero.channels.storable`); store them in the
inbox; answer 200 — in milliseconds, with no turn or network work inside the request —
and wake the dispatcher. A body that does not parse is logged and answered
200 anyway: Meta would otherwise redeliver it forever.

GET: the channel's verify handshake. An unknown or unconfigured channel answers 404.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from tendero.channels.base import Channel, InboundEvent
from tendero.channels.storable import storable_events
from tendero.conversations.inbox import InboxWriter, record_inbound_events

log = structlog.get_logger(__name__)

CHANNELS = web.AppKey("channels", dict)  # name -> Channel, built at startup
WEBHOOK_MAX_BYTES = web.AppKey("webhook_max_bytes", int)
INBOX_WRITER = web.AppKey("inbox_writer", InboxWriter)
DEFAULT_WEBHOOK_MAX_BYTES = 1024 * 1024


def add_webhook_routes(app: web.Application) -> None:
    """Mount the webhook routes (channels are looked up per request, by name)."""
    app.router.add_get("/webhooks/{name}", verify_webhook)
    app.router.add_post("/webhooks/{name}", receive_webhook)


def _channel(request: web.Request) -> Channel:
    channels: dict[str, Channel] = request.app.get(CHANNELS) or {}
    channel = channels.get(request.match_info["name"])
    if channel is None or not channel.configured():
        raise web.HTTPNotFound(text="channel not configured")
    return channel


async def verify_webhook(request: web.Request) -> web.StreamResponse:
    return await _channel(request).handle_verify(request)


async def receive_webhook(request: web.Request) -> web.Response:
    from tendero.app import DATABASE
    from tendero.conversations.pipeline import PIPELINE

    channel = _channel(request)
    limit = request.app.get(WEBHOOK_MAX_BYTES, DEFAULT_WEBHOOK_MAX_BYTES)
    if request.content_length is not None and request.content_length > limit:
        return _too_large(channel, limit, request.content_length)
    body = await _read_body(request, limit)
    if body is None:
        return _too_large(channel, limit, None)
    if not channel.authenticate(request.headers, body):
        log.warning("webhook refused: bad signature", channel=channel.name)
        return web.Response(status=403, text="invalid signature")
    try:
        events = list(channel.parse(body) or ())
        if not all(isinstance(e, InboundEvent) for e in events):
            raise TypeError("parse() must return InboundEvent objects")
    except Exception:
        # Answer 200 anyway: Meta redelivers failed deliveries for days.
        log.exception("webhook body not understood", channel=channel.name, size=len(body))
        return web.Response(text="ok")
    events = storable_events(channel.name, events)
    if events:
        writer = request.app.get(INBOX_WRITER)
        if writer is not None:
            counts = await writer.record(channel.name, events)
        else:
            counts = await record_inbound_events(request.app[DATABASE], channel.name, events)
        if counts.queued:
            pipeline = request.app.get(PIPELINE)
            if pipeline is not None:
                pipeline.wake(counts.conversations)
    return web.Response(text="ok")


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as more than ``limit`` bytes came (a chunked body
    says its size only by sending it)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(channel: Channel, limit: int, declared: int | None) -> web.Response:
    log.warning("webhook refused: body too large", channel=channel.name, limit=limit, size=declared)
    response = web.Response(
        status=413, text=f"request body larger than {limit} bytes", content_type="text/plain"
    )
    # The rest of the body is not wanted: close the connection once it is answered
    # (aiohttp discards what is still in flight for a moment first, so the client
    # gets to read the 413 instead of a reset).
    response.force_close()
    return response
