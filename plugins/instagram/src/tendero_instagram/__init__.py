"""Tendero plugin: the Instagram Direct channel."""
