"""Text folding shared by catalog search and the Orders page search."""

from __future__ import annotations

from unidecode import unidecode


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced text: "Proteína  CAFÉ" -> "proteina cafe"."""
    ascii_text = text if text.isascii() else unidecode(text)
    return " ".join(ascii_text.lower().split())
