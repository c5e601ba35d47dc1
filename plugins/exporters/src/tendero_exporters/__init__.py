"""Tendero plugin: exporters."""
