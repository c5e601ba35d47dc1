"""Reading a catalog file (CSV or spreadsheet) into checked rows, and the import report.

This module is pure: it turns bytes into :class:`ParsedFile` (valid rows plus one
:class:`RowError` per rejected row) without touching the database. The
:class:`tendero.catalog.Catalog` service applies the result in one transaction.

Line numbers are the row numbers a spreadsheet shows: the header is line 1, the first
product line 2, blank lines count (and are skipped), and a quoted CSV cell that spans
several physical lines is still one line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tendero.catalog.fields import PARSERS, FieldError, cell_text, parse_sku
from tendero.catalog.text import fold
from tendero.errors import ValidationFailed

ProgressCallback = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called now and then during a long import."""

PRODUCT_COLUMNS = (
    "sku",
    "name",
    "price",
    "stock",
    "description",
    "category",
    "image_url",
    "active",
)

# Normalised header (folded, non-alphanumerics as "_") -> product field.
HEADER_ALIASES: dict[str, str] = {
    **{h: "sku" for h in ("sku", "codigo", "code", "clave", "ref", "referencia", "product_code")},
    **{
        h: "name"
        for h in ("name", "nombre", "producto", "product", "product_name", "titulo", "title")
    },
    **{h: "price" for h in ("price", "precio", "unit_price", "precio_unitario", "precio_de_venta")},
    **{
        h: "stock"
        for h in (
            "stock",
            "existencias",
            "existencia",
            "inventario",
            "inventory",
            "qty",
            "quantity",
            "cantidad",
        )
    },
    **{h: "description" for h in ("description", "descripcion", "detalle", "detalles")},
    **{h: "category" for h in ("category", "categoria", "departamento")},
    **{
        h: "image_url"
        for h in (
            "image_url",
            "image",
            "imagen",
            "url_imagen",
            "imagen_url",
            "foto",
            "photo",
            "picture",
        )
    },
    **{h: "active" for h in ("active", "activo", "activa", "enabled", "habilitado")},
}

PROGRESS_EVERY = 2000


class ImportMode(StrEnum):
    """What an import does to the products that are already there."""

    ADD = "add"  # upsert by SKU, insert rows without a known SKU; others untouched
    REPLACE = "replace"  # the file becomes the catalog
    CLEAR = "clear"  # empty the catalog (then, with a file, same as replace)


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected row: its line number as a spreadsheet shows it, and why."""

    line: int
    reason: str
    sku: str | None = None
    name: str = ""


@dataclass
class ImportReport:
    """What an import did (or, with ``strict`` and errors, would have done)."""

    mode: ImportMode
    strict: bool = False
    rows: int = 0  # product lines read (blank lines not counted)
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    deleted: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    applied: bool = False  # False: nothing was written (strict mode with rejected rows)

    @property
    def rejected(self) -> int:
        """How many rows were rejected."""
        return len(self.errors)

    @property
    def ok(self) -> bool:
        """True when no row was rejected."""
        return not self.errors

    def summary(self) -> str:
        """One line for people: what changed, and what was rejected."""
        if not self.applied:
            return (
                f"Nothing imported (--strict): {self.rejected} of {self.rows} rows rejected; "
                "fix them and import again."
            )
        parts = [f"{self.created} created", f"{self.updated} updated"]
        if self.mode is not ImportMode.ADD or self.deactivated or self.deleted:
            parts += [f"{self.deactivated} deactivated", f"{self.deleted} deleted"]
        parts.append(f"{self.rejected} rejected")
        return f"Imported {self.rows} rows ({self.mode.value}): " + ", ".join(parts) + "."

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the panel and the API)."""
        return {
            "mode": self.mode.value,
            "strict": self.strict,
            "applied": self.applied,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "deactivated": self.deactivated,
            "deleted": self.deleted,
            "rejected": self.rejected,
            "errors": [
                {"line": e.line, "sku": e.sku, "name": e.name, "reason": e.reason}
                for e in self.errors
            ],
            "warnings": list(self.warnings),
        }


@dataclass(slots=True)
class ParsedRow:
    """A row that passed every field check. ``fields`` holds only the file's columns."""

    line: int
    fields: dict[str, Any]
    attributes: dict[str, str]  # non-empty attribute cells
    cleared_attributes: tuple[str, ...] = ()  # attribute columns left empty on this row


@dataclass
class ParsedFile:
    """A whole file, checked row by row."""

    columns: frozenset[str]  # product fields the file has a column for
    attribute_columns: tuple[str, ...]
    rows: list[ParsedRow]
    errors: list[RowError]
    warnings: list[str]
    total_rows: int
    rejected_skus: set[str]  # casefolded SKUs of rejected rows (kept as they are)


# --- reading the file -----------------------------------------------------------------


def read_table(data: bytes, filename: str | None = None) -> tuple[list[list[Any]], list[str]]:
    """Every row of the file (header included) as cell lists, and reading warnings.

    XLSX/XLSM/XLS/ODS (recognised by content or extension): the first sheet. Anything
    else is CSV: UTF-8 with or without BOM (Windows-1252 accepted with a warning),
    comma, semicolon or tab separated (sniffed from the header line).
    """
    name = (filename or "").lower()
    if (
        data[:4] == b"PK\x03\x04"
        or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        or name.endswith((".xlsx", ".xlsm", ".xls", ".ods"))
    ):
        return _read_spreadsheet(data), []
    return _read_csv(data)


def _read_spreadsheet(data: bytes) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not workbook.sheet_names:
            raise ValidationFailed("The spreadsheet has no sheet.")
        sheet = workbook.get_sheet_by_index(0)
        return [list(row) for row in sheet.to_python(skip_empty_area=False)]
    except ValidationFailed:
        raise
    except Exception as exc:  # calamine raises its own error types per format
        raise ValidationFailed(f"Cannot read the spreadsheet: {exc}") from None


def _read_csv(data: bytes) -> tuple[list[list[Any]], list[str]]:
    warnings: list[str] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        warnings.append("The file is not UTF-8; it was read as Windows-1252 (Excel's ANSI).")
    if "\x00" in text:
        raise ValidationFailed("The file is not a CSV or XLSX file.")
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", ";", "\t"), key=first_line.count) if first_line else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ValidationFailed(f"Cannot read the CSV file: {exc}") from None
    return rows, warnings


# --- checking rows --------------------------------------------------------------------


def normalise_header(header: Any) -> str:
    """A header cell as a lookup key: folded, trimmed, non-alphanumerics as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", fold(cell_text(header))).strip("_")


def _is_blank(row: Sequence[Any]) -> bool:
    return all(cell_text(cell) == "" for cell in row)


def parse_table(rows: list[list[Any]], *, progress: ProgressCallback | None = None) -> ParsedFile:
    """Check every row of a table (header first) against the product rules.

    Raises :class:`ValidationFailed` for problems with the file as a whole (no header,
    a column named twice, neither a name nor a SKU column).
    """
    header_index = next((i for i, row in enumerate(rows) if not _is_blank(row)), None)
    if header_index is None:
        raise ValidationFailed("The file is empty: it needs a header line (sku,name,price,...).")
    header = rows[header_index]
    field_columns: dict[str, int] = {}
    attribute_columns: dict[int, str] = {}
    seen_headers: dict[str, str] = {}
    warnings: list[str] = []
    problems: list[str] = []
    for index, cell in enumerate(header):
        title = cell_text(cell)
        key = normalise_header(title)
        if not key:
            if any(index < len(row) and cell_text(row[index]) for row in rows[header_index + 1 :]):
                warnings.append(f"Column {index + 1} has no header; its values were ignored.")
            continue
        if key in seen_headers:
            problems.append(f"columns {seen_headers[key]!r} and {title!r} have the same name")
            continue
        seen_headers[key] = title
        target = HEADER_ALIASES.get(key)
        if target is None:
            attribute_columns[index] = title
        elif target in field_columns:
            first = cell_text(header[field_columns[target]])
            problems.append(f"columns {first!r} and {title!r} both mean {target}")
        else:
            field_columns[target] = index
    if "name" not in field_columns and "sku" not in field_columns:
        problems.append(
            "the file needs a 'name' column (and 'price') for new products, or a 'sku' "
            "column to update existing ones; header found: "
            + ", ".join(repr(cell_text(c)) for c in header)
        )
    if problems:
        raise ValidationFailed("The file's header cannot be used.", details=problems)

    parsed: list[ParsedRow] = []
    errors: list[RowError] = []
    rejected_skus: set[str] = set()
    first_line_of_sku: dict[str, int] = {}
    total = len(rows) - header_index - 1
    data_rows = 0
    attribute_items = list(attribute_columns.items())
    for offset, row in enumerate(rows[header_index + 1 :]):
        line = header_index + 2 + offset
        if progress is not None and offset % PROGRESS_EVERY == 0:
            progress("Checking rows", offset, total)
        if _is_blank(row):
            continue
        data_rows += 1
        values: dict[str, Any] = {}
        reasons: list[str] = []
        for field_name, index in field_columns.items():
            raw = row[index] if index < len(row) else None
            if isinstance(raw, str):
                raw = raw.strip()
                if raw == "":
                    raw = None
            if field_name in ("name", "price") and raw is None:
                reasons.append(f"{field_name} is empty")
                continue
            try:
                values[field_name] = PARSERS[field_name](raw)
            except FieldError as exc:
                reasons.append(str(exc))
        attributes: dict[str, str] = {}
        cleared: list[str] = []
        for index, title in attribute_items:
            text = cell_text(row[index]) if index < len(row) else ""
            if text:
                attributes[title] = text
            else:
                cleared.append(title)
        extra = len(row) - len(header)
        if extra > 0 and any(cell_text(c) for c in row[len(header) :]):
            reasons.append(
                f"has {extra} more cell(s) than the header (a separator inside an unquoted value?)"
            )
        sku = values.get("sku")
        if sku is None and "sku" in field_columns and "sku" not in values:
            # The SKU itself was bad; still remember the raw value for replace mode.
            try:
                sku = parse_sku(
                    row[field_columns["sku"]] if field_columns["sku"] < len(row) else None
                )
            except FieldError:
                sku = None
        if sku is not None and not reasons:
            folded = sku.casefold()
            if folded in first_line_of_sku:
                reasons.append(
                    f"duplicate SKU {sku!r} (already on line {first_line_of_sku[folded]})"
                )
            else:
                first_line_of_sku[folded] = line
        if reasons:
            if sku is not None:
                rejected_skus.add(sku.casefold())
            name = values.get("name", "")
            if not name and "name" in field_columns and field_columns["name"] < len(row):
                name = cell_text(row[field_columns["name"]])
            errors.append(RowError(line=line, reason="; ".join(reasons), sku=sku, name=name[:80]))
            continue
        parsed.append(
            ParsedRow(
                line=line, fields=values, attributes=attributes, cleared_attributes=tuple(cleared)
            )
        )
    if progress is not None:
        progress("Checking rows", total, total)
    return ParsedFile(
        columns=frozenset(field_columns),
        attribute_columns=tuple(attribute_columns.values()),
        rows=parsed,
        errors=errors,
        warnings=warnings,
        total_rows=data_rows,
        rejected_skus=rejected_skus,
    )
