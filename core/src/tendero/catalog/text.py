"""Text folding for product search: accents, case, plural/singular, synonyms.

Every word, from the catalog or from a shopper's message, goes through the same steps so
the two meet: ``fold`` (unidecode + lower case), ``words`` (letters and digits only),
``stem`` (a deliberately crude singular form that maps Spanish and English plurals and
singulars to one string), and ``term_key`` (the synonym group the stem belongs to).
The stem need not be a real word; it only has to be the same for "café", "cafés" and
"cafe", for "luz" and "luces", for "box" and "boxes".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from tendero.catalog.vocabulary import STOPWORDS, SYNONYM_GROUPS
from tendero.text import fold

_WORD_RE = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """The folded words of ``text`` (runs of letters and digits)."""
    return _WORD_RE.findall(fold(text))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A singular-ish form shared by a folded word's Spanish and English plural forms.

    Steps, in order: drop a final ``s`` (not ``ss``); drop a final ``e``; final ``y``
    becomes ``i``; final ``z`` becomes ``c``. Applied to both sides of a match, this
    merges proteinas/proteina, cafes/cafe, boxes/box, luces/luz, cookies/cookie,
    berries/berry, pantalones/pantalon. Words with digits ("2lb", "500ml") and short
    words are kept as they are.
    """
    if not word.isalpha():
        return word
    if len(word) <= 3:
        return word[:-1] + "c" if word.endswith("z") else word  # luz -> luc, like luces
    if word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if len(word) >= 4 and word.endswith("e"):
        word = word[:-1]
    if len(word) >= 4 and word.endswith("y"):
        word = word[:-1] + "i"
    if word.endswith("z"):
        word = word[:-1] + "c"
    return word


def _synonym_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for group in SYNONYM_GROUPS:
        head = stem(fold(group[0]))
        for member in group:
            member_words = words(member)
            if len(member_words) == 1:  # multi-word phrases cannot map to one term
                keys.setdefault(stem(member_words[0]), head)
    return keys


SYNONYM_KEYS: dict[str, str] = _synonym_keys()
"""Stem of every word in :data:`SYNONYM_GROUPS` -> the stem of its group's first word."""

SYNONYM_MEMBERS: dict[str, frozenset[str]] = {}
"""Group key -> every stem in that group (used to widen the typo-tolerant vocabulary)."""
for _stem, _key in SYNONYM_KEYS.items():
    SYNONYM_MEMBERS[_key] = SYNONYM_MEMBERS.get(_key, frozenset()) | {_stem}

_STOP_STEMS: frozenset[str] = frozenset(fold(w) for w in STOPWORDS)


@lru_cache(maxsize=200_000)
def term_key(word: str) -> str:
    """The search key of a folded word: its stem, or its synonym group's key."""
    stemmed = stem(word)
    return SYNONYM_KEYS.get(stemmed, stemmed)


def is_stopword(word: str) -> bool:
    """Whether a folded word carries no product meaning ("tienes", "the", "de")."""
    return word in _STOP_STEMS


def query_words(text: str) -> list[str]:
    """The folded words of a shopper's query, stopwords removed."""
    return [w for w in words(text) if not is_stopword(w)]


def build_search_text(
    *,
    name: str,
    sku: str | None = None,
    category: str = "",
    description: str = "",
    attributes: Mapping[str, str] | None = None,
) -> str:
    """The ``products.search_text`` value: unique folded words of every searchable field.

    Used by the panel's plain substring search; the agent's fuzzy search builds its own
    richer index from the same fields.
    """
    parts: list[str] = [name, sku or "", category, description]
    for key, value in (attributes or {}).items():
        parts.append(str(key))
        parts.append(str(value))
    return " ".join(_unique(w for part in parts for w in words(part)))


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
