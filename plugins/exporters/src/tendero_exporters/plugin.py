"""Hook implementations of the exporters plugin."""

from tendero import hookimpl  # noqa: F401
