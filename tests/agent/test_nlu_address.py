"""Emails, postal codes and free-form Mexican and US addresses."""

from __future__ import annotations

import pytest
from tendero.agent.nlu import extract_email, extract_postal_code, parse_address

CDMX = "Ciudad de México"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ana@x.com", "ana@x.com"),
        ("mi correo es Ana.Lopez@Gmail.com.", "ana.lopez@gmail.com"),
        ("ana@x.com, Insurgentes Sur 1602", "ana@x.com"),
        ("email: john_doe+shop@mail.example.co.uk please", "john_doe+shop@mail.example.co.uk"),
        ("sin correo", None),
        ("ana@x", None),
        ("@tendero", None),
    ],
)
def test_extract_email(text: str, expected: str | None) -> None:
    assert extract_email(text) == expected


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("CP 03940", "MX", "03940"),
        ("C.P. 44100", "MX", "44100"),
        ("cp:06000", "MX", "06000"),
        ("código postal 64000", "MX", "64000"),
        ("vivo en el 44100", "MX", "44100"),
        ("Insurgentes Sur 1602", "MX", None),
        ("tel 5512345678", "MX", None),
        ("ana12345@x.com", "MX", None),
        ("78701", "US", "78701"),
        ("Austin TX 78701", "US", "78701"),
        ("Austin TX 78701-1234", "US", "78701-1234"),
        ("zip code: 10001", "US", "10001"),
        ("12345 Main St", "US", None),
        ("1234", "US", None),
        ("postal code M5V 2T6", "CA", "M5V 2T6"),
    ],
)
def test_extract_postal_code(text: str, country: str, expected: str | None) -> None:
    assert extract_postal_code(text, country) == expected


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        (
            "ana@x.com, Insurgentes Sur 1602, CP 03940, Col. Crédito Constructor, CDMX",
            "MX",
            {"street": "Insurgentes Sur", "house_number": "1602", "postal_code": "03940",
             "neighborhood": "Crédito Constructor", "state": CDMX, "city": CDMX},
        ),
        (
            "Av. Juárez 1200, col. Americana, 44100 Guadalajara",
            "MX",
            {"street": "Av. Juárez", "house_number": "1200", "neighborhood": "Americana",
             "postal_code": "44100", "city": "Guadalajara"},
        ),
        (
            "Calle 5 de Mayo #23 int 4, Centro, 06000 Ciudad de México",
            "MX",
            {"street": "Calle 5 de Mayo", "house_number": "23", "interior": "4",
             "neighborhood": "Centro", "postal_code": "06000", "state": CDMX, "city": CDMX},
        ),
        (
            "insurgentes sur 1602 col credito constructor cp 03940 cdmx",
            "MX",
            {"street": "insurgentes sur", "house_number": "1602", "postal_code": "03940",
             "neighborhood": "credito constructor", "state": CDMX, "city": CDMX},
        ),
        (
            "Hidalgo 45 depto 2, Centro, Monterrey, Nuevo Leon",
            "MX",
            {"street": "Hidalgo", "house_number": "45", "interior": "2",
             "neighborhood": "Centro", "city": "Monterrey", "state": "Nuevo León"},
        ),
        (
            "Calle Morelos 12, Col. Centro, Zapopan, Jalisco, entre Juárez y Madero",
            "MX",
            {"street": "Calle Morelos", "house_number": "12", "neighborhood": "Centro",
             "city": "Zapopan", "state": "Jalisco", "references": "entre Juárez y Madero"},
        ),
        (
            "calle 10 num 5, fracc. las palmas, 77500 cancun, q roo",
            "MX",
            {"street": "calle 10", "house_number": "5", "neighborhood": "las palmas",
             "postal_code": "77500", "city": "cancun", "state": "Quintana Roo"},
        ),
        (
            "Reforma 222, Juárez, CDMX",
            "MX",
            {"street": "Reforma", "house_number": "222", "neighborhood": "Juárez",
             "state": CDMX, "city": CDMX},
        ),
        (
            "Priv. Los Pinos s/n, Guanajuato",
            "MX",
            {"street": "Priv. Los Pinos", "house_number": "S/N", "state": "Guanajuato",
             "city": "Guanajuato"},
        ),
        (
            "45 Elm Street, Austin TX 78701",
            "US",
            {"house_number": "45", "street": "Elm Street", "city": "Austin", "state": "TX",
             "postal_code": "78701"},
        ),
        (
            "45 Elm Street Austin TX 78701",
            "US",
            {"house_number": "45", "street": "Elm Street", "city": "Austin", "state": "TX",
             "postal_code": "78701"},
        ),
        ("900 Pine Ave Apt 3", "US", {"house_number": "900", "street": "Pine Ave", "interior": "3"}),
        (
            "123 Main St, Springfield, IL 62704",
            "US",
            {"house_number": "123", "street": "Main St", "city": "Springfield", "state": "IL",
             "postal_code": "62704"},
        ),
        (
            "500 Oak Road Unit 12, Denver, Colorado 80202",
            "US",
            {"house_number": "500", "street": "Oak Road", "interior": "12", "city": "Denver",
             "state": "CO", "postal_code": "80202"},
        ),
        (
            "Av Vallarta 3000 int 5 col Vallarta Poniente, Zapopan Jal 44110",
            "MX",
            {"street": "Av Vallarta", "house_number": "3000", "interior": "5",
             "neighborhood": "Vallarta Poniente", "city": "Zapopan", "state": "Jalisco",
             "postal_code": "44110"},
        ),
        (
            "Blvd. Díaz Ordaz 140, Santa María, Monterrey NL 64650",
            "MX",
            {"street": "Blvd. Díaz Ordaz", "house_number": "140", "neighborhood": "Santa María",
             "city": "Monterrey", "state": "Nuevo León", "postal_code": "64650"},
        ),
        (
            "5 Sur 120, Centro, Puebla, Puebla",
            "MX",
            {"street": "5 Sur", "house_number": "120", "neighborhood": "Centro",
             "city": "Puebla", "state": "Puebla"},
        ),
        ("Chihuahua, Chih.", "MX", {"city": "Chihuahua", "state": "Chihuahua"}),
        (
            "1600 Pennsylvania Avenue NW, Washington, DC 20500",
            "US",
            {"house_number": "1600", "street": "Pennsylvania Avenue NW", "city": "Washington",
             "state": "DC", "postal_code": "20500"},
        ),
        (
            "45 elm st, austin, texas",
            "US",
            {"house_number": "45", "street": "elm st", "city": "austin", "state": "TX"},
        ),
        ("C.P. 44100", "MX", {"postal_code": "44100"}),
        ("Jalisco", "MX", {"state": "Jalisco"}),
        ("col. Roma Norte", "MX", {"neighborhood": "Roma Norte"}),
        ("referencias: portón negro", "MX", {"references": "portón negro"}),
        ("ana@x.com", "MX", {}),
        ("", "US", {}),
    ],
)  # fmt: skip
def test_parse_address(text: str, country: str, expected: dict[str, str]) -> None:
    assert parse_address(text, country) == expected


def test_parse_address_only_contract_keys() -> None:
    keys = set(parse_address("Calle 5 de Mayo #23 int 4, Centro, 06000 CDMX, entre A y B", "MX"))
    assert keys <= {"street", "house_number", "interior", "neighborhood", "postal_code",
                    "city", "state", "references"}  # fmt: skip
