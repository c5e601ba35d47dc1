"""The reading of the rules brain under arbitrary text and a catalog with variants: no
exception whatever the words (a pointer word at the end of a message once raised), spans
never overlap, and every quantity read is a whole number from 1 to 999."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tendero.agent.items import InPlay, resolve
from tendero.agent.nlu.reading import MAX_QUANTITY, read
from tendero.catalog.facets import CatalogFacets, Row

from tests.fuzz.conftest import examples

pytestmark = pytest.mark.filterwarnings("ignore:Surrogate character:RuntimeWarning")

FACETS = CatalogFacets.build(
    [
        Row(1, "Broca para concreto 6 mm", "Brocas", {"medida": "6 mm"}, sku="BRO-6"),
        Row(2, "Broca para concreto 8 mm", "Brocas", {"medida": "8 mm"}, sku="BRO-8"),
        Row(3, 'Tornillo 1/4" x 2"', "Tornillos", {"medida": '1/4" x 2"'}),
        Row(4, "Tenis Urbano Negro 25.5", "Tenis", {"talla": "25.5", "color": "negro"}),
        Row(5, "Playera Roja", "Ropa", {"talla": "M", "color": "rojo"}),
        Row(6, "Café de olla 500 g", "Café", {"peso": "500 g"}),
    ]
)
WORDS = [
    "otro", "otra", "another", "one", "a", "la", "el", "de", "del", "talla", "size", "2",
    "26", "25.5", "1/4", "medio", "kilo", "x3", "2x", "#2", "y", "and", ",", "?", ".",
    "quita", "sin", "swap", "broca", "tenis", "negro", "M", "BRO-6", "CP", "03100",
    "calle", "col.", "int", "4B", "ana@x.com", "55 1234 5678", "min", "años", "cada",
    "uno", "los", "dos", "each", "the", "big", "chica", "\u0000", "\ud800", "👟",
]  # fmt: skip
soup = st.lists(
    st.one_of(st.sampled_from(WORDS), st.text(st.characters(exclude_categories=()), max_size=6)),
    max_size=25,
).map(" ".join)


@settings(max_examples=examples(400))
@given(text=st.one_of(soup, st.text(st.characters(exclude_categories=()), max_size=120)))
@example(text="y otro")
@example(text="another")
def test_any_text_reads_without_error(text: str) -> None:
    reading = read(text, FACETS, in_play=[1, 4], locations=["Centro"])
    spans = sorted(reading.spans, key=lambda s: s.start)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    for quantity in reading.quantities:
        assert isinstance(quantity, int) and 1 <= quantity <= MAX_QUANTITY
    for mention in reading.mentions:
        resolve(mention, FACETS, InPlay(last_list=[1, 2], focus=4, cart=[5]))
