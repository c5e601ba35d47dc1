"""Hook implementations of the facebook plugin."""

from tendero import hookimpl  # noqa: F401
