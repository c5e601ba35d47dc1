"""Tendero plugin: facebook."""
