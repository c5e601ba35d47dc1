"""Local servers for the limits tests: a scripted media host (oversized, slow, mislabelled,
redirecting answers) and a server that takes connections and never answers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Self

import pytest
from aiohttp import web

from tests.fakes.server import LoopbackServer

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@dataclass
class Seen:
    """One request the media host received."""

    path: str
    headers: dict[str, str]


class MediaHost(LoopbackServer):
    """Answers media downloads the way a hostile or broken host could.

    * ``/file/{name}``: a file added with :meth:`add`.
    * ``/huge``: says ``Content-Length: 100 MB`` and sends one chunk, then waits.
    * ``/endless``: a chunked JPEG that never ends (64 KiB per chunk, as fast as taken).
    * ``/drip``: a chunked JPEG, one byte every 0.1 s, forever.
    * ``/hang``: takes the request and never answers.
    * ``/redirect?to=URL``: 302 to ``URL``; ``/loop``: 302 to itself.

    ``seen`` lists every request; ``sent_bytes`` counts the body bytes written per path.
    """

    def __init__(self) -> None:
        super().__init__(web.Application())
        self.files: dict[str, tuple[bytes, str]] = {}
        self.seen: list[Seen] = []
        self.sent_bytes: dict[str, int] = {}
        self.app.router.add_get("/file/{name}", self._file)
        self.app.router.add_get("/huge", self._huge)
        self.app.router.add_get("/endless", self._endless)
        self.app.router.add_get("/drip", self._drip)
        self.app.router.add_get("/hang", self._hang)
        self.app.router.add_get("/redirect", self._redirect)
        self.app.router.add_get("/loop", self._loop)
        self.app.middlewares.append(self._record)

    def add(self, name: str, content: bytes, content_type: str) -> str:
        self.files[name] = (content, content_type)
        return f"{self.base_url}/file/{name}"

    @web.middleware
    async def _record(self, request: web.Request, handler: object) -> web.StreamResponse:
        self.seen.append(Seen(request.path, dict(request.headers)))
        return await handler(request)  # type: ignore[operator]

    def _count(self, path: str, size: int) -> None:
        self.sent_bytes[path] = self.sent_bytes.get(path, 0) + size

    async def _file(self, request: web.Request) -> web.Response:
        content, content_type = self.files[request.match_info["name"]]
        return web.Response(body=content, content_type=content_type)

    async def _stream(self, request: web.Request, chunk: bytes, pause: float) -> None:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write(JPEG[:4])
            while not self._closing.is_set():
                await response.write(chunk)
                self._count(request.path, len(chunk))
                if pause:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._closing.wait(), pause)

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        response.content_length = 100 * 1024 * 1024
        await response.prepare(request)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write(JPEG[:4] + bytes(64 * 1024))
            self._count(request.path, 64 * 1024 + 4)
            await self._closing.wait()
        return response

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        await self._stream(request, bytes(64 * 1024), 0)
        return web.Response(status=500)  # never reached while the client reads

    async def _drip(self, request: web.Request) -> web.StreamResponse:
        await self._stream(request, b"\x00", 0.1)
        return web.Response(status=500)

    async def _hang(self, request: web.Request) -> web.Response:
        await self._closing.wait()
        return web.Response(status=504)

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def _loop(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never says a word (reads and ignores
    whatever comes): a Graph API, SMTP or LLM server that hangs."""

    def __init__(self) -> None:
        self.connections = 0
        self.received = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._take, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _take(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                self.received += len(chunk)


@dataclass
class Hosts:
    media: MediaHost
    other: MediaHost  # a second host the payloads must not reach


@pytest.fixture
async def hosts() -> AsyncIterator[Hosts]:
    async with MediaHost() as media, MediaHost() as other:
        yield Hosts(media, other)


@pytest.fixture
async def silent() -> AsyncIterator[SilentServer]:
    async with SilentServer() as server:
        yield server
