"""Tendero plugin: the Facebook Messenger channel."""
