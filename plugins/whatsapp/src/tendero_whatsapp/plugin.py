"""Hook implementations of the whatsapp plugin."""

from tendero import hookimpl  # noqa: F401
