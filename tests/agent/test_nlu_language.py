"""Language detection of the offline understanding helpers."""

from __future__ import annotations

import pytest
from tendero.agent.nlu import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hola, ¿tienen proteína?", "es"),
        ("hola tienen proteina", "es"),
        ("quiero dos cafes porfa", "es"),
        ("cuanto cuesta la creatina", "es"),
        ("eso es todo gracias", "es"),
        ("Hi, do you have protein powder?", "en"),
        ("hello", "en"),
        ("I want two coffees please", "en"),
        ("how much is the creatine", "en"),
        ("that's all, thanks", "en"),
        ("whats in my cart", "en"),
    ],
)
def test_detects_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected
    assert detect_language(text, default="en" if expected == "es" else "es") == expected


@pytest.mark.parametrize("text", ["ok", "2", "👍", "", "no", "Creatina 300 g", "#3"])
def test_short_or_ambiguous_text_keeps_default(text: str) -> None:
    assert detect_language(text) == "es"
    assert detect_language(text, default="en") == "en"
