"""XLSX export with typed cells, in constant memory.

* xlsxwriter's ``constant_memory`` mode writes each row to a temporary file as soon as
  the next one starts, so memory stays flat whatever the number of orders. The finished
  workbook is then copied to ``out`` in chunks.
* Money is a number cell with a number format of the currency's minor units (sums and
  filters work); whole numbers are numbers.
* ``created_at`` and ``ready_at`` are date-time cells showing the wall-clock time of the
  ISO value as given (its UTC offset dropped: Excel has no time zones), so the sheet
  shows the same time as the CSV and JSON exports.
* Text (names, ids, phones, postal codes) is always a text cell: never turned into a
  number, a formula or a link, so a customer named ``=HYPERLINK(...)`` stays text.
* A sheet holds at most 1,048,576 rows; longer exports continue on further sheets.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO

import xlsxwriter
from tendero.exporting import check_rows, drain
from tendero.money import minor_unit
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from tendero_exporters.columns import Column, Kind, columns_for, table_rows

EXCEL_MAX_ROWS = 1_048_576
COPY_CHUNK = 1024 * 1024
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    try:
        return datetime.fromisoformat(str(value)).replace(tzinfo=None)
    except ValueError:
        return None


def _precision(currency: Any) -> int:
    try:
        return -minor_unit(str(currency)).as_tuple().exponent  # type: ignore[operator]
    except Exception:  # an unknown code still exports, with two decimals
        return 2


class _Sheets:
    """Writes rows into the workbook, opening a new sheet when one is full."""

    def __init__(
        self, workbook: xlsxwriter.Workbook, title: str, columns: tuple[Column, ...], max_rows: int
    ) -> None:
        self.workbook = workbook
        self.title = title
        self.columns = columns
        self.max_rows = max_rows
        self.header = workbook.add_format({"bold": True, "bg_color": "#F2F2F2", "bottom": 1})
        self.text = workbook.add_format({"num_format": "@"})
        self.datetime = workbook.add_format({"num_format": DATETIME_FORMAT})
        self.money: dict[int, Format] = {}
        self.sheets: list[tuple[Worksheet, int]] = []
        self.sheet: Worksheet | None = None
        self.row = 0

    def _money_format(self, currency: Any) -> Format:
        digits = _precision(currency)
        if digits not in self.money:
            pattern = "#,##0" + ("." + "0" * digits if digits else "")
            self.money[digits] = self.workbook.add_format({"num_format": pattern})
        return self.money[digits]

    def _new_sheet(self) -> Worksheet:
        if self.sheet is not None:
            self.sheets.append((self.sheet, self.row))
        number = len(self.sheets) + 1
        sheet = self.workbook.add_worksheet(
            self.title if number == 1 else f"{self.title} ({number})"
        )
        for index, column in enumerate(self.columns):
            sheet.set_column(index, index, column.width)
            sheet.write_string(0, index, column.header, self.header)
        sheet.freeze_panes(1, 0)
        self.sheet, self.row = sheet, 1
        return sheet

    def write(self, order: dict[str, Any], values: list[Any]) -> None:
        sheet = (
            self.sheet if self.sheet is not None and self.row < self.max_rows else self._new_sheet()
        )
        row = self.row
        currency = order.get("currency")
        for col, (column, value) in enumerate(zip(self.columns, values, strict=True)):
            if value is None or value == "":
                continue
            if column.kind is Kind.MONEY and (amount := _money(value)) is not None:
                sheet.write_number(row, col, float(amount), self._money_format(currency))
            elif (
                column.kind is Kind.INTEGER
                and isinstance(value, int)
                and not isinstance(value, bool)
            ):
                sheet.write_number(row, col, value)
            elif column.kind is Kind.DATETIME and (moment := _datetime(value)) is not None:
                sheet.write_datetime(row, col, moment, self.datetime)
            else:
                sheet.write_string(row, col, str(value), self.text)
        self.row += 1

    def finish(self) -> None:
        if self.sheet is None:
            self._new_sheet()
        self.sheets.append((self.sheet, self.row))  # type: ignore[arg-type]
        last_col = len(self.columns) - 1
        for sheet, rows in self.sheets:
            sheet.autofilter(0, 0, max(rows - 1, 0), last_col)


class XlsxExporter:
    """Orders as an Excel workbook (one sheet, more when it passes Excel's row limit)."""

    name = "xlsx"
    label = "Excel (XLSX)"
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    extension = "xlsx"
    max_rows_per_sheet = EXCEL_MAX_ROWS  # header included

    async def write(self, orders: AsyncIterator[dict[str, Any]], rows: str, out: BinaryIO) -> int:
        check_rows(rows)
        columns = columns_for(rows)
        with tempfile.TemporaryDirectory(prefix="tendero-xlsx-") as tmp:
            path = Path(tmp) / "export.xlsx"
            workbook = xlsxwriter.Workbook(
                str(path),
                {
                    "constant_memory": True,
                    "tmpdir": tmp,
                    # Text stays text: no guessing numbers, formulas or links from strings.
                    "strings_to_numbers": False,
                    "strings_to_formulas": False,
                    "strings_to_urls": False,
                },
            )
            sheets = _Sheets(
                workbook,
                "Orders" if rows == "orders" else "Items",
                columns,
                self.max_rows_per_sheet,
            )
            count = 0
            try:
                async for order in orders:
                    for values in table_rows(order, rows, columns):
                        sheets.write(order, values)
                        count += 1
                sheets.finish()
            finally:
                # Zipping a big workbook takes a while: keep the event loop free.
                await asyncio.to_thread(workbook.close)
            with path.open("rb") as finished:
                while chunk := finished.read(COPY_CHUNK):
                    out.write(chunk)
                    await drain(out)
        return count
