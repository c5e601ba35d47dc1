"""The ``core`` plugin: Tendero's own hook implementations, registered like any other."""

from __future__ import annotations

from typing import Any

from tendero import hookimpl


@hookimpl
def search_products(query: str, limit: int, catalog: Any) -> Any:
    """The built-in fuzzy search (typos, accents, singular/plural, es/en forms)."""
    return catalog.fuzzy_search(query, limit=limit)
