"""The built-in product search: an in-memory index over the active catalog.

How a query is answered:

1. Whole query or any word of it equal to a SKU (case-insensitive): that product first.
2. The query's words lose stopwords ("do you have", "tienes", "the"), then each becomes a
   search key (:func:`tendero.catalog.text.term_key`: folded, singular-ish, synonym group
   key), so "proteínas", "proteina" and "protein" are one key.
3. A key that no product has is looked up with typo tolerance (rapidfuzz ratio against
   the catalog's own vocabulary, with a cutoff that grows stricter for short words, and
   prefixes of at least four letters: "chocolte" -> chocolate, "prote" -> proteína).
   A word that still matches nothing is ignored, and a query whose words all match
   nothing returns no product (never random ones).
4. Products are scored per key by where the key appears (name and SKU weigh most, then
   category and attribute values, then description) and by match quality (exact > typo).
   Only products matching the largest number of the query's keys are kept ("chocolate
   protein" shows chocolate proteins, not every chocolate bar), ranked exact name match
   first, then by score, then shorter names.

The index is built from plain rows and is immutable; the service rebuilds it when the
catalog version changes (see :mod:`tendero.catalog.service`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from tendero.catalog.text import SYNONYM_MEMBERS, is_stopword, stem, term_key, words

# Where a key appears -> how much it says about the product.
WEIGHT_NAME = 1.0
WEIGHT_SKU = 1.0
WEIGHT_CATEGORY = 0.8
WEIGHT_ATTRIBUTE = 0.8
WEIGHT_ATTRIBUTE_NAME = 0.3
WEIGHT_DESCRIPTION = 0.5

QUALITY_PREFIX = 0.8
HEAD_BONUS = 0.1
MIN_PREFIX = 4
# Products scoring below this (per query key) are left out even when they match.
MIN_SCORE_PER_KEY = 0.25

_SKU_STRIP = re.compile(r"^[\s\"'¿¡#(\[]+|[\s\"'?!.,;:)\]]+$")


@dataclass(frozen=True, slots=True)
class IndexRow:
    """What the index needs from one active product."""

    id: int
    sku: str | None
    name: str
    category: str
    description: str
    attributes: Mapping[str, str]


def typo_cutoff(word: str) -> float | None:
    """Minimum rapidfuzz ratio for a typo match of a stem of this length (None: exact only)."""
    n = len(word)
    if n <= 3 or not word.isalpha():
        return None
    if n == 4:
        return 85.0
    if n <= 6:
        return 80.0
    return 77.0


class SearchIndex:
    """An immutable search index over active products (see the module docstring)."""

    def __init__(self, rows: Iterable[IndexRow]) -> None:
        self.postings: dict[str, dict[int, float]] = {}
        self.skus: dict[str, int] = {}
        self.name_keys: dict[int, frozenset[str]] = {}
        # The first word of a name is usually what the product is ("Proteína Whey ...",
        # "Barra de proteína"): a small bonus when the query names it.
        self.head_key: dict[int, str] = {}
        surfaces: dict[str, str] = {}  # stem -> key, for typo and prefix matching
        for row in rows:
            weights: dict[str, float] = {}

            def add(text: str, weight: float, weights: dict[str, float] = weights) -> None:
                for word in words(text):
                    if is_stopword(word):
                        continue
                    key = term_key(word)
                    if word.isalpha():  # codes and sizes ("2lb") match exactly only
                        surfaces.setdefault(stem(word), key)
                    if weights.get(key, 0.0) < weight:
                        weights[key] = weight

            add(row.description, WEIGHT_DESCRIPTION)
            for attr_name, value in row.attributes.items():
                add(str(attr_name), WEIGHT_ATTRIBUTE_NAME)
                add(str(value), WEIGHT_ATTRIBUTE)
            add(row.category, WEIGHT_CATEGORY)
            if row.sku:
                add(row.sku, WEIGHT_SKU)
                self.skus.setdefault(row.sku.casefold(), row.id)
            add(row.name, WEIGHT_NAME)
            name_keys = [term_key(w) for w in words(row.name) if not is_stopword(w)]
            self.name_keys[row.id] = frozenset(name_keys)
            if name_keys:
                self.head_key[row.id] = name_keys[0]
            for key, weight in weights.items():
                self.postings.setdefault(key, {})[row.id] = weight
        # Every spelling of a synonym group the catalog uses is a valid typo target:
        # "vanila" should find "vainilla" products through "vanilla" too.
        for key in list(self.postings):
            for member in SYNONYM_MEMBERS.get(key, ()):
                surfaces.setdefault(member, key)
        self.surfaces = surfaces
        self._surface_list = list(surfaces)

    def __len__(self) -> int:
        return len(self.name_keys)

    def sku_matches(self, query: str) -> list[int]:
        """Products whose SKU is the whole query or one of its space-separated parts."""
        found: list[int] = []
        candidates = [query, *query.split()]
        for candidate in candidates:
            sku = _SKU_STRIP.sub("", candidate).casefold()
            product_id = self.skus.get(sku)
            if product_id is not None and product_id not in found:
                found.append(product_id)
        return found

    def resolve(self, word: str) -> dict[str, float]:
        """The keys a folded query word may mean, each with a match quality in (0, 1]."""
        key = term_key(word)
        if key in self.postings:
            return {key: 1.0}
        stemmed = stem(word)
        matches: dict[str, float] = {}
        cutoff = typo_cutoff(stemmed)
        if cutoff is not None:
            for surface, score, _ in process.extract(
                stemmed, self._surface_list, scorer=fuzz.ratio, score_cutoff=cutoff, limit=5
            ):
                target = self.surfaces[surface]
                quality = 0.5 + 0.5 * (score - cutoff) / (100.0 - cutoff)
                matches[target] = max(matches.get(target, 0.0), quality * 0.95)
        if len(stemmed) >= MIN_PREFIX and stemmed.isalpha() and not matches:
            for surface in self._surface_list:
                if surface.startswith(stemmed):
                    target = self.surfaces[surface]
                    matches[target] = max(matches.get(target, 0.0), QUALITY_PREFIX)
        return matches

    def search(self, query: str, limit: int = 10) -> list[int]:
        """Ids of the best products for ``query``, best first, at most ``limit``."""
        if limit <= 0 or not query.strip():
            return []
        exact_sku = self.sku_matches(query)
        groups: list[dict[str, float]] = []
        seen_keys: set[str] = set()
        exact_keys: set[str] = set()
        for word in words(query):
            if is_stopword(word):
                continue
            key = term_key(word)
            if key in seen_keys:
                continue
            seen_keys.add(key)
            resolved = self.resolve(word)
            if resolved:
                groups.append(resolved)
                if resolved.get(key) == 1.0:
                    exact_keys.add(key)
        scored: dict[int, tuple[int, float]] = {}
        for group in groups:
            best: dict[int, float] = {}
            for key, quality in group.items():
                for product_id, weight in self.postings.get(key, {}).items():
                    value = quality * weight
                    if value > best.get(product_id, 0.0):
                        best[product_id] = value
            for product_id, value in best.items():
                if self.head_key.get(product_id) in group:
                    value += HEAD_BONUS
                count, score = scored.get(product_id, (0, 0.0))
                scored[product_id] = (count + 1, score + value)
        ranked: list[int] = list(exact_sku)
        if scored:
            most = max(count for count, _ in scored.values())
            floor = MIN_SCORE_PER_KEY * len(groups)
            keep = [
                pid
                for pid, (count, score) in scored.items()
                if count == most and score >= floor and pid not in exact_sku
            ]
            keep.sort(
                key=lambda pid: (
                    0 if exact_keys and self.name_keys[pid] == exact_keys else 1,
                    -scored[pid][1],
                    len(self.name_keys[pid]),
                    pid,
                )
            )
            ranked.extend(keep)
        return ranked[:limit]
