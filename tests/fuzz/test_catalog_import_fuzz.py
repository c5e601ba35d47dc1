"""The catalog importer under arbitrary files: CSV bytes in random encodings, with BOMs,
NULs, huge cells, wrong column counts and formulas; XLSX workbooks (built with
xlsxwriter) holding any cell type; and bytes that are neither.

The importer answers with a report whose errors carry line numbers, or a clear
:class:`ValidationFailed` for the file as a whole — never another exception — and a
strict import with a rejected row writes nothing (checked on SQLite and PostgreSQL).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
import xlsxwriter
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tendero.catalog import Catalog
from tendero.catalog.importer import ImportMode, parse_table, read_table
from tendero.db import Database
from tendero.db.models import Product
from tendero.errors import ValidationFailed

from tests.fuzz.conftest import BackgroundLoop, background_loop, examples

HEADERS = [
    "sku", "name", "price", "stock", "description", "category", "image_url", "active",
    "SKU", "Nombre", "precio", "Existencias", "talla", "color", "", " ", "name ", "código",
]  # fmt: skip
any_text = st.text(st.characters(exclude_categories=()), max_size=30)
cells = st.one_of(
    any_text,
    st.sampled_from(
        [
            "", "TEE-M", "Playera", "1,249.50", "1.249,50", "1,249", "$99", "-5", "0,750",
            "1e5", "NaN", "inf", "sí", "no", "x", "=1+1", "=HYPERLINK(\"http://x\")",
            "+cmd|' /C calc'!A0", "@SUM(1)", "-1+1", "http://x.test/a.jpg", "ftp://x",
            "\u0000", "\ufeff", "\r", "\n", "\"", "a,b", "a;b", "\t",
        ]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.builds(lambda c, n: c * n, st.sampled_from(["9", "a", "1,", " "]), st.integers(100, 6_000)),
)  # fmt: skip
header_rows = st.one_of(
    st.lists(st.sampled_from(HEADERS), min_size=1, max_size=9),
    st.just(["sku", "name", "price", "stock", "description", "talla"]),
)
# Rows that pass the checks but for one odd value, so odd values reach the database.
plausible_rows = st.tuples(
    st.one_of(st.from_regex(r"[A-Z]{2,5}-[0-9]{1,3}", fullmatch=True), cells),
    st.one_of(st.sampled_from(["Playera", "Gorra \u0000azul", "Ñandú 👗"]), any_text),
    st.one_of(st.sampled_from(["199.00", "1,249.50", "0"]), cells),
    st.one_of(st.sampled_from(["", "3", "1,000"]), cells),
    st.one_of(any_text, cells),
    any_text,
).map(list)
table_rows = st.lists(st.one_of(st.lists(cells, max_size=10), plausible_rows), max_size=8)


def csv_text(table: list[list[str]], delimiter: str) -> str:
    out = []
    for row in table:
        out.append(
            delimiter.join(
                '"' + c.replace('"', '""') + '"' if (delimiter in c or '"' in c or "\n" in c) else c
                for c in row
            )
        )
    return "\r\n".join(out)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A catalog as CSV: a plausible header, odd rows, any encoding (surrogates and
    characters the encoding lacks become invalid bytes or replacements)."""
    table = [draw(header_rows), *draw(table_rows)]
    if draw(st.booleans()):
        table.insert(0, [])  # a blank line before the header
    text = csv_text(table, draw(st.sampled_from([",", ";", "\t", "|"])))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"]))
    data = text.encode(encoding, errors="surrogatepass" if "utf-8" in encoding else "replace")
    if draw(st.booleans()):
        cut = draw(st.integers(min_value=0, max_value=len(data)))
        data = data[:cut]  # truncated mid-character or mid-row
    return data


XLSX_CELLS = st.one_of(
    cells,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)),
    st.sampled_from(["=1/0", "=A1", "=SUM(1,2)", '="x"&"y"', "=NA()"]).map(lambda f: ("f", f)),
    st.text(st.characters(exclude_categories=()), min_size=32_000, max_size=32_000),
)


@st.composite
def xlsx_files(draw: st.DrawFn) -> bytes:
    """A workbook (first sheet: header and rows of any cell type; maybe more sheets)."""
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False}) as book:
        sheet = book.add_worksheet()
        table = [
            draw(header_rows),
            *draw(
                st.lists(st.one_of(st.lists(XLSX_CELLS, max_size=10), plausible_rows), max_size=6)
            ),
        ]
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                if isinstance(value, tuple):
                    sheet.write_formula(r, c, value[1])
                elif isinstance(value, date):
                    sheet.write_datetime(r, c, datetime(value.year, value.month, value.day))
                elif value is None:
                    sheet.write_blank(r, c, None)
                elif isinstance(value, str):
                    # XLSX is UTF-8 XML: a lone surrogate cannot be written at all.
                    sheet.write_string(r, c, value.encode("utf-8", "replace").decode())
                else:
                    sheet.write(r, c, value)
        if draw(st.booleans()):
            book.add_worksheet().write(0, 0, "other sheet")
    return buffer.getvalue()


files = st.one_of(
    csv_files(),
    xlsx_files().map(lambda data: (data, "catalog.xlsx")),
    st.binary(max_size=3000),
    st.binary(max_size=200).map(lambda data: b"PK\x03\x04" + data),  # a broken zip
    st.binary(max_size=200).map(lambda data: (data, "catalog.xlsx")),
)


def workbook(*rows: list[Any]) -> bytes:
    """An XLSX file with ``rows`` on its first sheet."""
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer, {"in_memory": True}) as book:
        sheet = book.add_worksheet()
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write(r, c, value)
    return buffer.getvalue()


# Found by this fuzzing: PostgreSQL refused a NUL inside a spreadsheet cell (500-style
# database error instead of an import).
NUL_IN_A_CELL = workbook(["sku", "name", "price", "talla"], ["A-1", "Gorra \x00azul", 10, "M\x00"])


def named(file: bytes | tuple[bytes, str]) -> tuple[bytes, str | None]:
    return file if isinstance(file, tuple) else (file, None)


def check_parsed(table: list[list[Any]]) -> None:
    try:
        parsed = parse_table(table)
    except ValidationFailed as exc:
        assert exc.message
        return
    lines = [row.line for row in parsed.rows] + [error.line for error in parsed.errors]
    assert len(lines) == len(set(lines)) == parsed.total_rows
    for line in lines:
        assert 2 <= line <= len(table) + 1
    for error in parsed.errors:
        assert error.reason
    for row in parsed.rows:
        fields = row.fields
        if "name" in fields:
            assert 0 < len(fields["name"]) <= 300
        if "price" in fields:
            assert fields["price"] >= 0
        if fields.get("sku") is not None:
            assert 0 < len(fields["sku"]) <= 100


@settings(max_examples=examples(300))
@given(file=files)
@example(file=b"name,price,stock\nPlayera,10," + b"1" * 5000 + b"\n")
def test_reading_any_file_gives_a_report_or_a_clear_error(file: bytes | tuple[bytes, str]) -> None:
    data, filename = named(file)
    try:
        table, warnings = read_table(data, filename)
    except ValidationFailed as exc:
        assert exc.message
        return
    assert all(isinstance(w, str) for w in warnings)
    check_parsed(table)


# --- through the service, on a database ----------------------------------------------------


async def products(db: Database) -> list[tuple[Any, ...]]:
    async with db.read_session() as session:
        result = await session.execute(
            sa.select(
                Product.id,
                Product.sku,
                Product.name,
                Product.price,
                Product.stock,
                Product.active,
                Product.attributes,
                Product.updated_at,
            ).order_by(Product.id)
        )
        return [tuple(row) for row in result]


@pytest.fixture
def catalog_loop(database_url: str) -> Iterator[tuple[BackgroundLoop, Database]]:
    with background_loop() as loop:
        db = Database(database_url)
        catalog = Catalog(db)
        loop.run(
            catalog.import_file(
                b"sku,name,price,stock,talla\nTEE-M,Playera,199.00,5,M\nCAP,Gorra,99,,\n",
                mode=ImportMode.ADD,
            )
        )
        try:
            yield loop, db
        finally:
            loop.run(db.dispose())


def test_importing_any_file_never_fails_unexpectedly_and_strict_writes_nothing(
    catalog_loop: tuple[BackgroundLoop, Database],
) -> None:
    loop, db = catalog_loop
    catalog = Catalog(db)

    @settings(max_examples=examples(30))
    @given(
        file=files,
        mode=st.sampled_from(list(ImportMode)),
        strict=st.booleans(),
    )
    @example(file=(NUL_IN_A_CELL, "catalog.xlsx"), mode=ImportMode.ADD, strict=False)
    def run(file: bytes | tuple[bytes, str], mode: ImportMode, strict: bool) -> None:
        data, filename = named(file)
        before = loop.run(products(db))
        try:
            report = loop.run(
                catalog.import_file(data, mode=mode, strict=strict, filename=filename)
            )
        except ValidationFailed as exc:
            assert exc.message
            assert loop.run(products(db)) == before  # a refused file changes nothing
            return
        assert report.rows >= report.rejected
        for error in report.errors:
            assert error.line >= 2 and error.reason
        if strict and report.errors:
            assert not report.applied
            assert loop.run(products(db)) == before
        else:
            assert report.applied

    run()
