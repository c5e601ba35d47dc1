"""Normalisation and typo-tolerant phrase matching shared by the understanding helpers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from rapidfuzz import fuzz

from tendero.text import fold

_APOSTROPHES = re.compile(r"['`´]")
_NON_WORD = re.compile(r"[^a-z0-9#@]+")

# Single words this long or longer tolerate one typo; shorter ones must match exactly.
_FUZZY_MIN_LEN = 5
_WORD_SCORE = 80.0
_PHRASE_SCORE = 88.0


def normalize(text: str) -> str:
    """Fold accents and case, drop apostrophes, turn punctuation into spaces.

    "¿Qué llevo?" -> "que llevo"; "That's it!" -> "thats it".
    """
    folded = _APOSTROPHES.sub("", fold(text))
    return " ".join(_NON_WORD.sub(" ", folded).split())


def tokens(text: str) -> list[str]:
    """The normalised words of ``text``."""
    return normalize(text).split()


@lru_cache(maxsize=512)
def _phrase_tokens(phrase: str) -> tuple[str, ...]:
    return tuple(normalize(phrase).split())


def _word_matches(word: str, wanted: str, fuzzy: bool) -> bool:
    if word == wanted:
        return True
    if not fuzzy or len(wanted) < _FUZZY_MIN_LEN or word.isdigit() or wanted.isdigit():
        return False
    return fuzz.ratio(word, wanted) >= _WORD_SCORE


def phrase_positions(words: list[str], phrase: str, fuzzy: bool = True) -> Iterator[int]:
    """Every index where ``phrase`` starts in ``words`` (typos tolerated), in order."""
    wanted = _phrase_tokens(phrase)
    n = len(wanted)
    if n == 0 or n > len(words):
        return
    target = " ".join(wanted)
    for start in range(len(words) - n + 1):
        window = words[start : start + n]
        if n == 1:
            if _word_matches(window[0], wanted[0], fuzzy):
                yield start
        elif tuple(window) == wanted:
            yield start
        elif fuzzy and len(target) >= 8 and window[0][:1] == wanted[0][:1]:
            if fuzz.ratio(" ".join(window), target) >= _PHRASE_SCORE:
                yield start


def find_phrase(words: list[str], phrase: str, fuzzy: bool = True) -> int:
    """Index where ``phrase`` first starts in ``words`` (typos tolerated), or -1."""
    return next(phrase_positions(words, phrase, fuzzy), -1)


def has_phrase(words: list[str], phrases: Iterable[str], fuzzy: bool = True) -> bool:
    """Whether any of ``phrases`` occurs in ``words``."""
    return any(find_phrase(words, p, fuzzy) >= 0 for p in phrases)


def longest_match(
    words: list[str], phrases: Iterable[str], fuzzy: bool = True
) -> tuple[str, int] | None:
    """The longest phrase found in ``words`` and where it starts, or None."""
    best: tuple[str, int] | None = None
    for phrase in phrases:
        at = find_phrase(words, phrase, fuzzy)
        if at >= 0 and (best is None or len(_phrase_tokens(phrase)) > len(_phrase_tokens(best[0]))):
            best = (phrase, at)
    return best


def phrase_length(phrase: str) -> int:
    """How many normalised words ``phrase`` has."""
    return len(_phrase_tokens(phrase))


def starts_with(words: list[str], phrases: Iterable[str], fuzzy: bool = True) -> str | None:
    """The longest phrase that ``words`` starts with, or None."""
    best: str | None = None
    for phrase in phrases:
        wanted = _phrase_tokens(phrase)
        if not wanted or len(wanted) > len(words):
            continue
        if find_phrase(words[: len(wanted)], phrase, fuzzy) == 0 and (
            best is None or len(wanted) > phrase_length(best)
        ):
            best = phrase
    return best
