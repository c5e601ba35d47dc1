"""Resolution: which products an item mention means, in the light of the conversation.

The reading (:mod:`tendero.agent.nlu.reading`) says what the customer wrote: product
words, values, a quantity, a pointer. Resolution matches that against the catalog's
facets and what is in play (the last list shown, the product talked about, the cart)
and says how sure it is:

- exactly one product: the decision may act on it;
- several: the decision asks, with the candidates as choices;
- values no candidate has ("del 29" in a model that stops at 28): the decision says so;
- none at all: nothing is touched.

Pure: no database, no I/O. The rules brain turns a resolution into actions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz, process

from tendero.agent.nlu.reading import NEVER_FUZZY, Mention
from tendero.catalog.facets import CatalogFacets
from tendero.catalog.text import is_stopword, stem, term_key

# "anywhere": values alone matched somewhere in the catalog, nothing in play said where:
# shown and asked about, never acted on.
Basis = Literal["index", "pointer", "terms", "values", "anywhere", "focus", "none"]


@dataclass(slots=True)
class Resolution:
    """What one mention resolved to."""

    products: list[int] = field(default_factory=list)  # candidates, best first
    quantity: int | None = None
    # Values the customer asked for that none of the candidates has.
    missing: list[str] = field(default_factory=list)
    # A number read as a value (a size) though it might have been meant as a quantity:
    # the decision asks how many instead of adding.
    number_as_value: int | None = None
    basis: Basis = "none"

    @property
    def one(self) -> int | None:
        return self.products[0] if len(self.products) == 1 and not self.missing else None


@dataclass(slots=True)
class InPlay:
    """What the conversation points at now."""

    last_list: Sequence[int] = ()
    focus: int | None = None
    cart: Sequence[int] = ()


def products_named(terms: Iterable[str], facets: CatalogFacets) -> set[int] | None:
    """The products the words name (None when no word is a catalog word): those that
    have the most of the words in their name or category, typos tolerated on words of
    five letters or more that are not ordinary chat words."""
    sets: list[set[int]] = []
    for word in terms:
        if is_stopword(word):
            continue
        ids = facets.by_stem.get(stem(word)) or facets.by_term.get(term_key(word))
        if ids is None and len(word) >= 5 and word not in NEVER_FUZZY:
            near = _near_term(term_key(word), facets)
            ids = facets.by_term.get(near) if near else None
        if ids:
            sets.append(ids)
    if not sets:
        return None
    counts = Counter(pid for ids in sets for pid in ids)
    best = max(counts.values())
    return {pid for pid, count in counts.items() if count == best}


def _near_term(key: str, facets: CatalogFacets) -> str | None:
    choices = [k for k in facets.by_term if len(k) >= 4]
    found = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=82.0)
    return found[0] if found else None


def _with_values(
    products: Iterable[int], values: Sequence[str], facets: CatalogFacets
) -> tuple[list[int], list[str]]:
    """The products that have every value; and the values none of them has."""
    kept = list(products)
    missing: list[str] = []
    for value in values:
        if value.startswith("rel:"):
            kept = _extreme(kept, value == "rel:big", facets)
            continue
        having = [pid for pid in kept if facets.has_value(pid, value)]
        if not having and value in _SIZE_AS_RELATIVE:
            # "la grande" among products sold by weight: the biggest of them.
            extreme = _extreme(kept, _SIZE_AS_RELATIVE[value], facets)
            if len(extreme) < len(kept):
                kept = extreme
                continue
        if having:
            kept = having
        else:
            missing.append(value)
    return kept, missing


_SIZE_AS_RELATIVE = {"size:L": True, "size:XL": True, "size:S": False, "size:XS": False}
_SIZE_ORDER = {"XS": 0, "S": 1, "M": 2, "L": 3, "XL": 4, "XXL": 5, "XXXL": 6}


def _magnitude(product_id: int, facets: CatalogFacets) -> float | None:
    """How big a product is by its measure, numeric or clothing-size values (None: no
    such value)."""
    product = facets.products.get(product_id)
    amounts = []
    for key in product.values.values() if product else ():
        unit, _, amount = key.partition(":")
        if unit == "size" and amount in _SIZE_ORDER:
            amounts.append(float(_SIZE_ORDER[amount]))
        elif amount and unit != "size":
            try:
                amounts.append(float(amount))
            except ValueError:
                continue
    return max(amounts) if amounts else None


def _extreme(products: list[int], biggest: bool, facets: CatalogFacets) -> list[int]:
    """The biggest (or smallest) of ``products`` when their sizes differ; else all.
    Only within one family: the smallest of a dog food and a cat food is a guess."""
    if len({facets.products[p].family for p in products if p in facets.products}) > 1:
        return products
    sized = [(m, pid) for pid in products if (m := _magnitude(pid, facets)) is not None]
    if len({m for m, _ in sized}) < 2:
        return products
    target = max(m for m, _ in sized) if biggest else min(m for m, _ in sized)
    return [pid for m, pid in sized if m == target]


def resolve(mention: Mention, facets: CatalogFacets, in_play: InPlay) -> Resolution:
    """Resolve ``mention`` (see the module doc)."""
    quantity = mention.quantity
    if mention.product is not None:
        return Resolution([mention.product], quantity, basis="index")
    if mention.index is not None:
        listed = list(in_play.last_list)
        position = mention.index - 1 if mention.index > 0 else len(listed) + mention.index
        if 0 <= position < len(listed):
            return Resolution([listed[position]], quantity, basis="index")
        return Resolution([], quantity, basis="index")
    if mention.terms:
        named = products_named(mention.terms, facets)
        if named:
            # "pa concreto, dame 2" right after a list: among the products listed
            listed = named & set(in_play.last_list)
            ordered = _ordered(listed or named, in_play)
            return _narrow(ordered, mention, quantity, facets, "terms")
    if mention.values or mention.numbers:
        for base in _bases(in_play, facets):
            kept, missing = _with_values(base, mention.values, facets)
            if kept and not missing:
                return _narrow(kept, mention, quantity, facets, "values", applied=True)
        real = [v for v in mention.values if not v.startswith("rel:")]
        everywhere = set().union(*(facets.by_value.get(v, set()) for v in real[:1]))
        if everywhere:
            return _narrow(_ordered(everywhere, in_play), mention, quantity, facets, "anywhere")
        if in_play.focus is not None and mention.values:
            # "¿y del 29?" about a product that has no 29: say so.
            family = facets.family_of(in_play.focus)
            _, missing = _with_values(family, mention.values, facets)
            return Resolution(family, quantity, missing=missing, basis="values")
    if mention.pointer or (quantity is not None and not mention.terms):
        if in_play.focus is not None:
            return Resolution([in_play.focus], quantity, basis="focus")
        if len(in_play.last_list) == 1:
            return Resolution([in_play.last_list[0]], quantity, basis="focus")
    return Resolution([], quantity)


def _bases(in_play: InPlay, facets: CatalogFacets) -> list[list[int]]:
    """Where values alone point, nearest first: the last list, the product talked
    about and its family, the cart's families."""
    bases: list[list[int]] = []
    if in_play.last_list:
        bases.append(list(in_play.last_list))
    if in_play.focus is not None:
        bases.append(facets.family_of(in_play.focus))
    for pid in reversed(list(in_play.cart)):
        bases.append(facets.family_of(pid))
    return bases


def _ordered(products: Iterable[int], in_play: InPlay) -> list[int]:
    """Products in a stable order: those of the last list first, in its order."""
    listed = {pid: n for n, pid in enumerate(in_play.last_list)}
    return sorted(products, key=lambda pid: (listed.get(pid, len(listed)), pid))


def _narrow(
    products: list[int],
    mention: Mention,
    quantity: int | None,
    facets: CatalogFacets,
    basis: Basis,
    *,
    applied: bool = False,
) -> Resolution:
    """Narrow ``products`` by the mention's values (unless ``applied`` already) and its
    numbers that are values of them."""
    kept, missing = (products, []) if applied else _with_values(products, mention.values, facets)
    number_as_value = None
    for number in mention.numbers:
        keys = {f"n:{number}", *facets.written.get(str(number), ())}
        having = [pid for pid in kept if any(facets.has_value(pid, key) for key in keys)]
        if (having and len(having) < len(kept)) or (having and quantity is None and len(kept) == 1):
            kept = having
            if quantity is None:  # "concealer 330": the 330; how many, if not said, asked
                number_as_value = number
        elif quantity is None and not having:
            quantity = number  # not a value of these products: how many
    if missing:
        return Resolution(kept, quantity, missing=missing, basis=basis)
    return Resolution(kept, quantity, number_as_value=number_as_value, basis=basis)
