"""A plugin implementing a hook Tendero does not define (a typo of register_exporters)."""

from tendero import hookimpl


@hookimpl
def register_exporter() -> list[object]:
    return []
