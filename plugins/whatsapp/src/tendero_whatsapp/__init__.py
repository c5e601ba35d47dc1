"""Tendero plugin: the WhatsApp Cloud API channel."""
