"""Quantities in digits and words; sizes and list references are not quantities."""

from __future__ import annotations

import pytest
from tendero.agent.nlu import extract_quantity_and_rest, parse_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dos", 2),
        ("quiero tres cafés", 3),
        ("quiero tres cafes", 3),
        ("una docena de donas", 12),
        ("media docena", 6),
        ("dos docenas", 24),
        ("un par de gorras", 2),
        ("veinte", 20),
        ("quince", 15),
        ("treinta y dos", 32),
        ("veintidós", 22),
        ("a couple", 2),
        ("a couple of caps", 2),
        ("a dozen eggs", 12),
        ("half a dozen cookies", 6),
        ("one", 1),
        ("twenty", 20),
        ("twenty-two", 22),
        ("I want one protein", 1),
        ("x3", 3),
        ("x 3", 3),
        ("3x", 3),
        ("3 pzas", 3),
        ("3 unidades", 3),
        ("4 pieces", 4),
        ("3pzas", 3),
        ("quiero 2", 2),
        ("Creatina 300 g, dos", 2),
        ("dos creatina 300 g", 2),
        ("Creatina 300g x2", 2),
        ("creatina 300 dos", 2),
        ("tres piezas de la creatina 300 g", 3),
        ("quiero una proteína", 1),
        ("dame 2 de la 3", 2),
        ("dame una docena de la 2", 12),
    ],
)
def test_parse_quantity(text: str, expected: int) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Creatina 300 g",
        "proteina 2 kg",
        "whey 5 lb",
        "agua 500 ml",
        "1.5 kg",
        "$250",
        "la 2",
        "#2",
        "number 3",
        "the large one",
        "the second one",
        "quiero café",
        "hello",
        "",
        "cp 03940",
    ],
)
def test_no_quantity(text: str) -> None:
    assert parse_quantity(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 pzas de café", (2, "café")),
        ("una docena de donas", (12, "donas")),
        ("a couple of caps", (2, "caps")),
        ("quiero tres cafés", (3, "quiero cafés")),
        ("Creatina 300 g, dos", (2, "Creatina 300 g")),
        ("x 4 chocolate", (4, "chocolate")),
        ("half a dozen of the cookies", (6, "cookies")),
        ("proteína vainilla", (None, "proteína vainilla")),
        ("  gorra   roja ", (None, "gorra roja")),
    ],
)
def test_extract_quantity_and_rest(text: str, expected: tuple[int | None, str]) -> None:
    assert extract_quantity_and_rest(text) == expected
