"""Short choice titles that stay distinct: the part that tells variants apart stays visible.

Channels cut what a customer taps: WhatsApp list rows to 24 characters, reply buttons
and Messenger/Instagram quick replies to 20. Cutting the end of product names makes
variants look the same ("Tenis Running Negro 2…" twice), and the customer cannot tell
which one to tap. :func:`distinct_titles` shortens a set of titles together instead:

* a title that fits is shown whole;
* otherwise the words it shares with its closest siblings (the titles that begin like
  it) are shortened, and the words that differ are kept: "Tenis Running Negro Talla 25"
  and "… Talla 26" become "Tenis Running Negro… 25" / "… 26", "Proteína Whey Gold
  Chocolate 2 lb" and "… Vainilla 2 lb" keep "Chocolate" and "Vainilla";
* when that still leaves two alike, more of each title is kept, and as a last resort
  the titles that remain alike are numbered ("2. …").

Only the shown titles change: the ids of the buttons and rows (what a tap sends back)
are untouched. :func:`fit_list_rows` also puts the full name in the row description
(before the existing description, such as the price) when the row title was shortened.
"""

from __future__ import annotations

from collections.abc import Sequence

from tendero.channels.base import ELLIPSIS, Button, ListRow

# Separates the full name from the original description in a shortened list row.
DESCRIPTION_SEPARATOR = " · "
# The full name goes before a description only with at least this much room for it.
MIN_NAME_ROOM = 12
_PUNCTUATION = ".,;:!?¡¿()[]\"'"
# Units that stay with the number before them ("250 g", "4 L"), so a cut never shows
# "250…" and two sizes never compare as sharing their unit.
UNITS = frozenset(
    "g gr grs kg kgs mg lb lbs oz ml cl l lt lts cc gal m cm mm mts in pulg "
    "u uds pz pzs pza pzas pack w v mah gb tb "
    "gramos kilo kilos libras onzas litro litros galón galon galones metros piezas "
    "unidades pc pcs ct count gallon gallons quart quarts pint pints pound pounds "
    "ounce ounces liter liters litre litres".split()
)


def distinct_titles(titles: Sequence[str], limit: int) -> list[str]:
    """``titles`` shortened to at most ``limit`` characters each, all different.

    Titles that fit and differ come back as they are (whitespace collapsed). Otherwise
    each long title keeps the words that set it apart from the titles that begin like
    it, and shortens the words they share (see the module documentation). Titles that
    are identical to begin with are told apart by a number ("1. …", "2. …").
    """
    words = [_words(title) for title in titles]
    keys = [[_key(word) for word in title] for title in words]
    # Each title tries its narrowest span first; titles still alike move to wider ones.
    spans = [_spans(keys, i) for i in range(len(titles))]
    level = [0] * len(titles)
    while True:
        shown = [_shorten(words[i], *spans[i][level[i]], limit) for i in range(len(titles))]
        alike = _alike(shown)
        widened = False
        for i in alike:
            if level[i] + 1 < len(spans[i]):
                level[i] += 1
                widened = True
        if not alike or not widened:
            break
    if alike:
        shown = _numbered(words, shown, alike, limit)
    if _alike(shown):
        shown = _numbered(words, shown, set(range(len(titles))), limit)
    return shown


def fit_buttons(buttons: Sequence[Button], limit: int) -> list[Button]:
    """``buttons`` with titles of at most ``limit`` characters, all distinct."""
    titles = distinct_titles([b.title for b in buttons], limit)
    return [Button(b.id, title) for b, title in zip(buttons, titles, strict=True)]


def fit_list_rows(
    rows: Sequence[ListRow], title_limit: int, description_limit: int
) -> list[ListRow]:
    """``rows`` with distinct titles of at most ``title_limit`` characters and
    descriptions of at most ``description_limit``.

    A row whose title had to be shortened gets its full name in the description, in
    front of the description it had ("Tenis Running Negro Talla 25 · $1,299.00"), so
    nothing of the name is lost; the original description (a price) is kept whole when
    there is room for both.
    """
    titles = distinct_titles([r.title for r in rows], title_limit)
    fitted = []
    for row, title in zip(rows, titles, strict=True):
        full = " ".join(row.title.split())
        if title == full:
            description = _cut(row.description, description_limit) if row.description else None
        else:
            description = _describe(full, row.description, description_limit)
        fitted.append(ListRow(row.id, title, description or None))
    return fitted


# --- which words tell a title apart ----------------------------------------------------------


def _words(title: str) -> list[str]:
    """The words of ``title``, a number and its unit counting as one ("500 g")."""
    words: list[str] = []
    for word in title.split():
        if words and words[-1][-1].isdigit() and _key(word) in UNITS:
            words[-1] = f"{words[-1]} {word}"
        else:
            words.append(word)
    return words


def _key(word: str) -> str:
    """How words compare: case and surrounding punctuation do not count."""
    return word.strip(_PUNCTUATION).casefold() or word


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _common_suffix(a: list[str], b: list[str]) -> int:
    return _common_prefix(a[::-1], b[::-1])


def _spans(keys: list[list[str]], i: int) -> list[tuple[int, int]]:
    """The word spans ``(start, end)`` to keep visible in title ``i``, narrowest first:
    what differs from its closest siblings, from all its siblings, the whole title."""
    own = keys[i]
    n = len(own)
    whole = (0, n)
    # Siblings: the other titles that begin with the same word.
    siblings = []
    for j, other in enumerate(keys):
        if j == i:
            continue
        prefix = _common_prefix(own, other)
        if prefix:
            # A shared prefix and suffix may overlap in repetitive names; clamp.
            suffix = min(_common_suffix(own, other), n - prefix)
            siblings.append((prefix, n - suffix))
    if not siblings:
        # Nothing begins like this title: its first word already tells it apart.
        return [whole]
    closest = max(prefix for prefix, _ in siblings)
    narrow = _widen(closest, max(end for prefix, end in siblings if prefix == closest), n)
    wide = _widen(min(prefix for prefix, _ in siblings), max(end for _, end in siblings), n)
    return [narrow, wide, whole]


def _widen(start: int, end: int, n: int) -> tuple[int, int]:
    """A span that shows something: an empty one (this title is a shortened form of a
    sibling's) takes in the words around the gap, so where it ends shows."""
    end = max(end, start)
    if start == end:
        start, end = max(0, start - 1), min(n, end + 1)
    return start, end


# --- shortening one title --------------------------------------------------------------------


def _shorten(words: list[str], start: int, end: int, limit: int) -> str:
    """``words`` in at most ``limit`` characters, keeping ``words[start:end]`` whole if
    possible and as much of the rest as fits, with "…" where words were left out."""
    full = " ".join(words)
    if not full:
        return ELLIPSIS
    if len(full) <= limit:
        return full
    if (start, end) != (0, len(words)):
        best = _around(words, start, end, limit)
        if best is not None:
            return best
        # The differing words alone are too long: show as much of them as fits.
        lead = ELLIPSIS if start > 0 else ""
        return lead + _ends(words[start:end], limit - len(lead))
    return _ends(words, limit)


def _around(words: list[str], start: int, end: int, limit: int) -> str | None:
    """The best fitting form that shows ``words[start:end]`` and shortens what is
    around it: the first ``a`` words, "…", the ``b`` words just before the span, the
    span, and the first ``m`` words after it (then "…" if any were left out).

    Best: fewest "…", then beginning with the title's first word (what the product
    is), then the most characters shown.
    """
    n = len(words)
    best: tuple[tuple[int, bool, int, int, int], str] | None = None
    # Each added word makes the text longer, so each loop stops at the first form that
    # does not fit, and so does the loop around it when its first form did not fit
    # (which keeps long names cheap).
    for a in range(start + 1):
        a_fits = False
        for b in range(start - a + 1):
            b_fits = False
            for m in range(n - end + 1):
                if a + b == start and end + m == n:
                    break  # the whole title, which does not fit
                text = _compose(words[:a], a + b < start, words[start - b : end + m], end + m < n)
                if len(text) > limit:
                    break
                a_fits = b_fits = True
                score = (-text.count(ELLIPSIS), a > 0, _visible(text), a, m)
                if best is None or score > best[0]:
                    best = (score, text)
            if not b_fits:
                break
        if not a_fits:
            break
    if best is not None and best[0][1]:
        return best[1]
    if len(words[0]) > limit // 2:
        # A first word too long to ever fit in front of the span: show its first letters.
        span = _compose([], False, words[start:end], end < n)
        room = limit - len(span) - len(ELLIPSIS) - 1
        if room >= 3:
            return f"{' '.join(words[:start])[:room].rstrip()}{ELLIPSIS} {span}"
    return best[1] if best else None


def _ends(words: list[str], limit: int) -> str:
    """``words`` cut to ``limit``, keeping the beginning and the end, where product
    names say the variant ("Sandalia Playa… Talla 23"), as much of both as fits."""
    if limit <= 0:
        return ""
    full = " ".join(words)
    if len(full) <= limit:
        return full
    n = len(words)
    best: tuple[tuple[bool, int, int], str] | None = None
    for a in range(1, n):
        a_fits = False
        for c in range(n - a):
            text = _compose(words[:a], True, words[n - c :], False)
            if len(text) > limit:
                break  # more words only make it longer
            a_fits = True
            score = (c > 0, _visible(text), a)
            if best is None or score > best[0]:
                best = (score, text)
        if not a_fits:
            break
    if best is not None:
        return best[1]
    # Even the first word is too long: cut inside it, still keeping the last word if
    # it takes no more than half the room.
    tail = words[-1] if n > 1 and len(words[-1]) <= limit // 2 else ""
    room = limit - len(ELLIPSIS) - (len(tail) + 1 if tail else 0)
    if room <= 0:
        return full[:limit]
    return full[:room].rstrip() + ELLIPSIS + (f" {tail}" if tail else "")


def _compose(head: list[str], gap: bool, middle: list[str], cut_end: bool) -> str:
    """``head`` words, "…" if words were left out after them, ``middle`` words, and a
    final "…" if the title goes on: "Tenis Running… 25", "…Negro 25", "Whey… Fresa…"."""
    text = " ".join(head)
    if gap:
        text += ELLIPSIS
    if middle:
        joined = " ".join(middle)
        text = f"{text} {joined}" if head else text + joined
    if cut_end:
        text += ELLIPSIS
    return text


def _visible(text: str) -> int:
    return len(text) - text.count(ELLIPSIS)


def _alike(shown: list[str]) -> set[int]:
    """Indexes of the titles that look the same as another one (case aside)."""
    seen: dict[str, list[int]] = {}
    for i, title in enumerate(shown):
        seen.setdefault(title.casefold(), []).append(i)
    return {i for group in seen.values() if len(group) > 1 for i in group}


def _numbered(words: list[list[str]], shown: list[str], which: set[int], limit: int) -> list[str]:
    """``shown`` with the titles at ``which`` numbered by their position ("2. Tenis…")."""
    result = list(shown)
    for i in which:
        number = f"{i + 1}. "
        result[i] = number + _shorten(words[i], 0, len(words[i]), limit - len(number))
    return result


# --- descriptions ----------------------------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (with "…" when cut)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ELLIPSIS), 0)].rstrip() + ELLIPSIS


def _describe(full_title: str, description: str | None, limit: int) -> str:
    """The description of a row whose title was shortened: the full name, then the
    original description, which is kept whole when the name still has some room."""
    extra = " ".join((description or "").split())
    if not extra:
        return _ends(_words(full_title), limit)
    room = limit - len(DESCRIPTION_SEPARATOR) - len(extra)
    if room >= min(len(full_title), MIN_NAME_ROOM):
        name = _ends(_words(full_title), room)
        return f"{name}{DESCRIPTION_SEPARATOR}{extra}"
    return _cut(f"{full_title}{DESCRIPTION_SEPARATOR}{extra}", limit)
