"""Tendero plugin: the merchant web panel."""
