"""The reading of one message (tendero.agent.nlu.reading) and its resolution against a
catalog's facets (tendero.agent.items): pure functions, no database.

Each catalog here is a few rows of a trade the demo store does not have, with variant
attributes in extra columns, the way a merchant's CSV has them."""

from __future__ import annotations

import itertools

import pytest
from tendero.agent.items import InPlay, resolve
from tendero.agent.nlu.reading import Reading, read
from tendero.catalog.facets import CatalogFacets, Row

SOAPS = CatalogFacets.build(
    [
        Row(1, "Jabón de avena 100 g", "Jabones", {"peso": "100 g", "aroma": "avena"}),
        Row(2, "Jabón de avena 200 g", "Jabones", {"peso": "200 g", "aroma": "avena"}),
        Row(3, "Jabón de lavanda 100 g", "Jabones", {"peso": "100 g", "aroma": "lavanda"}),
        Row(4, "Llavero de madera", "Accesorios", {}),
        Row(5, "Café de olla 500 g", "Café", {"peso": "500 g"}, sku="CAF-500"),
        Row(6, "Café de olla 1 kg", "Café", {"peso": "1 kg"}, sku="CAF-1K"),
    ]
)
SHOES = CatalogFacets.build(
    [
        Row(10 + n, f"Tenis Urbano {color} {size}", "Tenis", {"talla": size, "color": color})
        for n, (color, size) in enumerate(
            [(c, s) for c in ("Blanco", "Negro") for s in ("24", "25", "25.5", "26")]
        )
    ]
    + [
        Row(30, "Playera Básica Roja", "Ropa", {"talla": "S", "color": "rojo"}),
        Row(31, "Playera Básica Roja", "Ropa", {"talla": "M", "color": "rojo"}),
        Row(32, "Playera Básica Azul", "Ropa", {"talla": "M", "color": "azul"}),
    ]
)


def items(reading: Reading) -> list[tuple[int | None, list[str], list[str]]]:
    return [(m.quantity, m.terms, sorted(m.values)) for m in reading.mentions]


def names(facets: CatalogFacets, ids: list[int]) -> list[str]:
    return [facets.products[i].name for i in ids]


def test_a_size_is_not_a_quantity() -> None:
    reading = read("un jabón de avena de 100", SOAPS)
    assert items(reading) == [(1, ["jabon"], ["avena", "g:100"])]
    res = resolve(reading.mentions[0], SOAPS, InPlay())
    assert names(SOAPS, res.products) == ["Jabón de avena 100 g"] and res.quantity == 1


def test_spoken_measures_are_values() -> None:
    reading = read("medio kilo de café de olla", SOAPS)
    assert [s.kind for s in reading.spans if s.text.startswith("medio")] == ["measure"]
    res = resolve(reading.mentions[0], SOAPS, InPlay())
    assert names(SOAPS, res.products) == ["Café de olla 500 g"] and res.quantity is None
    kilo = resolve(read("un kilo de cafe", SOAPS).mentions[0], SOAPS, InPlay())
    assert names(SOAPS, kilo.products) == ["Café de olla 1 kg"]


@pytest.mark.parametrize(
    "text",
    [
        "Depto 4B, CP 03100",
        "Av. Juárez 1200 int 3, col. Centro, 44100 Guadalajara",
        "mi correo es ana.lopez100@gmail.com",
        "mi cel 55 1234 5678",
        "45 Elm Street, Austin TX 78701",
    ],
)
def test_digits_of_contact_details_never_become_quantities(text: str) -> None:
    reading = read(text, SOAPS)
    assert reading.touches_address
    assert not reading.quantities and not any(m.numbers for m in reading.mentions)


def test_a_price_question_is_no_purchase() -> None:
    reading = read("how much is the big one?", SHOES)
    assert reading.verb == "price" and not reading.buying


def test_chat_words_never_match_a_product_by_spelling() -> None:
    for text in ("mande", "ya te mandé el comprobante", "ok va", "oki gracias"):
        assert not read(text, SOAPS).mentions, text


def test_two_items_with_their_own_sizes_and_colours() -> None:
    reading = read("dos pares de tenis blancos del 26 y unos negros del 25", SHOES)
    first, second = reading.mentions
    assert first.quantity == 2 and "n:26" in first.values
    assert second.quantity is None and "n:25" in second.values and second.terms == ["tenis"]
    white = resolve(first, SHOES, InPlay())
    black = resolve(second, SHOES, InPlay())
    assert names(SHOES, white.products) == ["Tenis Urbano Blanco 26"]
    assert names(SHOES, black.products) == ["Tenis Urbano Negro 25"]


def test_half_sizes() -> None:
    reading = read("talla 25 y medio en negro", SHOES)
    res = resolve(reading.mentions[0], SHOES, InPlay(last_list=[10, 14]))
    assert names(SHOES, res.products) == ["Tenis Urbano Negro 25.5"]


def test_a_number_after_size_words_is_a_size_even_when_not_sold() -> None:
    reading = read("tenis negros talla 30", SHOES)
    assert reading.quantities == []
    res = resolve(reading.mentions[0], SHOES, InPlay())
    assert res.missing == ["n:30"] and res.one is None


def test_a_bare_number_that_may_be_a_size_is_not_taken_as_a_quantity() -> None:
    reading = read("unos tenis negros 26", SHOES)
    assert reading.quantities == [] and reading.mentions[0].numbers == [26]
    res = resolve(reading.mentions[0], SHOES, InPlay())
    # Read as the size, and the quantity is left to ask for.
    assert names(SHOES, res.products) == ["Tenis Urbano Negro 26"]
    assert res.number_as_value == 26 and res.quantity is None


def test_the_red_one_in_small_after_a_list() -> None:
    reading = read("la roja en chica", SHOES)
    res = resolve(reading.mentions[0], SHOES, InPlay(last_list=[30, 31, 32]))
    assert res.one == 30


def test_a_medium_and_an_xl_are_two_items() -> None:
    reading = read("a medium and a small", SHOES)
    assert [m.quantity for m in reading.mentions] == [1, 1]
    listed = InPlay(last_list=[30, 31])
    assert [resolve(m, SHOES, listed).one for m in reading.mentions] == [31, 30]


def test_the_big_one_is_the_biggest_of_one_family_only() -> None:
    big = resolve(read("the big one", SOAPS).mentions[0], SOAPS, InPlay(last_list=[1, 2]))
    assert big.one == 2
    across = resolve(read("the big one", SOAPS).mentions[0], SOAPS, InPlay(last_list=[2, 6]))
    assert across.one is None  # a soap and a coffee: which is "big" is a guess


def test_removing_a_product_that_is_not_in_the_cart_names_it() -> None:
    reading = read("sin el llavero, quítalo", SOAPS)
    assert reading.verb == "remove"
    cart = [1]
    res = resolve(reading.mentions[0], SOAPS, InPlay(cart, None, cart))
    assert res.products == [4] and 4 not in cart  # named, not in the cart: nothing removed


def test_a_sku_names_exactly_one_product() -> None:
    reading = read("quiero CAF-1K x2 y 1 CAF-500", SOAPS)
    resolved = [resolve(m, SOAPS, InPlay()) for m in reading.mentions]
    assert [(r.one, r.quantity) for r in resolved] == [(6, 2), (5, 1)]


def test_a_person_asked_indirectly() -> None:
    assert read("¿hay alguien con quien pueda ver un pedido grande?", SOAPS).person
    assert read("can someone from the shop call me", SOAPS).person
    assert not read("quiero encargar 10 jabones", SOAPS).person


def test_delivery_and_location_said_early() -> None:
    reading = read("lo recojo en la tienda de Coyoacán", SOAPS, locations=["Coyoacán", "Centro"])
    assert reading.delivery == "pickup" and reading.locations == ["Coyoacán"]


def test_a_number_in_a_story_is_no_quantity() -> None:
    reading = read("quiero el jabón de lavanda, es para mi hija que tiene 4", SOAPS)
    assert [m.quantity for m in reading.mentions] == [None]


def test_every_part_of_the_text_is_read_once() -> None:
    reading = read("2 jabones de avena de 200, envío a Insurgentes Sur 1602, CP 03940", SOAPS)
    spans = sorted(reading.spans, key=lambda s: s.start)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    assert reading.quantities == [2] and reading.postal_code == "03940"
