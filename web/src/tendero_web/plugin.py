"""Hook implementations of the web panel plugin."""

from tendero import hookimpl  # noqa: F401
