"""Place names and postal codes of Mexico and the US (tendero.agent.nlu.places)."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from tendero.agent.nlu import places
from tendero.agent.nlu.places import (
    Place,
    city_for_postal_code,
    find_places,
    postal_code_agrees,
    state_for_postal_code,
)

# SEPOMEX's assignment of the first two digits of a código postal, written out as
# Wikipedia's "Postal codes in Mexico" lists it (independently of the module's table).
SEPOMEX_PREFIXES = """
01-16 Ciudad de México
20 Aguascalientes
21-22 Baja California
23 Baja California Sur
24 Campeche
25-27 Coahuila
28 Colima
29-30 Chiapas
31-33 Chihuahua
34-35 Durango
36-38 Guanajuato
39-41 Guerrero
42-43 Hidalgo
44-49 Jalisco
50-57 Estado de México
58-61 Michoacán
62 Morelos
63 Nayarit
64-67 Nuevo León
68-71 Oaxaca
72-75 Puebla
76 Querétaro
77 Quintana Roo
78-79 San Luis Potosí
80-82 Sinaloa
83-85 Sonora
86 Tabasco
87-89 Tamaulipas
90 Tlaxcala
91-96 Veracruz
97 Yucatán
98-99 Zacatecas
"""


def _sepomex_ranges() -> list[tuple[str, int, int]]:
    ranges = []
    for line in SEPOMEX_PREFIXES.strip().splitlines():
        digits, state = line.split(" ", 1)
        first, _, last = digits.partition("-")
        ranges.append((state, int(first), int(last or first)))
    return ranges


def _spans(text: str, country: str, **kwargs) -> list[tuple[str, str, str, str]]:
    return [
        (text[p.start : p.end], p.kind, p.name, p.state)
        for p in find_places(text, country, **kwargs)
    ]


# --- Mexican postal codes -------------------------------------------------------------


def test_the_published_table_covers_all_32_states():
    assert len({state for state, _, _ in _sepomex_ranges()}) == 32


@pytest.mark.parametrize(("state", "first", "last"), _sepomex_ranges())
def test_every_mexican_state_owns_its_postal_range(state, first, last):
    for prefix in range(first, last + 1):
        for code in (f"{prefix:02d}000", f"{prefix:02d}450", f"{prefix:02d}999"):
            assert state_for_postal_code("MX", code) == state, code
    # The prefixes just outside the range belong to someone else (or to no one).
    for outside in (first - 1, last + 1):
        if 0 <= outside <= 99:
            assert state_for_postal_code("MX", f"{outside:02d}100") != state


@pytest.mark.parametrize("code", ["00100", "17000", "18500", "19999"])
def test_unused_mexican_prefixes_have_no_state(code):
    assert state_for_postal_code("MX", code) is None


@pytest.mark.parametrize("code", ["", "4410", "441000", "44 100", "CP44100", "abcde"])
def test_malformed_mexican_codes_have_no_state(code):
    assert state_for_postal_code("MX", code) is None


def test_real_mexican_codes():
    assert state_for_postal_code("MX", "03940") == "Ciudad de México"  # Crédito Constructor
    assert state_for_postal_code("MX", "44100") == "Jalisco"  # Guadalajara centro
    assert state_for_postal_code("MX", " 64000 ") == "Nuevo León"  # Monterrey centro
    assert state_for_postal_code("mx", "53100") == "Estado de México"  # Naucalpan
    assert state_for_postal_code("MX", "77500") == "Quintana Roo"  # Cancún


def test_mexican_codes_give_no_city():
    assert city_for_postal_code("MX", "44100") is None


# --- US ZIP codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "state", "city"),
    [
        ("78701", "TX", "Austin"),
        ("10001", "NY", "New York"),
        ("90210", "CA", "Beverly Hills"),
        ("33139", "FL", "Miami Beach"),
        ("60611", "IL", "Chicago"),
        ("98101", "WA", "Seattle"),
        ("20500", "DC", "Washington"),
        ("80010", "CO", "Aurora"),
        ("00901", "PR", "San Juan"),
        ("78701-1234", "TX", "Austin"),
    ],
)
def test_us_zip_codes(code, state, city):
    assert state_for_postal_code("US", code) == state
    assert city_for_postal_code("US", code) == city


@pytest.mark.parametrize("code", ["", "7870", "787011", "abcde", "99999", "78701-12"])
def test_unknown_or_malformed_zip_codes(code):
    assert state_for_postal_code("US", code) is None
    assert city_for_postal_code("US", code) is None


def test_other_countries_are_unknown():
    assert state_for_postal_code("CA", "78701") is None
    assert city_for_postal_code("ES", "28001") is None
    assert find_places("Madrid, España", "ES") == []
    assert postal_code_agrees("ES", "28001", "Madrid") is None


# --- Finding places in addresses ------------------------------------------------------


def test_mexico_city_address_with_colonia():
    text = "Insurgentes Sur 1602, CP 03940, Col. Crédito Constructor, CDMX"
    assert _spans(text, "MX") == [("CDMX", "state", "Ciudad de México", "Ciudad de México")]


def test_fraccionamiento_is_not_a_city_but_the_place_after_it_is():
    text = "fracc. Las Águilas San Luis Potosí"
    assert _spans(text, "MX") == [
        ("San Luis Potosí", "state", "San Luis Potosí", "San Luis Potosí")
    ]


def test_us_address_city_and_code():
    text = "45 Elm Street, Austin TX 78701"
    assert _spans(text, "US") == [
        ("Austin", "city", "Austin", "TX"),
        ("TX", "state", "Texas", "TX"),
    ]


def test_lower_case_monterrey_and_nl():
    text = "calle 5 de mayo 120, centro, monterrey nl"
    assert _spans(text, "MX") == [
        ("monterrey", "city", "Monterrey", "Nuevo León"),
        ("nl", "state", "Nuevo León", "Nuevo León"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Av. Juárez 1200, col. Americana, 44100 Guadalajara, Jal.",
            [("Guadalajara", "city", "Jalisco"), ("Jal.", "state", "Jalisco")],
        ),
        ("Naucalpan, Edomex", [("Naucalpan", "city", "Estado de México"), ("Edomex", "state", "Estado de México")]),
        ("Estado de México", [("Estado de México", "state", "Estado de México")]),
        ("Coyoacán, DF", [("Coyoacán", "city", "Ciudad de México"), ("DF", "state", "Ciudad de México")]),
        ("Monterrey, N.L., México", [("Monterrey", "city", "Nuevo León"), ("N.L.", "state", "Nuevo León")]),
        ("GDL", [("GDL", "city", "Jalisco")]),
        ("Mty", [("Mty", "city", "Nuevo León")]),
        ("Santiago de Querétaro, QRO", [("Santiago de Querétaro", "city", "Querétaro"), ("QRO", "state", "Querétaro")]),
        ("San Luis Potosí, SLP", [("San Luis Potosí", "city", "San Luis Potosí"), ("SLP", "state", "San Luis Potosí")]),
        ("Tijuana, BC", [("Tijuana", "city", "Baja California"), ("BC", "state", "Baja California")]),
        ("La Paz BCS", [("La Paz", "city", "Baja California Sur"), ("BCS", "state", "Baja California Sur")]),
        ("Cancún, Q. Roo", [("Cancún", "city", "Quintana Roo"), ("Q. Roo", "state", "Quintana Roo")]),
        ("Cd. Juárez, Chih.", [("Cd. Juárez", "city", "Chihuahua"), ("Chih.", "state", "Chihuahua")]),
        ("Hermosillo, Son. 83000", [("Hermosillo", "city", "Sonora"), ("Son.", "state", "Sonora")]),
        ("León, Gto.", [("León", "city", "Guanajuato"), ("Gto.", "state", "Guanajuato")]),
        ("Puebla, Puebla", [("Puebla", "city", "Puebla"), ("Puebla", "state", "Puebla")]),
        ("Oaxaca de Juárez, Oax.", [("Oaxaca de Juárez", "city", "Oaxaca"), ("Oax.", "state", "Oaxaca")]),
        ("vivo en Querétaro", [("Querétaro", "state", "Querétaro")]),
        ("Mexico City", [("Mexico City", "city", "Ciudad de México")]),
        ("Ciudad de México", [("Ciudad de México", "state", "Ciudad de México")]),
        ("Veracruz de Ignacio de la Llave", [("Veracruz de Ignacio de la Llave", "state", "Veracruz")]),
    ],
)  # fmt: skip
def test_mexican_places(text, expected):
    assert [(s, kind, state) for s, kind, _, state in _spans(text, "MX")] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1600 Pennsylvania Avenue NW, Washington, DC 20500", [("Washington", "city", "DC"), ("DC", "state", "DC")]),
        ("350 5th Ave, New York, NY 10118", [("New York", "city", "NY"), ("NY", "state", "NY")]),
        ("ship to NYC please", [("NYC", "city", "NY")]),
        ("Indianapolis, IN 46204", [("Indianapolis", "city", "IN"), ("IN", "state", "IN")]),
        ("Portland OR 97201", [("Portland", "city", "OR"), ("OR", "state", "OR")]),
        ("123 Main St, St. Louis, MO 63101", [("St. Louis", "city", "MO"), ("MO", "state", "MO")]),
        ("Saint Louis, Missouri", [("Saint Louis", "city", "MO"), ("Missouri", "state", "MO")]),
        ("4400 E 8th Ave unit 15, denver co 80220", [("denver", "city", "CO"), ("co", "state", "CO")]),
        ("1600 Dallas St, Aurora CO 80010", [("Aurora", "city", "CO"), ("CO", "state", "CO")]),
        ("Seattle, Washington", [("Seattle", "city", "WA"), ("Washington", "state", "WA")]),
        ("Austin, Minnesota", [("Austin", "city", "MN"), ("Minnesota", "state", "MN")]),
        ("do you ship to texas?", [("texas", "state", "TX")]),
        ("1100 Congress Ave, Austin TX 7870", [("Austin", "city", "TX"), ("TX", "state", "TX")]),
    ],
)  # fmt: skip
def test_us_places(text, expected):
    assert [(s, kind, state) for s, kind, _, state in _spans(text, "US")] == expected


def test_accents_and_case_do_not_matter():
    for text in ("san luis potosi", "SAN LUIS POTOSÍ", "San Luis Potosí"):
        assert _spans(text, "MX") == [(text, "state", "San Luis Potosí", "San Luis Potosí")]
    for text in ("Querétaro", "queretaro", "QUERETARO"):
        assert _spans(text, "MX")[0][2:] == ("Querétaro", "Querétaro")


def test_the_longest_name_wins():
    assert _spans("Baja California Sur", "MX") == [
        ("Baja California Sur", "state", "Baja California Sur", "Baja California Sur")
    ]
    assert _spans("San Nicolás de los Garza, NL", "MX")[0][:3] == (
        "San Nicolás de los Garza",
        "city",
        "San Nicolás de los Garza",
    )


def test_spans_point_into_the_text_and_never_overlap():
    text = "Calle Hidalgo 1020 int 3, col. Centro, 76000 Querétaro, Qro. mi correo es maru@x.com"
    found = find_places(text, "MX")
    assert [text[p.start : p.end] for p in found] == ["Querétaro", "Qro."]
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))


def test_place_is_a_frozen_dataclass():
    place = find_places("Monterrey", "MX")[0]
    assert place == Place(0, 9, "city", "Monterrey", "Nuevo León")
    with pytest.raises(dataclasses.FrozenInstanceError):
        place.name = "Saltillo"  # type: ignore[misc]


def test_a_postal_code_in_the_text_picks_between_cities_of_the_same_name():
    # Guadalupe is a large city both in Nuevo León and in Zacatecas.
    assert _spans("Guadalupe, Zac.", "MX")[0][3] == "Zacatecas"
    assert _spans("Guadalupe, N.L.", "MX")[0][3] == "Nuevo León"
    found = _spans("Av. Pino 12, 98600 Guadalupe", "MX", strict_words=False)
    assert found == [("Guadalupe", "city", "Guadalupe", "Zacatecas")]


# --- Streets, colonias and references are not places -----------------------------------


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("calle Hidalgo 210, Monterrey", "MX", ["Monterrey"]),
        ("Durango 200, Roma Norte, CDMX", "MX", ["CDMX"]),
        ("Av. Guadalupe Victoria 12, Saltillo", "MX", ["Saltillo"]),
        ("Col. Guadalupe Inn, Álvaro Obregón, CDMX", "MX", ["Álvaro Obregón", "CDMX"]),
        ("Calle Jalapa 120, 06700 CDMX, entre Colima y Tabasco", "MX", ["CDMX"]),
        ("Barrio de Santiago, Puebla 72410", "MX", ["Puebla"]),
        (
            "privada de alamos 84, san felipe del agua, 68020 oaxaca de juarez",
            "MX",
            ["oaxaca de juarez"],
        ),
        ("1600 Dallas St, Aurora CO 80010", "US", ["Aurora", "CO"]),
        ("88 Washington Ave, Miami Beach, FL 33139", "US", ["Miami Beach", "FL"]),
        ("correo d.salinas@yahoo.com, Monterrey", "MX", ["Monterrey"]),
        ("tyler.b@outlook.com", "US", []),
    ],
)
def test_street_colonia_and_reference_names_are_skipped(text, country, expected):
    assert [p[0] for p in _spans(text, country)] == expected


# --- Ordinary chat names nothing ------------------------------------------------------

# "hidalgo es mi apellido": Hidalgo is a state, but also a common surname (and a street
# in every town); without an address around it, it is the surname.
MX_CHAT = [
    "ok va, hidalgo es mi apellido",
    "mi nombre es Victoria",
    "hola, soy Guadalupe",
    "quiero 2 proteínas de chocolate y un shaker",
    "queso oaxaca y salsa tabasco",
    "en el centro",
    "la colonia es muy bonita",
    "Son 3 piezas",
    "sin azúcar por favor, ver el precio",
    "me lo mandan mañana?",
    "Pue sí, mándalo",
    "el progreso de mi pedido",
    "una botella de tequila",
    "OK, ME INTERESA",
]
US_CHAT = [
    "ok I'm in the store, or maybe hi",
    "OK, ME INTERESA",
    "que llevo en mi carrito?",
    "envio, mi cp es 44600",
    "me lo mandan a la casa?",
    "is my order OK?",
    "I'll pick it up IN the morning",
    "my mobile number is 555 0199",
    "the chelsea boots, size 9",
    "una latita de la de jamaica",
    "recojo en el centro",
    "my name is Taylor",
    "normal shipping is fine",
    "HI, ME AGAIN. OK?",
]


@pytest.mark.parametrize("text", MX_CHAT)
def test_ordinary_spanish_chat_names_no_mexican_place(text):
    assert find_places(text, "MX") == []


@pytest.mark.parametrize("text", US_CHAT)
def test_ordinary_chat_names_no_us_place(text):
    assert find_places(text, "US") == []


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("I'll be in Dallas in the morning", "US", ["Dallas"]),
        ("Monterrey son 3 piezas", "MX", ["Monterrey"]),
        ("Monterrey NL col. Centro", "MX", ["Monterrey", "NL"]),
        ("cp 67130, guadalupe nl. referencia porton negro", "MX", ["guadalupe", "nl."]),
        ("denver co. email is mike@x.com", "US", ["denver", "co."]),
        ("Dallas, IN", "US", ["Dallas", "IN"]),
    ],
)
def test_codes_after_a_city_end_the_address(text, country, expected):
    assert [p[0] for p in _spans(text, country)] == expected


def test_ordinary_words_are_places_where_an_address_puts_them():
    assert _spans("Pachuca, Hidalgo", "MX")[1] == ("Hidalgo", "state", "Hidalgo", "Hidalgo")
    assert _spans("vivo en Hidalgo", "MX") == [("Hidalgo", "state", "Hidalgo", "Hidalgo")]
    assert _spans("Progreso, Yuc.", "MX")[0] == ("Progreso", "city", "Progreso", "Yucatán")
    assert _spans("Mobile, AL 36602", "US")[0] == ("Mobile", "city", "Mobile", "AL")


def test_without_strict_words_ordinary_words_are_places_everywhere():
    assert find_places("Progreso", "MX") == []
    assert _spans("Progreso", "MX", strict_words=False) == [
        ("Progreso", "city", "Progreso", "Yucatán")
    ]
    assert _spans("hidalgo es mi apellido", "MX", strict_words=False)[0][1:] == (
        "state",
        "Hidalgo",
        "Hidalgo",
    )


def test_the_ordinary_words_are_all_place_names_of_the_data():
    # The list only names what the data holds: a stale word would hide nothing.
    mx, us = places._index("MX").entries, places._index("US").entries
    for word in places.ORDINARY_WORDS:
        key = tuple(word.split())
        assert key in mx or key in us, word


# --- Postal code against the place named ----------------------------------------------

# One city of each state (not named like its state), with the state it is in.
CITY_OF_EACH_STATE = [
    ("Jesús María", "Aguascalientes"),
    ("Tijuana", "Baja California"),
    ("Cabo San Lucas", "Baja California Sur"),
    ("Ciudad del Carmen", "Campeche"),
    ("Tapachula", "Chiapas"),
    ("Ciudad Juárez", "Chihuahua"),
    ("Torreón", "Coahuila"),
    ("Manzanillo", "Colima"),
    ("Iztapalapa", "Ciudad de México"),
    ("Gómez Palacio", "Durango"),
    ("Irapuato", "Guanajuato"),
    ("Acapulco", "Guerrero"),
    ("Tulancingo", "Hidalgo"),
    ("Zapopan", "Jalisco"),
    ("Toluca", "Estado de México"),
    ("Uruapan", "Michoacán"),
    ("Cuernavaca", "Morelos"),
    ("Tepic", "Nayarit"),
    ("Monterrey", "Nuevo León"),
    ("Salina Cruz", "Oaxaca"),
    ("Tehuacán", "Puebla"),
    ("San Juan del Río", "Querétaro"),
    ("Cancún", "Quintana Roo"),
    ("Ciudad Valles", "San Luis Potosí"),
    ("Mazatlán", "Sinaloa"),
    ("Hermosillo", "Sonora"),
    ("Villahermosa", "Tabasco"),
    ("Tampico", "Tamaulipas"),
    ("Apizaco", "Tlaxcala"),
    ("Coatzacoalcos", "Veracruz"),
    ("Mérida", "Yucatán"),
    ("Fresnillo", "Zacatecas"),
]


@pytest.mark.parametrize(("city", "state"), CITY_OF_EACH_STATE)
def test_each_city_is_in_its_state_and_agrees_with_its_postal_codes(city, state):
    assert _spans(city, "MX") == [(city, "city", _spans(city, "MX")[0][2], state)]
    ranges = {name: (first, last) for name, first, last in _sepomex_ranges()}
    first, last = ranges[state]
    assert postal_code_agrees("MX", f"{first:02d}100", city) is True
    assert postal_code_agrees("MX", f"{last:02d}900", city) is True
    other = 20 if first != 20 else 24
    assert postal_code_agrees("MX", f"{other:02d}100", city) is False


def test_postal_code_conflicts_in_mexico():
    assert postal_code_agrees("MX", "44100", "Monterrey") is False
    assert postal_code_agrees("MX", "64000", "Monterrey") is True
    assert postal_code_agrees("MX", "64000", "NL") is True
    assert postal_code_agrees("MX", "64000", "Jalisco") is False
    assert postal_code_agrees("MX", "03940", "CDMX") is True
    assert postal_code_agrees("MX", "03940", "Ciudad de México") is True
    assert postal_code_agrees("MX", "53100", "CDMX") is False  # Naucalpan is Edomex
    assert postal_code_agrees("MX", "53100", "Edomex") is True
    assert postal_code_agrees("MX", "44100", "Guadalajara, Jal.") is True
    # A city name found in several states agrees with each of them.
    assert postal_code_agrees("MX", "67100", "Guadalupe") is True
    assert postal_code_agrees("MX", "98600", "Guadalupe") is True
    assert postal_code_agrees("MX", "44100", "Guadalupe") is False


def test_postal_code_conflicts_in_the_us():
    assert postal_code_agrees("US", "78701", "Austin") is True
    assert postal_code_agrees("US", "78701", "TX") is True
    assert postal_code_agrees("US", "78701", "Texas") is True
    assert postal_code_agrees("US", "78701", "Seattle") is False
    assert postal_code_agrees("US", "78701", "CA") is False
    assert postal_code_agrees("US", "55912", "Austin") is True  # Austin, Minnesota
    # The check is made at state level: another Texan city still agrees.
    assert postal_code_agrees("US", "78701", "Dallas") is True
    # A town too small for the city list agrees with its own ZIP code.
    assert postal_code_agrees("US", "06475", "Old Saybrook") is True


def test_unknown_postal_codes_or_names_give_none():
    assert postal_code_agrees("MX", "17000", "Monterrey") is None
    assert postal_code_agrees("MX", "4410", "Monterrey") is None
    assert postal_code_agrees("MX", "44100", "Springfield") is None
    assert postal_code_agrees("MX", "44100", "") is None
    assert postal_code_agrees("US", "99999", "Austin") is None
    assert postal_code_agrees("US", "78701", "Guadalajara") is None


# --- The data behind it -----------------------------------------------------------------


def test_the_state_table_matches_iso_3166_2():
    iso_codes = set(places._iso_subdivisions("MX"))
    assert {row[0] for row in places._MX_STATE_ROWS} == iso_codes
    assert len(iso_codes) == 32


def test_every_geonames_state_code_of_mexico_is_mapped():
    admin1 = {row[1] for row in places._MX_STATE_ROWS}
    assert {r["admin1code"] for r in places._geonames_cities("MX")} <= admin1


def test_only_mexican_and_us_cities_are_loaded():
    assert {r["countrycode"] for r in places._geonames_cities("MX")} == {"MX"}
    us = places._geonames_cities("US")
    assert {r["countrycode"] for r in us} == {"US"}
    assert len(us) > 3000
