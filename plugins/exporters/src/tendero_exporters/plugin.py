"""Hook implementations of the exporters plugin."""

from __future__ import annotations

from tendero import hookimpl

from tendero_exporters.csv_exporter import CsvExporter
from tendero_exporters.json_exporter import JsonLinesExporter
from tendero_exporters.xlsx_exporter import XlsxExporter


@hookimpl
def register_exporters() -> list[object]:
    """The built-in exporters: ``csv``, ``xlsx`` and ``json`` (JSON lines)."""
    return [CsvExporter(), XlsxExporter(), JsonLinesExporter()]
