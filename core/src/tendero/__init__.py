"""Tendero: a self-hostable AI sales agent for shops that sell through chat.

Plugins import the hook marker from here::

    from tendero import hookimpl

    @hookimpl
    def register_exporters():
        return [MyExporter()]
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

PROJECT_NAME = "tendero"
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

try:
    __version__ = version("tendero")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["PROJECT_NAME", "__version__", "hookimpl"]
