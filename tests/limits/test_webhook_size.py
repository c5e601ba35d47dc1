"""Webhook bodies over ``TENDERO_WEBHOOK_MAX_BYTES`` are answered 413 without being read
past the limit, and nothing of them is stored; a body of exactly the limit is taken. The
app-wide cap on bodies read whole (``client_max_size``) holds on every other route.

Everything goes over real sockets to the running app: raw HTTP where the test must
control what is (not) sent, the signed Meta emitter otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import ValidationError
from tendero import hookimpl
from tendero.app import CLIENT_MAX_BYTES, WEBHOOK_MAX_BYTES, create_app
from tendero.db.models import InboxEvent, Message
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings
from yarl import URL

from tests.channels.e2e import Channel, Live, meta_channel
from tests.fakes import webhooks as wh

LIMIT = 4096


@pytest.fixture
async def facebook(settings: Settings) -> AsyncIterator[Channel]:
    async with meta_channel(
        "facebook", settings.model_copy(update={"webhook_max_bytes": LIMIT})
    ) as fb:
        yield fb


async def open_raw(live: Live) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
    url = URL(live.emitter.base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    return reader, writer, url.path


async def read_head(reader: asyncio.StreamReader, within: float = 3.0) -> tuple[int, str]:
    """The status and the header block of the answer (fails if none comes in time)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), within)
    text = head.decode("latin-1")
    return int(text.split(" ", 2)[1]), text.lower()


def padded(payload: dict[str, Any], size: int) -> bytes:
    """Meta's bytes for ``payload`` with trailing JSON whitespace up to ``size`` bytes."""
    body = wh.encode(payload)
    assert len(body) <= size
    return body + b" " * (size - len(body))


async def stored(live: Live) -> tuple[int, int]:
    return len(await live.rows(InboxEvent)), len(await live.rows(Message))


async def test_the_limit_is_an_operator_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().webhook_max_bytes == 1024 * 1024
    monkeypatch.setenv("TENDERO_WEBHOOK_MAX_BYTES", "65536")
    settings = Settings()
    assert settings.webhook_max_bytes == 65536
    assert (
        create_app(settings, plugin_manager=create_plugin_manager(allow=["core"]))[
            WEBHOOK_MAX_BYTES
        ]
        == 65536
    )
    monkeypatch.setenv("TENDERO_WEBHOOK_MAX_BYTES", "0")
    with pytest.raises(ValidationError, match="webhook_max_bytes"):
        Settings()


async def test_a_declared_oversized_body_is_refused_before_it_is_sent(facebook: Channel) -> None:
    async with facebook.running() as live:
        reader, writer, path = await open_raw(live)
        try:
            # Headers announce 4 MB; only 100 bytes follow, and the rest never comes.
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: meta\r\nContent-Type: application/json\r\n"
                f"Content-Length: {LIMIT * 1000}\r\nX-Hub-Signature-256: sha256={'0' * 64}\r\n"
                "\r\n".encode()
                + b"{" * 100
            )
            await writer.drain()
            started = time.monotonic()
            status, head = await read_head(reader)
            assert status == 413
            assert time.monotonic() - started < 2  # answered at once, not after a read timeout
            assert "connection: close" in head
        finally:
            writer.close()
        assert await stored(live) == (0, 0)


async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(
    facebook: Channel,
) -> None:
    async with facebook.running() as live:
        reader, writer, path = await open_raw(live)
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: meta\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n".encode()
            )
            for _ in range(LIMIT // 1024):  # exactly the limit, in four chunks
                writer.write(b"400\r\n" + b" " * 1024 + b"\r\n")
            await writer.drain()
            # At the limit the server still waits for more (or the end of the body).
            with pytest.raises(TimeoutError):
                await read_head(reader, within=0.5)
            writer.write(b"1\r\n \r\n")  # one byte more; the body's end never comes
            await writer.drain()
            status, head = await read_head(reader)
            assert status == 413 and "connection: close" in head
        finally:
            writer.close()
        assert await stored(live) == (0, 0)


async def test_a_body_of_exactly_the_limit_is_taken_and_one_byte_more_is_not(
    facebook: Channel,
) -> None:
    ana, bea = facebook.customer(1), facebook.customer(2)
    at_limit = padded(facebook.delivery([facebook.text(ana, "hola, justo al límite")]), LIMIT)
    over = padded(facebook.delivery([facebook.text(bea, "hola, un byte de más")]), LIMIT + 1)
    async with facebook.running() as live:
        status, _ = await live.emitter.post_bytes(
            over, wh.signature_headers(over, facebook.secret, "sha256")
        )
        assert status == 413
        status, _ = await live.emitter.post_bytes(
            at_limit, wh.signature_headers(at_limit, facebook.secret, "sha256")
        )
        assert status == 200
        # Stored before the 200: the one row is Ana's; nothing of Bea's came in.
        [row] = await live.rows(InboxEvent)
        assert row.payload["customer_id"] == ana
        assert row.payload["text"] == "hola, justo al límite"


async def test_an_oversized_body_that_is_signed_is_refused_all_the_same(
    facebook: Channel,
) -> None:
    """The size check comes first: a genuine signature does not buy a bigger body."""
    ana = facebook.customer(1)
    body = padded(facebook.delivery([facebook.text(ana, "hola")]), LIMIT * 3)
    async with facebook.running() as live:
        status, text = await live.emitter.post_bytes(
            body, wh.signature_headers(body, facebook.secret, "sha256")
        )
        assert status == 413 and str(LIMIT) in text
        assert await stored(live) == (0, 0)


class BodyEcho:
    """A plugin route that reads its body whole, as the panel's forms and the API do."""

    @hookimpl
    def register_routes(self, app: web.Application) -> None:
        async def size(request: web.Request) -> web.Response:
            return web.Response(text=str(len(await request.read())))

        app.router.add_post("/limits/size", size)


async def test_bodies_read_whole_are_capped_app_wide(settings: Settings) -> None:
    pm = create_plugin_manager(allow=["core"])
    pm.register(BodyEcho(), name="body-echo")
    app = create_app(settings, plugin_manager=pm)
    async with wh.serve(app) as base, aiohttp.ClientSession() as http:
        async with http.post(f"{base}/limits/size", data=bytes(CLIENT_MAX_BYTES)) as response:
            assert (response.status, await response.text()) == (200, str(CLIENT_MAX_BYTES))

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
            for _ in range(CLIENT_MAX_BYTES // (1024 * 1024) + 1):
                yield bytes(1024 * 1024)

        async with http.post(f"{base}/limits/size", data=chunks()) as response:
            assert response.status == 413
