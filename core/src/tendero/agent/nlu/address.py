"""Emails, postal codes and free-form addresses (Mexican and US formats).

:func:`parse_address` returns only the order-contract keys it found (street,
house_number, interior, neighborhood, postal_code, city, state, references) so that the
checkout can ask for the rest. How a message is read:

1. The email and the postal code are taken out first.
2. The rest is cut into segments at commas, semicolons and new lines, and before the
   markers "col."/"colonia"/"fracc." (neighborhood) and "entre"/"referencia"/"near"...
   (delivery references).
3. A segment with a street word ("calle", "av.", "street", "ave"...) or a number is the
   street: "Apt 3"/"int 4"/"depto 2" is the interior, "#23"/"no. 23" the house number;
   otherwise the house number is the trailing number (Mexico: "Insurgentes Sur 1602") or
   the leading one (US: "45 Elm Street").
4. A segment that is or ends with a state (Mexican names and common abbreviations such as
   CDMX, Jal., NL; US two-letter codes and names) gives the state, and the words before
   it the city ("Austin TX", "Guadalajara, Jalisco"). When two segments name a state,
   the last one is the state and an earlier bare one is the city ("Washington, DC",
   "Puebla, Puebla").
5. Remaining plain segments: in Mexico the first is the neighborhood when another gives
   the city; the last one is the city. A state that names its capital ("CDMX", "Puebla")
   is also the city when none was given.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from tendero.agent.nlu.matching import normalize
from tendero.agent.nlu.vocab import (
    MX_STATE_IS_CITY,
    MX_STATES,
    NEIGHBORHOOD_MARKERS,
    REFERENCE_MARKERS_ADDRESS,
    STREET_TYPES,
    US_AMBIGUOUS_CODES,
    US_DIRECTIONALS,
    US_STATES,
)

# The lookbehind starts a match only where a local part can start: without it a long run
# of local-part characters with no "@" is rescanned from every position (quadratic).
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
MAX_EMAIL_LENGTH = 254  # RFC 5321's limit on an address in a mail path

_MX_LABELLED = re.compile(
    r"(?i)\b(?:c\.?\s?p\.?|c[oó]d(?:igo|\.)?\s+postal)\s*[:#]?\s*(\d{5})(?!\d)"
)
_US_LABELLED = re.compile(
    r"(?i)\b(?:zip(?:\s*code)?|postal\s+code)\s*[:#]?\s*(\d{5}(?:-\d{4})?)(?![\d-])"
)
_GENERIC_LABELLED = re.compile(
    r"(?i)\b(?:c\.?\s?p\.?|c[oó]digo\s+postal|zip(?:\s*code)?|postal\s+code)\s*[:#]?\s*([A-Za-z0-9][A-Za-z0-9 -]{2,8}[A-Za-z0-9])"
)
_FIVE = re.compile(r"(?<![\d-])(\d{5})(?![\d-])")
_ZIP = re.compile(r"(?<![\d-])(\d{5}(?:-\d{4})?)(?![\d-])")

_INTERIOR = re.compile(
    r"(?i)\b(int(?:erior)?|depto|dpto|departamento|depa|apt|apartment|unit|suite|ste)\.?"
    r"\s*(?:#|no\.?|num\.?)?\s*([A-Za-z]?\d+[A-Za-z]?(?:-[A-Za-z0-9]+)?|[A-Za-z])\b"
)
_INTERIOR_WORDS = re.compile(r"(?i)\b(piso|local|torre|edificio|edif\.?)\s+([A-Za-z0-9-]+)\b")
_MARKED_NUMBER = re.compile(
    r"(?i)(?:#|\bno\.|\bnum\.?|\bn[uú]mero|\bnro\.?|\bno\s+(?=\d))\s*(\d+[A-Za-z]?(?:-[A-Za-z0-9]+)?)\b"
)
_NO_NUMBER = re.compile(r"(?i)\bs\s*/\s*n\b|\bsin\s+n[uú]mero\b")
_LEADING_NUMBER = re.compile(r"^\s*(\d+[A-Za-z]?(?:-[A-Za-z0-9]+)?)\b\s*(.*)$")
_TRAILING_NUMBER = re.compile(r"^(.*?\D)\s+(\d+[A-Za-z]?(?:-[A-Za-z0-9]+)?)\s*$")

_SEPARATORS = re.compile(r"[,;\n]+")
_NEIGHBORHOOD_START = re.compile(
    r"(?i)^(?:colonia|col|fraccionamiento|fracc|barrio|residencial)\b\.?\s*:?\s*"
)
_MARKER_SPLIT = re.compile(
    r"(?i)(?<=\S)\s+(?=(?:colonia|col\.|col|fracc\.|fraccionamiento|entre|referencias?|ref\.|frente\s+a|junto\s+a|cerca\s+de|near|next\s+to|across\s+from|between)\b)"
)
_REFERENCE_LABEL = re.compile(r"(?i)^(?:referencias?|ref)\s*\.?\s*:?\s*")


def extract_email(text: str) -> str | None:
    """The first email address in ``text``, lower-cased, or None (a match with nothing
    before the "@" once its dots are trimmed, or longer than an address can be, is not
    one)."""
    for m in _EMAIL.finditer(text):
        email = m.group(0).strip(".").lower()
        if not email.startswith("@") and len(email) <= MAX_EMAIL_LENGTH:
            return email
    return None


def _postal_span(text: str, country: str) -> tuple[str, int, int] | None:
    country = country.upper()
    if country == "MX":
        m = _MX_LABELLED.search(text)
        if m:
            return m.group(1), m.start(), m.end()
        found = list(_FIVE.finditer(text))
        return (found[-1].group(1), found[-1].start(), found[-1].end()) if found else None
    if country == "US":
        m = _US_LABELLED.search(text)
        if m:
            return m.group(1), m.start(), m.end()
        # A five-digit number followed by words ("12345 Main St") is a house number.
        found = [z for z in _ZIP.finditer(text) if not re.match(r"\s+[A-Za-z]", text[z.end() :])]
        return (found[-1].group(1), found[-1].start(), found[-1].end()) if found else None
    m = _GENERIC_LABELLED.search(text)
    return (m.group(1).strip(), m.start(), m.end()) if m else None


def extract_postal_code(text: str, country: str) -> str | None:
    """The postal code in ``text`` for ``country`` (ISO code).

    MX: five digits, preferably labelled ("CP 03940", "C.P. 44100"), else the last
    standalone five-digit number. US: a 5-digit or ZIP+4 code ("78701", "78701-1234"),
    never a number followed by words ("12345 Main St"). Other countries: only a labelled code.
    """
    text = _EMAIL.sub(" ", text)
    found = _postal_span(text, country)
    return found[0] if found else None


# --- states -----------------------------------------------------------------------------

_MX_ALIASES: dict[str, str] = {
    alias: name for name, aliases in MX_STATES.items() for alias in aliases
}
_US_NAMES: dict[str, str] = {name: code for code, name in US_STATES.items()}


def _mx_state(words: list[str]) -> str | None:
    """The Mexican state the folded ``words`` name exactly (typos allowed on names)."""
    joined = " ".join(words)
    if joined in _MX_ALIASES:
        return _MX_ALIASES[joined]
    if len(joined) >= 6:
        for alias, name in _MX_ALIASES.items():
            if len(alias) >= 6 and fuzz.ratio(joined, alias) >= 88:
                return name
    return None


def _us_state(words: list[str], raw_words: list[str]) -> str | None:
    joined = " ".join(words)
    if joined in _US_NAMES:
        return _US_NAMES[joined]
    if len(words) == 1 and joined.upper() in US_STATES:
        if joined not in US_AMBIGUOUS_CODES or raw_words[-1].strip(".,").isupper():
            return joined.upper()
    return None


def _split_state(segment: str, country: str) -> tuple[str | None, str]:
    """(state, the words before it) when ``segment`` ends with a state."""
    raw = segment.split()
    words = [normalize(w) for w in raw]
    pairs = [(w, r) for w, r in zip(words, raw, strict=True) if w]
    if not pairs:
        return None, segment
    words = [w for w, _ in pairs]
    raw = [r for _, r in pairs]
    for k in range(min(4, len(words)), 0, -1):
        tail, raw_tail = words[-k:], raw[-k:]
        flat = " ".join(tail).split()
        state = _mx_state(flat) if country != "US" else _us_state(flat, raw_tail)
        if state is None and country not in {"US", "MX"}:
            state = _mx_state(flat) or _us_state(flat, raw_tail)
        if state is not None:
            return state, " ".join(raw[:-k]).strip(" ,.")
    return None, segment


# --- streets ----------------------------------------------------------------------------


def _has_street_word(segment: str) -> bool:
    return any(w in STREET_TYPES for w in normalize(segment).split())


def _parse_street(segment: str, country: str) -> dict[str, str]:
    out: dict[str, str] = {}
    m = _INTERIOR.search(segment)
    if m:
        out["interior"] = m.group(2)
        segment = segment[: m.start()] + " " + segment[m.end() :]
    else:
        m = _INTERIOR_WORDS.search(segment)
        if m and re.search(r"\d", segment[: m.start()]):
            out["interior"] = f"{m.group(1)} {m.group(2)}"
            segment = segment[: m.start()] + " " + segment[m.end() :]
    m = _MARKED_NUMBER.search(segment)
    if m:
        out["house_number"] = m.group(1)
        segment = segment[: m.start()] + " " + segment[m.end() :]
    elif m := _NO_NUMBER.search(segment):
        out["house_number"] = "S/N"
        segment = segment[: m.start()] + " " + segment[m.end() :]
    else:
        lead = _LEADING_NUMBER.match(segment)
        trail = _TRAILING_NUMBER.match(segment)
        lead_ok = lead is not None and re.search(r"[A-Za-z]", lead.group(2)) is not None
        if lead_ok and lead is not None and normalize(lead.group(2)).split()[:1] == ["de"]:
            lead_ok = False  # "5 de Mayo" is a street name
        if country == "US" and lead_ok and lead is not None:
            out["house_number"], segment = lead.group(1), lead.group(2)
        elif trail is not None and re.search(r"[A-Za-z]", trail.group(1)):
            out["house_number"], segment = trail.group(2), trail.group(1)
        elif lead_ok and lead is not None:
            out["house_number"], segment = lead.group(1), lead.group(2)
    street = " ".join(segment.replace("#", " ").split()).strip(" ,.-:")
    if re.search(r"[A-Za-z]", street):
        out["street"] = street
    return out


def _us_street_and_city(segment: str) -> tuple[str, str | None]:
    """Split "45 Elm Street Austin" after the last street word: ("45 Elm Street", "Austin")."""
    raw = segment.split()
    last = -1
    for i, w in enumerate(raw):
        if normalize(w) in STREET_TYPES and i > 0:
            last = i
    while 0 <= last < len(raw) - 1 and normalize(raw[last + 1]) in US_DIRECTIONALS:
        last += 1
    if last < 0 or last == len(raw) - 1:
        return segment, None
    rest = raw[last + 1 :]
    if _INTERIOR.match(" ".join(rest)):
        return segment, None
    return " ".join(raw[: last + 1]), " ".join(rest)


# --- the whole address ------------------------------------------------------------------


def _segments(text: str) -> list[str]:
    text = _MARKER_SPLIT.sub(", ", text)
    return [s.strip(" .:-\t") for s in _SEPARATORS.split(text) if s.strip(" .:-\t")]


def _starts_with_any(segment: str, phrases: tuple[str, ...]) -> bool:
    folded = normalize(segment)
    return any(folded == p or folded.startswith(p + " ") for p in map(normalize, phrases))


def parse_address(text: str, country: str = "MX") -> dict[str, str]:
    """The address fields found in a free-form message; keys absent when not given.

    Keys: street, house_number, interior, neighborhood, postal_code, city, state,
    references. ``country`` is the store's ISO country ("MX", "US"...), which decides the
    postal-code format and whether the house number is read before or after the street.
    """
    country = country.upper()
    out: dict[str, str] = {}
    text = _EMAIL.sub(",", text)
    postal = _postal_span(text, country)
    if postal is not None:
        out["postal_code"] = postal[0]
        text = text[: postal[1]] + "," + text[postal[2] :]
    plain: list[str] = []
    references: list[str] = []
    state_only: str | None = None  # a segment that was nothing but a state name
    for segment in _segments(text):
        if _NEIGHBORHOOD_START.match(segment) and _starts_with_any(segment, NEIGHBORHOOD_MARKERS):
            value = _NEIGHBORHOOD_START.sub("", segment).strip(" .")
            state, before = _split_state(value, country)
            if state is not None and before and not re.search(r"\d", before):
                out.setdefault("state", state)
                value = before
            if value:
                out.setdefault("neighborhood", value)
            continue
        if _starts_with_any(segment, REFERENCE_MARKERS_ADDRESS):
            references.append(_REFERENCE_LABEL.sub("", segment).strip())
            continue
        state, before = _split_state(segment, country)
        if state is not None and not re.search(r"\d", before):
            if state_only is not None:
                out.setdefault("city", state_only)  # "Washington, DC": that was the city
            state_only = segment if not before else None
            out["state"] = state
            if before:
                plain.append(before)
            continue
        if state is not None:
            out.setdefault("state", state)
            segment = before
        if re.search(r"\d", segment) or _has_street_word(segment):
            if "street" in out:
                extra = _parse_street(segment, country)
                for key in ("house_number", "interior"):
                    if key in extra:
                        out.setdefault(key, extra[key])
                if "street" in extra and "house_number" not in extra:
                    plain.append(segment)
                continue
            city = None
            if country == "US":
                segment, city = _us_street_and_city(segment)
            for key, value in _parse_street(segment, country).items():
                out.setdefault(key, value)
            if city:
                out.setdefault("city", city)
            continue
        plain.append(segment)
    _assign_plain(out, plain, country)
    if references:
        out["references"] = "; ".join(r for r in references if r)
    return {k: v for k, v in out.items() if v}


def _assign_plain(out: dict[str, str], plain: list[str], country: str) -> None:
    state_city = out.get("state") if out.get("state") in MX_STATE_IS_CITY else None
    if country == "MX" and "neighborhood" not in out and plain:
        city_known = "city" in out or state_city is not None
        if len(plain) >= 2 or city_known:
            out["neighborhood"] = plain.pop(0)
    if "city" not in out and plain:
        out["city"] = plain.pop()
    if "city" not in out and state_city is not None:
        out["city"] = state_city
