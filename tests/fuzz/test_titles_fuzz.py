"""distinct_titles() under arbitrary title sets: every shown title fits and is non-empty,
no two look alike (WhatsApp rejects equal button titles; a customer cannot tell equal
rows apart), titles that already fit are untouched, and in a family of variants the
variant (size, colour, flavour) always shows, at the end of the name or in the middle.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tendero.channels.titles import distinct_titles

from tests.fuzz.conftest import examples

WORDS = [
    "Tenis", "Running", "Negro", "Hombre", "Mujer", "Talla", "Café", "Chiapas", "Tostado",
    "Medio", "Base", "Líquida", "Mate", "Tono", "Pintura", "Vinílica", "Blanco", "Proteína",
    "Whey", "Isolate", "Gold", "Standard", "Running", "Shoes", "Black", "Size", "Coffee",
    "Whole", "Bean", "Liquid", "Foundation", "Shade", "Interior", "Paint", "de", "con", "y",
    "Edición", "Especial", "Aniversario", "Supercalifragilisticoespialidoso",
]  # fmt: skip
VARIANTS = [
    "24", "25", "25.5", "26", "S", "M", "L", "XL", "Azul", "Rojo", "Verde", "Chocolate",
    "Vainilla", "Fresa", "Cookies and Cream", "250 g", "500 g", "1 kg", "1 L", "4 L", "19 L",
    "Ivory", "Sand", "Caramel", "Espresso", "Porcelana", "2 lb", "5 lb",
]  # fmt: skip

word_titles = st.lists(st.sampled_from(WORDS), min_size=0, max_size=9).map(" ".join)
any_titles = st.one_of(word_titles, st.text(max_size=40))
limits = st.one_of(st.sampled_from([20, 24]), st.integers(min_value=8, max_value=72))


def assert_usable(shown: list[str], count: int, limit: int) -> None:
    assert len(shown) == count
    assert all(1 <= len(title) <= limit for title in shown), shown
    assert len({title.casefold() for title in shown}) == count, shown


@settings(max_examples=examples(300))
@given(titles=st.lists(any_titles, min_size=1, max_size=13), limit=limits)
def test_any_titles_fit_and_differ(titles: list[str], limit: int) -> None:
    shown = distinct_titles(titles, limit)
    assert_usable(shown, len(titles), limit)
    normal = [" ".join(title.split()) for title in titles]
    fine = all(1 <= len(t) <= limit for t in normal)
    if fine and len({t.casefold() for t in normal}) == len(normal):
        assert shown == normal


@settings(max_examples=examples(300))
@given(
    head=st.lists(st.sampled_from(WORDS), min_size=1, max_size=6),
    tail=st.lists(st.sampled_from(WORDS), max_size=3),
    variants=st.lists(st.sampled_from(VARIANTS), min_size=2, max_size=13, unique_by=str.casefold),
    limit=st.sampled_from([20, 24]),
)
def test_the_variant_of_a_family_always_shows(
    head: list[str], tail: list[str], variants: list[str], limit: int
) -> None:
    titles = [" ".join([*head, variant, *tail]) for variant in variants]
    shown = distinct_titles(titles, limit)
    assert_usable(shown, len(titles), limit)
    for title, variant in zip(shown, variants, strict=True):
        assert variant in title, (titles, shown)
