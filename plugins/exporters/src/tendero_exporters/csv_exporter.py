"""CSV export that opens right in Excel and cannot smuggle formulas into it.

* UTF-8 with a byte-order mark: without it Excel reads the file in the legacy code page
  and "Ñoño" turns into mojibake.
* Text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (also
  after leading spaces) gets a leading apostrophe, so a customer named
  ``=HYPERLINK(...)`` stays text (OWASP "CSV injection"). Only text columns are
  touched; numbers and money are written by Tendero itself.
* Ids and phones are written as text, exactly as stored (never turned into numbers).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import AsyncIterator, Callable
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from tendero.exporting import FORMULA_PREFIXES, check_rows, drain, neutralise

from tendero_exporters.columns import Column, Kind, columns_for, table_rows

BATCH_BYTES = 64 * 1024


# Only text starting with one of these can need the apostrophe (see neutralise).
_RISKY_FIRST = frozenset("".join(FORMULA_PREFIXES) + " ")


def _text_cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if type(value) is str else str(value)
    # Most cells start with a letter or digit: skip neutralise's two prefix tests.
    if not text or text[0] not in _RISKY_FIRST:
        return text
    return neutralise(text)


def _integer_cell(value: Any) -> str:
    if type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    return _text_cell(value)


def _money_cell(value: Any) -> str:
    if value is None:
        return ""
    try:
        return str(Decimal(str(value)))
    except InvalidOperation:
        return _text_cell(value)  # not an amount after all: write it as (safe) text


_CELLS: dict[Kind, Callable[[Any], str]] = {
    Kind.INTEGER: _integer_cell,
    Kind.MONEY: _money_cell,
}


def csv_value(column: Column, value: Any) -> str:
    """The CSV text of one cell."""
    return _CELLS.get(column.kind, _text_cell)(value)


class CsvExporter:
    """Orders as CSV (comma-separated, RFC 4180 quoting, CRLF line ends)."""

    name = "csv"
    label = "CSV (Excel)"
    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    async def write(self, orders: AsyncIterator[dict[str, Any]], rows: str, out: BinaryIO) -> int:
        check_rows(rows)
        columns = columns_for(rows)
        cells = [_CELLS.get(column.kind, _text_cell) for column in columns]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        out.write(codecs.BOM_UTF8)
        writer.writerow([column.header for column in columns])
        count = 0
        async for order in orders:
            for values in table_rows(order, rows, columns):
                writer.writerow([cell(v) for cell, v in zip(cells, values, strict=True)])
                count += 1
            if buffer.tell() >= BATCH_BYTES:
                await self._flush(buffer, out)
        await self._flush(buffer, out)
        return count

    @staticmethod
    async def _flush(buffer: io.StringIO, out: BinaryIO) -> None:
        out.write(buffer.getvalue().encode("utf-8"))
        buffer.seek(0)
        buffer.truncate()
        await drain(out)
