"""Tendero plugin: the order exporters (CSV, XLSX, JSON lines).

Each exporter streams orders into a binary writer; see :mod:`tendero.exporting` for the
interface and :mod:`tendero_exporters.columns` for the columns CSV and XLSX share.
"""
