"""Tendero plugin: instagram."""
