"""Quantities in digits and words, Spanish and English.

The rule that tells a quantity from a number that is part of a product name or a size:

1. A number followed by a size or measure unit ("300 g", "2 kg", "500 ml", "5 lb", "60
   capsulas", "$250", "1.5") is never a quantity.
2. A number after a list marker ("la 2", "el 3", "#2", "number 3", "opción 2") is a
   reference to a listed item, not a quantity.
3. Among the rest, a *marked* quantity wins: a number followed by a count unit ("3 pzas",
   "2 unidades", "4 pieces"), "x3"/"3x", or a quantity phrase ("una docena", "a couple of",
   "half a dozen"). Otherwise the first plain number (digits or words) is the quantity.
4. The articles "un"/"una"/"uno"/"one" count as 1 only when nothing else does; "one" is a
   pronoun, not a quantity, after "the"/"this"/"that"/"which"/"another" or an ordinal
   ("the large one", "the second one").
   Digits right after a word that does not lead a quantity ("Creatina 300") rank below
   number words and digits at the start or after "quiero"/"give me"/"add"...
5. Quantities are 1..999: larger numbers are codes, years or sizes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tendero.agent.nlu.matching import normalize
from tendero.agent.nlu.vocab import (
    COUNT_UNITS,
    ORDINALS,
    QUANTITY_LEAD_WORDS,
    QUANTITY_PHRASES,
    REFERENCE_MARKERS,
    SIZE_UNITS,
    TENS_EN,
    TENS_ES,
    UNITS_EN,
    UNITS_ES,
)

MAX_QUANTITY = 999

_UNITS = {**UNITS_ES, **UNITS_EN}
_TENS = {**TENS_ES, **TENS_EN}
_ARTICLES = frozenset({"un", "una", "uno", "one"})
_PRONOUN_CUES = frozenset({"the", "this", "that", "which", "another", "other", "each", "any"})
_DECIMAL = re.compile(r"^\$|\d[.,]\d")
_X_BEFORE = re.compile(r"^x(\d{1,3})$")
_X_AFTER = re.compile(r"^(\d{1,3})x$")
_DIGITS_UNIT = re.compile(r"^(\d{1,3})([a-z]+)$")
_PHRASES = sorted(
    ((tuple(normalize(p).split()), v) for p, v in QUANTITY_PHRASES.items()),
    key=lambda item: -len(item[0]),
)
_LINKERS = frozenset({"de", "of"})


@dataclass(frozen=True)
class _Word:
    text: str
    raw: int  # index of the whitespace-separated token it came from
    skip: bool  # part of a price or a decimal size


@dataclass(frozen=True)
class _Candidate:
    value: int
    start: int
    end: int  # exclusive, in words
    rank: int  # 0 marked, 1 plain, 2 digits after a name word, 3 article


def _words(text: str) -> tuple[list[str], list[_Word]]:
    raws = text.split()
    out: list[_Word] = []
    for i, raw in enumerate(raws):
        skip = bool(_DECIMAL.search(raw))
        for w in normalize(raw).split():
            out.append(_Word(w, i, skip))
    return raws, out


def _number_word(words: list[_Word], i: int) -> tuple[int, int] | None:
    """(value, words used) of the number written in words at ``i``."""
    w = words[i].text
    if w in _TENS:
        value, used = _TENS[w], 1
        nxt = words[i + 1].text if i + 1 < len(words) else ""
        after = words[i + 2].text if i + 2 < len(words) else ""
        if nxt == "y" and after in UNITS_ES and UNITS_ES[after] < 10:
            return value + UNITS_ES[after], 3
        if nxt in UNITS_EN and UNITS_EN[nxt] < 10 and w in TENS_EN:
            return value + UNITS_EN[nxt], 2
        return value, used
    if w in _UNITS:
        return _UNITS[w], 1
    return None


def _is_reference(words: list[_Word], i: int) -> bool:
    return i > 0 and words[i - 1].text in REFERENCE_MARKERS


def _next(words: list[_Word], i: int) -> str:
    return words[i].text if i < len(words) else ""


def _candidates(words: list[_Word]) -> list[_Candidate]:
    found: list[_Candidate] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.skip:
            i += 1
            continue
        texts = tuple(w.text for w in words[i : i + 4])
        phrase = next((p for p in _PHRASES if texts[: len(p[0])] == p[0]), None)
        if phrase is not None:
            found.append(_Candidate(phrase[1], i, i + len(phrase[0]), 0))
            i += len(phrase[0])
            continue
        w = word.text
        m = _X_BEFORE.match(w) or _X_AFTER.match(w)
        if m:
            found.append(_Candidate(int(m.group(1)), i, i + 1, 0))
        elif w == "x" and _next(words, i + 1).isdigit() and len(_next(words, i + 1)) <= 3:
            found.append(_Candidate(int(words[i + 1].text), i, i + 2, 0))
            i += 2
            continue
        elif (m := _DIGITS_UNIT.match(w)) and m.group(2) in COUNT_UNITS:
            found.append(_Candidate(int(m.group(1)), i, i + 1, 0))
        elif w.isdigit() and len(w) <= 3 and not _is_reference(words, i):
            unit = _next(words, i + 1)
            if unit in COUNT_UNITS:
                found.append(_Candidate(int(w), i, i + 2, 0))
                i += 2
                continue
            if unit not in SIZE_UNITS and unit != "x":
                lead = i == 0 or words[i - 1].text in QUANTITY_LEAD_WORDS
                found.append(_Candidate(int(w), i, i + 1, 1 if lead else 2))
            elif unit == "x":
                found.append(_Candidate(int(w), i, i + 2, 0))
                i += 2
                continue
        elif (number := _number_word(words, i)) is not None and not _is_reference(words, i):
            value, used = number
            unit = _next(words, i + used)
            if unit in SIZE_UNITS:
                i += used
                continue
            if unit in COUNT_UNITS:
                found.append(_Candidate(value, i, i + used + 1, 0))
                i += used + 1
                continue
            if w in _ARTICLES and used == 1:
                before = {x.text for x in words[max(0, i - 3) : i]}
                if w == "one" and (before & _PRONOUN_CUES or before & ORDINALS.keys()):
                    i += 1
                    continue
                found.append(_Candidate(value, i, i + 1, 3))
            else:
                found.append(_Candidate(value, i, i + used, 1))
            i += used
            continue
        i += 1
    return [c for c in found if 1 <= c.value <= MAX_QUANTITY]


def _best(words: list[_Word]) -> _Candidate | None:
    candidates = _candidates(words)
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c.rank, c.start))


def parse_quantity(text: str) -> int | None:
    """The quantity asked for in ``text`` ("dos" -> 2, "media docena" -> 6, "x3" -> 3).

    None when the message gives no quantity; see the module docstring for the rule.
    """
    _, words = _words(text)
    best = _best(words)
    return best.value if best else None


def extract_quantity_and_rest(text: str) -> tuple[int | None, str]:
    """The quantity and the text without it: "2 pzas de café" -> (2, "café").

    A "de"/"of" right after the quantity goes with it. Without a quantity the text comes
    back unchanged (trimmed).
    """
    raws, words = _words(text)
    best = _best(words)
    if best is None:
        return None, " ".join(raws)
    end = best.end
    if end < len(words) and words[end].text in _LINKERS:
        end += 1
    if end < len(words) and best.rank == 0 and words[end].text in {"the", "los", "las"}:
        end += 1
    drop = {words[k].raw for k in range(best.start, end)}
    rest = " ".join(r for k, r in enumerate(raws) if k not in drop)
    return best.value, rest.strip(" ,.;:!?¿¡")
