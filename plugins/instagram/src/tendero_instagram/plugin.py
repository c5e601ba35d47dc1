"""Hook implementations of the instagram plugin."""

from tendero import hookimpl  # noqa: F401
