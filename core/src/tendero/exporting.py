"""The exporter interface: how orders leave Tendero as files (CSV, XLSX, JSON, yours).

Exporters are plugins (``register_exporters``); the built-in ones live in the
``tendero-exporters`` distribution. The CLI (``tendero orders export``), the panel's
Export button and the API all stream through the same :class:`Exporter` objects:

    exporters = await collect_exporters(pm)
    exporter = pick_exporter(exporters, "csv")
    count = await exporter.write(orders, rows="orders", out=sys.stdout.buffer)

``orders`` is an async iterator of order dicts in the ORDER JSON format (docs/api.md).
Exporters write to ``out`` as they go and never hold the whole
output in memory. For an async destination (an HTTP response), pass a
:class:`ChunkedSink`: exporters call :func:`drain` every so often, which is where the
sink awaits the slow reader.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, Protocol, runtime_checkable

from tendero.errors import NotFound

if TYPE_CHECKING:
    import pluggy

Rows = Literal["orders", "items"]
ROWS: tuple[str, ...] = ("orders", "items")


@runtime_checkable
class Exporter(Protocol):
    """An order exporter.

    ``name`` is the ``--format`` value; ``media_type`` and ``extension`` name the file
    (``text/csv; charset=utf-8``, ``csv``); ``label`` is what the panel shows.
    """

    name: str
    label: str
    media_type: str
    extension: str

    async def write(self, orders: AsyncIterator[dict[str, Any]], rows: str, out: BinaryIO) -> int:
        """Stream ``orders`` into ``out`` and return the number of rows written.

        ``rows`` is ``"orders"`` (one row per order, with an items summary) or
        ``"items"`` (one row per item, repeating the order's columns); formats without
        rows (JSON lines) may ignore it. Raise ``ValueError`` for any other value.
        """
        ...


# Text starting with one of these is read by spreadsheets as a formula (OWASP "CSV
# injection"); customer-supplied text must not be.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """``text`` made safe for a spreadsheet cell: a leading apostrophe when it could be
    read as a formula (also after leading spaces). Use it for every text cell of a CSV."""
    if text.startswith(FORMULA_PREFIXES) or text.lstrip(" ").startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def check_rows(rows: str) -> None:
    """Raise ``ValueError`` unless ``rows`` is ``"orders"`` or ``"items"``."""
    if rows not in ROWS:
        raise ValueError(f"rows must be one of {', '.join(ROWS)}, not {rows!r}")


async def collect_exporters(pm: pluggy.PluginManager) -> dict[str, Exporter]:
    """Every exporter the plugins register, by name (a duplicate name is an error)."""
    from tendero.plugins import call_hook, flatten

    exporters: dict[str, Exporter] = {}
    for exporter in flatten(await call_hook(pm, "register_exporters")):
        if exporter.name in exporters:
            raise ValueError(f"two plugins register an exporter named {exporter.name!r}")
        exporters[exporter.name] = exporter
    return exporters


def pick_exporter(exporters: dict[str, Exporter], name: str) -> Exporter:
    """The exporter called ``name``; :class:`~tendero.errors.NotFound` lists the others."""
    try:
        return exporters[name]
    except KeyError:
        raise NotFound(
            f"no exporter named {name!r}; available: {', '.join(sorted(exporters)) or 'none'}"
        ) from None


async def drain(out: Any) -> None:
    """Let ``out`` flush what it holds when it can (a :class:`ChunkedSink` awaits its
    reader here); does nothing for plain files. Exporters call it between batches."""
    flush = getattr(out, "drain", None)
    if flush is not None:
        result = flush()
        if inspect.isawaitable(result):
            await result


class ChunkedSink:
    """A binary writer for async destinations: ``write`` buffers, ``drain`` sends.

    ``send`` is an async callable taking bytes, e.g. ``aiohttp.web.StreamResponse.write``
    (which waits while the client is slow, so a big export holds at most about one batch
    in memory).
    """

    def __init__(self, send: Callable[[bytes], Awaitable[Any]]) -> None:
        self._send = send
        self._buffer = bytearray()
        self.bytes_sent = 0

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        """Nothing to do synchronously; :meth:`drain` sends."""

    async def drain(self) -> None:
        if self._buffer:
            chunk, self._buffer = bytes(self._buffer), bytearray()
            self.bytes_sent += len(chunk)
            await self._send(chunk)
