"""distinct_titles(): choice titles cut to a channel's limit stay distinct and keep the
words that tell variants apart (issue: two shoe sizes both shown as "Tenis Running
Negro 2…")."""

from __future__ import annotations

import pytest
from tendero.channels import Button, ListRow
from tendero.channels.titles import distinct_titles, fit_buttons, fit_list_rows

ROW = 24  # WhatsApp list row title
BUTTON = 20  # WhatsApp reply button, Messenger and Instagram quick reply
DESCRIPTION = 72  # WhatsApp list row description


def check(titles: list[str], limit: int) -> list[str]:
    """The shown titles, after checking what every channel needs of them."""
    shown = distinct_titles(titles, limit)
    assert len(shown) == len(titles)
    assert all(1 <= len(title) <= limit for title in shown), shown
    assert len({title.casefold() for title in shown}) == len(shown), shown
    return shown


# --- the cases, exactly --------------------------------------------------------------


def test_two_sizes_of_one_shoe_show_their_size() -> None:
    titles = ["Tenis Running Negro Talla 25", "Tenis Running Negro Talla 26"]
    assert check(titles, ROW) == ["Tenis Running Negro… 25", "Tenis Running Negro… 26"]
    assert check(titles, BUTTON) == ["Tenis Running… 25", "Tenis Running… 26"]


def test_titles_that_fit_are_left_alone() -> None:
    titles = ["Tenis Running Negro 25", "Tenis Running Negro 26", "Gorra"]
    assert check(titles, ROW) == titles
    assert check(["Whey Chocolate 2 lb", "Whey Vanilla 2 lb"], BUTTON) == [
        "Whey Chocolate 2 lb",
        "Whey Vanilla 2 lb",
    ]


def test_the_same_shoe_only_cut_for_buttons() -> None:
    titles = ["Tenis Running Negro 25", "Tenis Running Negro 26"]  # 22 characters
    assert check(titles, BUTTON) == ["Tenis Running… 25", "Tenis Running… 26"]


def test_a_difference_in_the_middle_stays_visible() -> None:
    titles = [
        "Proteína Whey Isolate Chocolate 2 lb",
        "Proteína Whey Isolate Vainilla 2 lb",
        "Proteína Whey Isolate Fresa 2 lb",
    ]
    assert check(titles, ROW) == [
        "Proteína… Chocolate 2 lb",
        "Proteína… Vainilla 2 lb",
        "Proteína… Fresa 2 lb",
    ]
    for shown, flavour in zip(
        check(titles, BUTTON), ("Chocolate", "Vainilla", "Fresa"), strict=True
    ):
        assert flavour in shown


def test_a_unit_stays_with_its_number() -> None:
    titles = [
        "Café de Especialidad Chiapas 250 g",
        "Café de Especialidad Chiapas 500 g",
        "Café de Especialidad Chiapas 1 kg",
    ]
    assert check(titles, BUTTON) == [
        "Café… Chiapas 250 g",
        "Café… Chiapas 500 g",
        "Café… Chiapas 1 kg",
    ]


def test_identical_titles_are_numbered() -> None:
    titles = ["Vestido largo de fiesta rojo"] * 3
    assert check(titles, BUTTON) == [
        "1. Vestido… rojo",
        "2. Vestido… rojo",
        "3. Vestido… rojo",
    ]
    assert check(["Sí", "sí"], BUTTON) == ["1. Sí", "2. sí"]  # alike to the customer


def test_a_title_that_begins_another_shows_where_it_ends() -> None:
    titles = ["Agregar al carrito ahora mismo", "Agregar al carrito ahora mismo, el rojo"]
    first, second = check(titles, BUTTON)
    assert first.endswith("ahora mismo") and second.endswith("el rojo")


def test_a_single_long_title_keeps_its_beginning_and_its_size() -> None:
    assert check(["Sandalia Playa Azul Mujer Talla 23"], ROW) == ["Sandalia Playa… Talla 23"]


def test_a_first_word_longer_than_the_room_is_cut_inside() -> None:
    titles = ["Supercalifragilisticoespialidoso 25", "Supercalifragilisticoespialidoso 26"]
    assert check(titles, BUTTON) == ["Supercalifragili… 25", "Supercalifragili… 26"]


def test_empty_and_blank_titles_still_show_something() -> None:
    assert check(["", "  "], BUTTON) == ["1. …", "2. …"]
    assert check(["Talla   M\n"], BUTTON) == ["Talla M"]


# --- catalog name sets: the part that differs is visible --------------------------------------

# (titles, what each shown title must contain), Spanish and English catalogs.
CATALOGS = {
    "shoes by size (es)": (
        [
            "Tenis Running Negro Talla 24",
            "Tenis Running Negro Talla 25",
            "Tenis Running Negro Talla 25.5",
            "Tenis Running Negro Talla 26",
        ],
        ["24", "25", "25.5", "26"],
    ),
    "shoes by size and colour (es)": (
        [
            "Tenis Running Hombre Negro 25",
            "Tenis Running Hombre Negro 26",
            "Tenis Running Hombre Azul 25",
            "Tenis Running Hombre Azul 26",
        ],
        ["Negro 25", "Negro 26", "Azul 25", "Azul 26"],
    ),
    "running shoes by size (en)": (
        [
            "Running Shoes Men Black Size 9",
            "Running Shoes Men Black Size 10",
            "Running Shoes Men Black Size 10.5",
            "Running Shoes Women Black Size 7",
        ],
        ["9", "10", "10.5", "Women"],
    ),
    "coffee by weight (es)": (
        [
            "Café Chiapas Tostado Medio 250 g",
            "Café Chiapas Tostado Medio 500 g",
            "Café Chiapas Tostado Medio 1 kg",
        ],
        ["250 g", "500 g", "1 kg"],
    ),
    "coffee by origin and weight (es)": (
        [
            "Café Chiapas Tostado Medio 250 g",
            "Café Chiapas Tostado Medio 500 g",
            "Café Veracruz Tostado Oscuro 250 g",
            "Café Veracruz Tostado Oscuro 500 g",
        ],
        ["250 g", "500 g", "Veracruz", "Veracruz"],
    ),
    "coffee beans by weight (en)": (
        [
            "Whole Bean Coffee Colombia 250g",
            "Whole Bean Coffee Colombia 500g",
            "Whole Bean Coffee Colombia 1kg",
        ],
        ["250g", "500g", "1kg"],
    ),
    "foundation by shade (es)": (
        [
            "Base de Maquillaje HD Tono 110 Porcelana",
            "Base de Maquillaje HD Tono 120 Marfil",
            "Base de Maquillaje HD Tono 130 Beige",
            "Base de Maquillaje HD Tono 140 Arena",
        ],
        ["110", "120", "130", "140"],
    ),
    "foundation by shade (en)": (
        [
            "Liquid Foundation Matte Finish Shade Ivory",
            "Liquid Foundation Matte Finish Shade Sand",
            "Liquid Foundation Matte Finish Shade Caramel",
            "Liquid Foundation Matte Finish Shade Espresso",
        ],
        ["Ivory", "Sand", "Caramel", "Espresso"],
    ),
    "foundation shade in the middle (es)": (
        [
            "Base Líquida Mate Tono 120 30 ml",
            "Base Líquida Mate Tono 130 30 ml",
            "Base Líquida Mate Tono 220 30 ml",
        ],
        ["120", "130", "220"],
    ),
    "paint by litres (es)": (
        [
            "Pintura Vinílica Comex Blanco Mate 1 L",
            "Pintura Vinílica Comex Blanco Mate 4 L",
            "Pintura Vinílica Comex Blanco Mate 19 L",
        ],
        ["1 L", "4 L", "19 L"],
    ),
    "paint by can (en)": (
        [
            "Interior Paint Eggshell White 1 Gallon",
            "Interior Paint Eggshell White 5 Gallon",
            "Interior Paint Eggshell White 1 Quart",
        ],
        ["1 Gallon", "5 Gallon", "1 Quart"],
    ),
    "protein by flavour (en)": (
        [
            "Gold Standard Whey Protein Double Chocolate 2 lb",
            "Gold Standard Whey Protein Vanilla Ice Cream 2 lb",
            "Gold Standard Whey Protein Cookies and Cream 2 lb",
            "Gold Standard Whey Protein Double Chocolate 5 lb",
        ],
        ["2 lb", "Vanilla", "Cookies", "5 lb"],
    ),
    "dog food by age and bag (es)": (
        [
            "Croquetas Perro Adulto Raza Grande 4 kg",
            "Croquetas Perro Adulto Raza Grande 15 kg",
            "Croquetas Perro Cachorro Raza Pequeña 2 kg",
        ],
        ["4 kg", "15 kg", "Cachorro"],
    ),
    "t-shirts by colour and size (es)": (
        [
            "Playera Básica Algodón Manga Corta Azul M",
            "Playera Básica Algodón Manga Corta Azul L",
            "Playera Básica Algodón Manga Corta Roja M",
        ],
        ["M", "L", "Roja M"],
    ),
    "mixed list: one family among other products": (
        [
            "Sandalia Playa Azul Mujer Talla 23",
            "Tenis Running Negro Mujer Talla 25",
            "Tenis Running Negro Mujer Talla 26",
            "Bolsa de Mano Piel Café",
        ],
        ["Sandalia", "25", "26", "Bolsa"],
    ),
    "pickup points (es)": (
        ["Sucursal Centro Histórico", "Sucursal Plaza Satélite Norte", "Sucursal Valle Oriente"],
        ["Centro", "Plaza", "Valle"],
    ),
}


@pytest.mark.parametrize("limit", [ROW, BUTTON])
@pytest.mark.parametrize("catalog", CATALOGS.values(), ids=CATALOGS.keys())
def test_catalog_names_keep_what_differs(catalog: tuple[list[str], list[str]], limit: int) -> None:
    titles, parts = catalog
    shown = check(titles, limit)
    for title, part in zip(shown, parts, strict=True):
        assert part in title, f"{part!r} should show in {title!r} (all: {shown})"


def test_thirteen_quick_replies_of_one_family_stay_apart() -> None:
    titles = [f"Tenis Running Negro Talla {size / 2:g}" for size in range(44, 57)]
    shown = check(titles, BUTTON)
    for title, size in zip(shown, range(44, 57), strict=True):
        assert title.endswith(f" {size / 2:g}")


# --- buttons and list rows -----------------------------------------------------------------


def test_buttons_keep_their_ids_and_order() -> None:
    buttons = [
        Button("product:81", "Pintura Vinílica Blanco Mate 4 L"),
        Button("product:80", "Pintura Vinílica Blanco Mate 1 L"),
        Button("product:82", "Pintura Vinílica Blanco Mate 19 L"),
    ]
    fitted = fit_buttons(buttons, BUTTON)
    assert [b.id for b in fitted] == ["product:81", "product:80", "product:82"]
    assert [b.title for b in fitted] == [
        "Pintura… Mate 4 L",
        "Pintura… Mate 1 L",
        "Pintura… Mate 19 L",
    ]


def test_a_shortened_row_carries_the_full_name_and_the_price() -> None:
    rows = [
        ListRow("product:7", "Tenis Running Negro Talla 25", "$1,299.00"),
        ListRow("product:8", "Tenis Running Negro Talla 26", "$1,299.00"),
        ListRow("product:9", "Gorra Negra", "$199.00"),
    ]
    assert fit_list_rows(rows, ROW, DESCRIPTION) == [
        ListRow("product:7", "Tenis Running Negro… 25", "Tenis Running Negro Talla 25 · $1,299.00"),
        ListRow("product:8", "Tenis Running Negro… 26", "Tenis Running Negro Talla 26 · $1,299.00"),
        ListRow("product:9", "Gorra Negra", "$199.00"),
    ]


def test_a_row_description_keeps_the_price_when_the_name_is_long() -> None:
    name = "Tenis Running Ultraboost Edición Especial Aniversario Negro con Blanco Talla 27.5"
    [row, _] = fit_list_rows(
        [ListRow("a", name, "$3,499.00"), ListRow("b", name.replace("27.5", "28"), None)],
        ROW,
        DESCRIPTION,
    )
    assert "27.5" in row.title and len(row.title) <= ROW
    assert row.description is not None and len(row.description) <= DESCRIPTION
    assert row.description.startswith("Tenis Running") and row.description.endswith(
        "27.5 · $3,499.00"
    )


def test_a_shortened_row_without_description_gets_the_name() -> None:
    [row] = fit_list_rows([ListRow("x", "Croquetas Perro Adulto Raza Grande 15 kg")], ROW, 72)
    assert row.title == "Croquetas… Grande 15 kg"
    assert row.description == "Croquetas Perro Adulto Raza Grande 15 kg"


def test_long_descriptions_of_rows_that_fit_are_cut() -> None:
    [row] = fit_list_rows([ListRow("x", "Talla M", "Muy cómoda. " * 10)], ROW, DESCRIPTION)
    assert row.title == "Talla M"
    assert row.description is not None and len(row.description) == DESCRIPTION
    assert row.description.endswith("…")
