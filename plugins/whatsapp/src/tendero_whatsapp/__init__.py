"""Tendero plugin: whatsapp."""
