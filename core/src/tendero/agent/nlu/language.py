"""Which language a customer writes in: Spanish or English, by word-list scoring."""

from __future__ import annotations

from typing import Literal

from tendero.agent.nlu.matching import tokens
from tendero.agent.nlu.vocab import ENGLISH_WORDS, SPANISH_WORDS

Language = Literal["es", "en"]

_SPANISH_MARKS = set("ñ¿¡áéíóú")


def language_scores(text: str) -> tuple[int, int]:
    """(Spanish score, English score): known words of each language, plus Spanish marks."""
    words = tokens(text)
    es = sum(1 for w in words if w in SPANISH_WORDS and w not in ENGLISH_WORDS)
    en = sum(1 for w in words if w in ENGLISH_WORDS and w not in SPANISH_WORDS)
    if any(ch in _SPANISH_MARKS for ch in text.lower()):
        es += 1
    return es, en


def detect_language(text: str, default: Language = "es") -> Language:
    """ "es" or "en" for ``text``; ``default`` when it is too short or ambiguous to tell.

    One distinctive word more in a language than in the other decides ("hi" -> "en",
    "quiero dos" -> "es"); ties, numbers, emoji and words of neither list keep ``default``.
    """
    es, en = language_scores(text)
    if es > en:
        return "es"
    if en > es:
        return "en"
    return default
