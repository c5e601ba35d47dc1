"""What a merchant's own catalog says about its products: families and attribute values.

Search engines read "black boots 27" as a product type plus facet values (type = boots,
colour = black, size = 27). This module derives those facets from the catalog itself, so
a new catalog with other attributes needs no code change:

- **Values** come from the extra CSV columns (``attributes``) and from the names: a
  measure ("500 g", "1/2\"", "2 lb", "1 l"), a clothing size (S/M/L/XL, chica, grande) or
  any other attribute word ("negro", "vainilla", "en grano"). Each value has a *key* that
  spellings share: ``g:500`` for "500 g", "500gr" and "medio kilo"; ``size:L`` for "L",
  "grande" and "large"; the synonym key of the words otherwise ("black" = "negra").
- A **family** is the set of products whose names share the same words once the values
  are taken out ("Tenis Running Flex Negro 26" and "... Blanco 25" are one family). Inside
  a family, a number equal to one of its values is that value, not a quantity.

Everything here is pure and built once per catalog version (the search index's cache
holds it). :func:`value_key` and :func:`parse_measure` also read shoppers' words.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from tendero.catalog.text import is_stopword, stem, term_key, words
from tendero.text import fold

# Units as customers and catalogs write them -> (dimension, factor to the base unit).
# Base units: g (mass), ml (volume), mm (length), oz (imperial mass), floz, in, gal.
# Pounds are kept in ounces so "1 lb" = "16 oz"; metric and imperial are never mixed
# (a catalog sells "2 lb" or "907 g", and a shopper names what it sells).
UNITS: dict[str, tuple[str, Fraction]] = {
    **dict.fromkeys(("g", "gr", "grs", "gramo", "gramos", "gram", "grams"), ("g", Fraction(1))),
    **dict.fromkeys(
        ("kg", "kgs", "kilo", "kilos", "kilogramo", "kilogramos", "kilogram", "kilograms"),
        ("g", Fraction(1000)),
    ),
    **dict.fromkeys(("mg",), ("g", Fraction(1, 1000))),
    **dict.fromkeys(("ml", "mililitro", "mililitros", "milliliter", "milliliters"), ("ml", Fraction(1))),
    **dict.fromkeys(
        ("l", "lt", "lts", "litro", "litros", "liter", "liters", "litre", "litres"),
        ("ml", Fraction(1000)),
    ),
    **dict.fromkeys(("mm", "milimetro", "milimetros", "millimeter", "millimeters"), ("mm", Fraction(1))),
    **dict.fromkeys(("cm", "centimetro", "centimetros", "centimeter", "centimeters"), ("mm", Fraction(10))),
    **dict.fromkeys(("m", "mts", "mt", "metro", "metros", "meter", "meters"), ("mm", Fraction(1000))),
    **dict.fromkeys(("in", "inch", "inches", "pulgada", "pulgadas", "pulg", '"'), ("in", Fraction(1))),
    **dict.fromkeys(("ft", "foot", "feet", "pie", "pies"), ("in", Fraction(12))),
    **dict.fromkeys(("oz", "onza", "onzas", "ounce", "ounces"), ("oz", Fraction(1))),
    **dict.fromkeys(("lb", "lbs", "libra", "libras", "pound", "pounds"), ("oz", Fraction(16))),
    **dict.fromkeys(("floz",), ("floz", Fraction(1))),
    **dict.fromkeys(("gal", "galon", "galones", "gallon", "gallons"), ("gal", Fraction(1))),
}  # fmt: skip
# Words that stand for an amount before a unit: "medio kilo", "un cuarto de litro".
_AMOUNT_WORDS: dict[str, Fraction] = {
    "medio": Fraction(1, 2), "media": Fraction(1, 2), "half": Fraction(1, 2),
    "cuarto": Fraction(1, 4), "quarter": Fraction(1, 4), "un": Fraction(1), "una": Fraction(1),
    "uno": Fraction(1), "one": Fraction(1), "a": Fraction(1), "dos": Fraction(2),
    "two": Fraction(2), "tres": Fraction(3), "three": Fraction(3), "cinco": Fraction(5),
    "five": Fraction(5), "diez": Fraction(10), "ten": Fraction(10),
}  # fmt: skip
_NUMBER = r"(?:\d+\s+\d+/\d+|\d+/\d+|\d+(?:[.,]\d+)?)"
# "in" alone is a word too ("1 in 23"): inches are read from '"', "inch", "pulgada".
_UNIT_ALT = "|".join(
    sorted((re.escape(u) for u in UNITS if u not in ('"', "in")), key=len, reverse=True)
)
# "500 g", "500gr", "1.5 l", "1/2\"", "3/4 pulgada", "2 lb", "1.7 fl oz", "5 gal"
MEASURE_RE = re.compile(
    rf"(?<![\w/.,])(?P<num>{_NUMBER})\s*(?:(?P<fl>fl\.?\s*oz)|(?P<unit>{_UNIT_ALT})\b\.?|(?P<inch>\"|''|”|pulg\b))",
    re.IGNORECASE,
)
# "medio kilo", "un cuarto de kilo", "un litro", "half a pound", "a quarter pound"
SPOKEN_MEASURE_RE = re.compile(
    r"(?<!\w)(?P<amount>medio|media|un\s+cuarto(?:\s+de)?|cuarto\s+de|un|una|half\s+a|half|a\s+quarter|quarter|a|one|dos|two|tres|three|cinco|five|diez|ten)"
    r"\s+(?P<unit>kilo|kilos|kg|litro|litros|liter|litre|pound|pounds|lb|libra|libras|galon|galones|gallon|gallons|pulgada|pulgadas|inch|metro|metros|meter)\b",
    re.IGNORECASE,
)

# Clothing sizes: every spelling -> its letter. Single letters count only where a
# catalog sells that letter as a size (see CatalogFacets.size_letters).
SIZE_WORDS: dict[str, str] = {
    "xs": "XS", "extra chica": "XS", "extra chico": "XS", "extra small": "XS",
    "s": "S", "ch": "S", "chica": "S", "chico": "S", "small": "S", "pequena": "S",
    "pequeno": "S", "m": "M", "med": "M", "mediana": "M", "mediano": "M", "medium": "M",
    "l": "L", "g": "L", "grande": "L", "large": "L", "xl": "XL", "extra grande": "XL",
    "extragrande": "XL", "extra large": "XL", "eg": "XL", "xxl": "XXL", "2xl": "XXL",
    "xxxl": "XXXL", "3xl": "XXXL", "unitalla": "ONE", "unica": "ONE",
    "chicas": "S", "chicos": "S", "pequenas": "S", "pequenos": "S", "medianas": "M",
    "medianos": "M", "grandes": "L", "extra grandes": "XL",
}  # fmt: skip
SINGLE_LETTER_SIZES = frozenset({"s", "m", "l", "g"})


@dataclass(frozen=True, slots=True)
class Measure:
    """An amount with a unit, in the unit's base: ``Measure("g", 500)``."""

    unit: str  # g, ml, mm, oz, floz, in, gal
    amount: Fraction

    @property
    def key(self) -> str:
        amount = self.amount
        text = str(amount.numerator) if amount.denominator == 1 else f"{float(amount):g}"
        return f"{self.unit}:{text}"


def _number(text: str) -> Fraction | None:
    text = text.strip().replace(",", ".")
    try:
        if " " in text:
            whole, frac = text.split(None, 1)
            return Fraction(int(whole)) + Fraction(frac)
        if "/" in text:
            return Fraction(text)
        return Fraction(Decimal(text))
    except (ValueError, ZeroDivisionError, InvalidOperation):
        return None


def measure_of(number: str, unit: str) -> Measure | None:
    """The measure of a number and a unit as written ("1/2", "pulgadas")."""
    amount = _number(number)
    spec = UNITS.get(fold(unit).strip(". "))
    if amount is None or spec is None or amount <= 0:
        return None
    base, factor = spec
    return Measure(base, amount * factor)


def _spoken_amount(words_: str) -> Fraction:
    first = fold(words_).split()
    if "cuarto" in first or "quarter" in first:
        return Fraction(1, 4)
    return _AMOUNT_WORDS.get(first[0], Fraction(1))


@dataclass(frozen=True, slots=True)
class MeasureSpan:
    start: int
    end: int
    measure: Measure


def find_measures(text: str) -> list[MeasureSpan]:
    """Every measure written in ``text``, with its character span, left to right."""
    found: list[MeasureSpan] = []
    for match in MEASURE_RE.finditer(text):
        if match.group("fl"):
            amount = _number(match.group("num"))
            measure = Measure("floz", amount) if amount else None
        else:
            unit = match.group("unit") or '"'
            measure = measure_of(match.group("num"), unit)
        if measure is not None:
            found.append(MeasureSpan(match.start(), match.end(), measure))
    taken = [(m.start, m.end) for m in found]
    for match in SPOKEN_MEASURE_RE.finditer(text):
        if any(s < match.end() and match.start() < e for s, e in taken):
            continue
        spec = UNITS.get(fold(match.group("unit")))
        if spec is None:
            continue
        base, factor = spec
        amount = _spoken_amount(match.group("amount")) * factor
        found.append(MeasureSpan(match.start(), match.end(), Measure(base, amount)))
    return sorted(found, key=lambda m: m.start)


def parse_measure(text: str) -> Measure | None:
    """The measure that ``text`` is, when it is one and little else ("500 g", "1 kg")."""
    spans = find_measures(text)
    if len(spans) != 1:
        return None
    rest = (text[: spans[0].start] + text[spans[0].end :]).strip(" .,-/()")
    return spans[0].measure if not rest else None


def size_key(text: str) -> str | None:
    """``size:M`` for "M", "mediana", "medium"; None for anything else."""
    letter = SIZE_WORDS.get(" ".join(words(text)))
    return f"size:{letter}" if letter else None


def value_key(text: str) -> str:
    """The key every spelling of an attribute value shares (see the module doc)."""
    measure = parse_measure(text)
    if measure is not None:
        return measure.key
    size = size_key(text)
    if size is not None:
        return size
    folded = words(text)
    if len(folded) == 1 and folded[0].isdigit():
        return f"n:{int(folded[0])}"
    if folded and all(re.fullmatch(r"\d+(?:[.]\d+)?", w) for w in re.findall(r"[\d.]+", text)):
        number = re.fullmatch(r"\s*(\d+(?:[.,]\d+)?)\s*", text)
        if number:
            return f"n:{number.group(1).replace(',', '.')}"
    return " ".join(term_key(w) for w in folded if not is_stopword(w)) or " ".join(folded)


@dataclass(slots=True)
class ProductFacets:
    """One product as facets: its family words and its values (attribute -> key)."""

    id: int
    name: str
    family: str
    terms: frozenset[str]  # term keys of the name words that are not values
    values: dict[str, str]  # attribute name -> value key
    value_texts: dict[str, str]  # attribute name -> the value as the catalog writes it


@dataclass(slots=True)
class CatalogFacets:
    """Families and values of a whole catalog (build with :meth:`build`)."""

    products: dict[int, ProductFacets] = field(default_factory=dict)
    families: dict[str, list[int]] = field(default_factory=dict)
    # value key -> products that have it (in any attribute)
    by_value: dict[str, set[int]] = field(default_factory=dict)
    # folded phrase as written in the catalog (and its synonyms) -> value key
    value_phrases: dict[str, str] = field(default_factory=dict)
    size_letters: frozenset[str] = frozenset()  # letters sold as sizes ("s", "m", "l")
    # term key -> products whose name or category has it
    by_term: dict[str, set[int]] = field(default_factory=dict)
    # the same by the word itself (its stem), before synonyms: where a shoe shop sells
    # both "tenis" and "zapatos", the two words name different products
    by_stem: dict[str, set[int]] = field(default_factory=dict)
    # value key -> the attributes it is a value of ("n:26" -> {"talla"})
    attr_of: dict[str, set[str]] = field(default_factory=dict)
    skus: dict[str, int] = field(default_factory=dict)  # folded SKU -> product
    # a number as the catalog writes it in a value ("30" of "30 lb", "1/4" of 1/4",
    # "13" of "13 piezas") -> the value keys it is part of
    written: dict[str, set[str]] = field(default_factory=dict)
    # term keys of the first word of names and categories: what products are
    # ("botella" of "Botella de agua"; not "pares" of "Calcetas 3 pares")
    heads: set[str] = field(default_factory=set)
    # values that are one whole word of a column ("bag", "negro"), not a word inside one
    # ("pzas" of "caja 12 pzas")
    one_word: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, rows: Iterable[Row]) -> CatalogFacets:
        facets = cls()
        letters: set[str] = set()
        for row in rows:
            values: dict[str, str] = {}
            texts: dict[str, str] = {}
            for attr, raw in (row.attributes or {}).items():
                raw = str(raw).strip()
                if not raw:
                    continue
                key = value_key(raw)
                values[str(attr)] = key
                texts[str(attr)] = raw
                facets._phrase(raw, key)
                if len(words(raw)) == 1:
                    facets.one_word.add(key)
                measures = find_measures(raw)
                if len(measures) > 1 or (measures and ":" not in key):
                    # '1/4" x 2"', "bolsa 15 lb": each measure is a value of it too
                    for n, span in enumerate(measures):
                        values[f"{attr}#{n}"] = span.measure.key
                        texts[f"{attr}#{n}"] = raw[span.start : span.end]
                if key.startswith("size:") and len(words(raw)) == 1 and len(words(raw)[0]) == 1:
                    letters.add(words(raw)[0])
            name_values, rest = _values_in_name(row.name)
            for index, (key, raw) in enumerate(name_values):
                if key not in values.values():
                    values[f"_name{index}"] = key
                    texts[f"_name{index}"] = raw
                facets._phrase(raw, key)
            value_words = {
                term_key(w) for raw in texts.values() for w in words(raw) if not w.isdigit()
            }
            terms = frozenset(
                term_key(w)
                for w in words(rest)
                if not is_stopword(w) and not w.isdigit() and term_key(w) not in value_words
            )
            family = " ".join(sorted(terms)) or fold(row.name)
            facets.products[row.id] = ProductFacets(row.id, row.name, family, terms, values, texts)
            sku = getattr(row, "sku", None)
            if sku:
                facets.skus[fold(sku).strip()] = row.id
            facets.families.setdefault(family, []).append(row.id)
            for attr, key in values.items():
                for each in {key, *(key.split() if ":" not in key else ())}:
                    facets.by_value.setdefault(each, set()).add(row.id)
                    facets.attr_of.setdefault(each, set()).add(_attr_kind(attr, key))
            name_words = words(row.name)
            for head in (name_words[:1], words(row.category or "")[:1]):
                facets.heads.update(term_key(w) for w in head if w.isalpha())
            for w in [*name_words, *words(row.category or "")]:
                if not is_stopword(w) and not w.isdigit():
                    facets.by_term.setdefault(term_key(w), set()).add(row.id)
                    facets.by_stem.setdefault(stem(w), set()).add(row.id)
            for a, b in itertools.pairwise(name_words):
                if a.isalpha() and b.isalpha():  # "Pre-entreno" as "preentreno"
                    facets.by_term.setdefault(term_key(a + b), set()).add(row.id)
        facets.size_letters = frozenset(letters)
        return facets

    def _phrase(self, raw: str, key: str) -> None:
        for number in re.findall(r"\d+(?:[.,]\d+)?(?:/\d+)?", raw):
            self.written.setdefault(number.replace(",", "."), set()).add(key)
        phrase = " ".join(words(raw))
        if phrase:
            self.value_phrases.setdefault(phrase, key)
        parts = [w for w in words(raw) if not is_stopword(w) and not w.isdigit() and len(w) > 2]
        if len(parts) > 1 and ":" not in key:
            # "azul" alone names the "azul marino" products (has_value matches words)
            for part in parts:
                self.value_phrases.setdefault(part, term_key(part))

    def family_of(self, product_id: int) -> list[int]:
        """The products of ``product_id``'s family (itself included)."""
        product = self.products.get(product_id)
        return self.families.get(product.family, [product_id]) if product else []

    def differing(self, product_ids: Iterable[int]) -> dict[str, set[str]]:
        """Attribute name -> the distinct values among ``product_ids`` (only attributes
        that tell them apart)."""
        seen: dict[str, set[str]] = {}
        ids = [i for i in product_ids if i in self.products]
        for pid in ids:
            for attr, key in self.products[pid].values.items():
                seen.setdefault(attr, set()).add(key)
        return {attr: keys for attr, keys in seen.items() if len(keys) > 1}

    def has_value(self, product_id: int, key: str) -> bool:
        product = self.products.get(product_id)
        if product is None:
            return False
        if key in product.values.values():
            return True
        # "negro" asked, "Negro mate" sold: every word of the asked value is in one value
        wanted = set(key.split())
        return any(wanted <= set(v.split()) for v in product.values.values())

    def numbers_of(self, product_ids: Iterable[int]) -> set[str]:
        """The plain-number value keys (``n:26``) of these products."""
        out: set[str] = set()
        for pid in product_ids:
            product = self.products.get(pid)
            if product:
                out.update(v for v in product.values.values() if v.startswith("n:"))
        return out

    def same_attribute(self, a: str, b: str) -> bool:
        """Whether two value keys are values of one attribute (two colours, two sizes)."""
        return bool(self.attr_of.get(a, set()) & self.attr_of.get(b, set()))


@dataclass(frozen=True, slots=True)
class Row:
    """What facets need of a product (the search index's row has these fields)."""

    id: int
    name: str
    category: str = ""
    attributes: Mapping[str, str] | None = None
    sku: str | None = None


def _attr_kind(attr: str, key: str) -> str:
    """The attribute a value belongs to, for telling two values of one attribute apart:
    the column's name, or for values read from a name, the kind of value."""
    if not attr.startswith("_name"):
        return fold(attr)
    return key.split(":", 1)[0] if ":" in key else "word"


def _values_in_name(name: str) -> tuple[list[tuple[str, str]], str]:
    """The measures and sizes written in a product name, and the name without them."""
    found: list[tuple[str, str]] = []
    rest = name
    for span in reversed(find_measures(name)):
        found.append((span.measure.key, name[span.start : span.end]))
        rest = rest[: span.start] + " " + rest[span.end :]
    for word in re.findall(r"[^\W_]+", rest):
        key = size_key(word)
        if key is not None and fold(word) not in SINGLE_LETTER_SIZES | {"g"}:
            found.append((key, word))
    return found, rest
