"""One reading per message: typed spans, then what the customer asks for.

A message is read once, left to right, into non-overlapping **spans** (the Duckling
model): an email, a phone number, a postal code and the parts of an address are taken
first, then measures ("500 g", "medio kilo", "1/2\""), the catalog's attribute values
("negro", "talla 26", "M"), quantities, references to the last list ("la 2", "the blue
one"), and the words that name products. A span used by one reading is not available to
another, so the digits of "Depto 4B, CP 03100" can never become a quantity, and "de 100"
in a shop that sells 100 g soap is a size, not 100 soaps.

The spans are then grouped into **item mentions** (one per product asked for, each with
its quantity, product words and values) and the message-wide signals: the cart verb
(add, remove, set, price, stock), a delivery method and a store location, yes/no, a
question, a person asked for, cancel, checkout.

Everything here is pure: the catalog's vocabulary (:class:`~tendero.catalog.facets.
CatalogFacets`) and what the agent asked last come in as arguments, and the result is a
plain data structure that tests assert on directly.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from rapidfuzz import fuzz, process

from tendero.agent.nlu.intents import (
    delivery_choice,
    is_checkout,
    yes_no,
)
from tendero.agent.nlu.matching import has_phrase, normalize
from tendero.agent.nlu.vocab import (
    CHECKOUT_PHRASES,
    COUNT_UNITS,
    ENGLISH_WORDS,
    GREETINGS,
    HOUSE_NUMBER_MARKERS,
    HUMAN_PHRASES,
    INTERIOR_MARKERS,
    NEIGHBORHOOD_MARKERS,
    NO_PHRASES,
    ORDINALS,
    PICKUP_PHRASES,
    QUANTITY_PHRASES,
    SHIPPING_PHRASES,
    SHOW_CART_PHRASES,
    SPANISH_WORDS,
    STREET_TYPES,
    TENS_EN,
    TENS_ES,
    UNITS_EN,
    UNITS_ES,
    YES_PHRASES,
)
from tendero.catalog.facets import SINGLE_LETTER_SIZES, SIZE_WORDS, CatalogFacets, find_measures
from tendero.catalog.text import is_stopword, term_key

SpanKind = Literal[
    "email",
    "phone",
    "postal_code",
    "address",
    "measure",
    "value",
    "number",  # a number that may be a quantity or an attribute value: see Span.value
    "quantity",
    "reference",
    "term",
    "all",  # "los dos", "both", "de cada uno": what follows applies to every item
    "location",  # a word of one of the store's locations ("Roma", "Chapalita")
    "sku",  # a product code of the catalog
]
Verb = Literal["add", "remove", "set", "replace", "price", "stock", "info"]
Expecting = Literal[
    "quantity", "list", "delivery", "location", "fields", "confirm", "saved_details", "receipt"
]

MAX_QUANTITY = 999

# --- vocabulary of the reading -----------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(
    r"(?<![\w-])(?:\+?\d{1,3}[\s.-]?)?(?:\(?\d{2,3}\)?[\s.-]?\d{3,4}[\s.-]?\d{4}|\d{10})(?![\w-])"
)
_POSTAL_LABELLED = re.compile(
    r"(?i)(?<!\w)(?:c\.?\s?p\.?|c[oó]d(?:igo|\.)?\s+postal|zip(?:\s*code)?|postal\s+code)"
    r"\s*[:#]?\s*(\d[\d -]{1,9}\d)(?!\d)"
)
_FIVE_DIGITS = re.compile(r"(?<![\w-])\d{5}(?:-\d{4})?(?![\w-])")
_TOKEN = re.compile(r"#?[^\s,;:!?¿¡()\[\]{}]+")
_TRIM = ".'’\"“”*_~"

# Chat words that never name a product, however close their spelling is to one
# ("mande" ~ "mango", "ok va" ~ "ova", "ya te mandé" ~ "mandala"). Typo tolerance applies
# only to words outside this list.
CHAT_WORDS = frozenset(
    """
    hola holi ola buenas buenos dias tardes noches gracias grax porfa favor plis pls please
    thanks thank thx ok okay oki okey va vale sale sip sii simon nel nop nope yes yeah yep
    mande mandé mando mandar mandas manda mandame mande mandaste mandé mandamos enviar envie
    envio envié enviado envia envias enviame listo lista ya ahi aqui alla bueno buena bien
    perfecto perfect great cool nice genial super claro chido padre orale andale ándale
    quiero quisiera queria necesito ocupo dame deme pasame tienes tienen tiene hay venden
    manejan want need give have got get sell selling looking busco buscando pago pague pagué
    pagar pagado transferencia transferi deposito comprobante captura foto recibo receipt
    screenshot paid pay payment dinero money tarjeta card efectivo cash pedido pedidos order
    orden compra comprar buy precio price cuanto cuesta cuestan costo cost vale valen
    total envío shipping delivery recoger pickup tienda store sucursal local domicilio casa
    direccion address calle street colonia numero number correo email mail telefono phone
    cel celular whatsapp nombre name llamo soy mi mis my me tu your su sus el la los las lo
    un una unos unas the a an of de del al para for con with sin without y and o or pero but
    que what cual which como how cuando when donde where porque why quien who
    si no not nada nothing todo all eso esto that this these those ese esa esos esas
    mas more menos less otro otra another other tambien also too igual same mismo misma
    jaja jajaja jeje haha lol xd sorry perdon disculpa oye hey hi hello bye adios luego
    later tarde pronto soon ahorita now hoy today mañana manana tomorrow semana week
    persona person humano human alguien someone dueño dueno owner encargado manager
    llamar llamen llama call hablar talk speak ayuda help duda pregunta question
    carrito cart quita quitar remove borra delete agrega agregar add pon ponme put
    mejor better cambia change cambiar solo only just nomas nomás nadamas
    then entonces pues okis dale sale wait espera espere perate sabes mira look
    """.split()
)


def _intent_words() -> frozenset[str]:
    """Every word of the phrases that carry an intent (buy, remove, cancel, yes, no,
    checkout, a person, delivery...): such a word is never a misspelt product or value
    ("cancela" is not "canela", "mande" is not "mango")."""
    phrases = (
        *REMOVE_WORDS, *SET_WORDS, *ADD_WORDS, *BUY_WORDS, *PRICE_WORDS, *STOCK_WORDS,
        *CANCEL_WORDS, *PERSON_WORDS, *THANKS_WORDS, *YES_PHRASES, *NO_PHRASES,
        *CHECKOUT_PHRASES, *HUMAN_PHRASES, *SHIPPING_PHRASES, *PICKUP_PHRASES,
        *GREETINGS, *SHOW_CART_PHRASES,
    )  # fmt: skip
    return frozenset(w for p in phrases for w in normalize(p).split() if len(w) >= 4)


_UNITS = {**UNITS_ES, **UNITS_EN}
_TENS = {**TENS_ES, **TENS_EN}
_ARTICLE_ONE = frozenset({"un", "una", "uno", "one", "a", "an"})
_QUANTITY_PHRASES = sorted(
    ((tuple(normalize(p).split()), v) for p, v in QUANTITY_PHRASES.items()),
    key=lambda item: -len(item[0]),
)
_COUNT_NOUNS = COUNT_UNITS | {"par", "pares", "pair", "pairs", "juego", "juegos", "set", "sets"}
# Words before a number that make it an attribute value ("del 26", "talla 8", "size 10").
_VALUE_CUES = frozenset(
    "del talla tallas size sz numero num no nro medida calibre grano grit tono shade color "
    "de en in".split()
)
# Words after which a number is how many ("quiero 12", "dame 20", "need 50").
_QUANTITY_CUES = frozenset(
    "quiero ocupo necesito dame deme ponme pon mandame manda llevo unos unas como sean "
    "want need give get take order about around like it make".split()
)
_STRONG_VALUE_CUES = frozenset("del talla size sz medida calibre grit tono shade".split())
_REFERENCE_MARKERS = frozenset("la el lo numero num no nro number opcion option item #".split())
_POINTERS_ONE = frozenset("ese esa eso este esta that this it".split())

REMOVE_WORDS = (
    "quita", "quitar", "quitale", "quitame", "quitalo", "quitala", "quitalos", "quitalas",
    "saca", "sacar", "sacale", "elimina", "eliminar", "borra", "borrar", "ya no quiero",
    "no quiero", "sin", "remove", "delete", "take out", "take off", "drop", "no more",
    "get rid of", "without", "dont want", "cancel the", "cancela el", "cancela la",
    "scratch", "forget the", "olvida el", "olvida la", "nevermind the",
)  # fmt: skip
SET_WORDS = (
    "en total", "in total", "total", "van a ser", "serian", "that makes", "all together",
    "mejor solo", "nada mas", "solo", "mejor", "cambia", "cambialo", "cambiala",
    "cambiar a", "que sean", "ponle", "dejalo en", "deja", "make it", "make that",
    "change it to", "change", "only", "just", "instead", "actually",
)  # fmt: skip
ADD_WORDS = (
    "agrega", "agregame", "agregale", "agregar", "anade", "anademe", "suma", "sumale",
    "tambien", "ademas", "aparte", "otro", "otra", "otros", "otras", "add", "also",
    "plus", "another", "as well", "one more", "uno mas", "una mas", "otro mas", "otra mas",
)  # fmt: skip
BUY_WORDS = (
    "quiero", "quisiera", "queria", "dame", "deme", "damelo", "me das", "me da", "ponme",
    "pon", "mandame", "manda", "envia", "enviame", "me llevo", "llevo", "compro", "ocupo",
    "necesito", "pideme", "aparta", "apartame", "separame", "regalame", "me regalas",
    "pasame", "me pasas", "i want", "i'd like", "id like", "i would like", "ill take",
    "i'll take", "ill have", "give me", "get me", "i need", "buy", "order", "can i get",
    "can i have", "lemme get", "let me get", "send me", "put", "grab", "take", "want",
    "need", "gimme", "me apartas", "me apartan", "me mandas", "me mandan", "me envias",
    "me envian", "me separas", "me guardas", "can you send", "can u send", "can you ship",
    "can u ship", "could you send", "ship me", "reservame", "me reservas", "encargo",
    "pido", "pedir", "ordenar", "comprar", "llevarme", "i'll get", "ill get", "i'll have",
)  # fmt: skip
PRICE_WORDS = (
    "cuanto cuesta", "cuanto cuestan", "cuanto sale", "cuanto salen", "cuanto es",
    "cuanto vale", "cuanto valen", "a cuanto", "que precio", "precio", "precios", "costo",
    "how much", "price", "prices", "cost", "costs", "whats the price",
)  # fmt: skip
STOCK_WORDS = (
    "cuantos quedan", "cuantas quedan", "te quedan", "les quedan", "quedan", "hay existencia",
    "tienen existencia", "en existencia", "disponible", "disponibles", "todavia tienen",
    "aun tienen", "tienen", "tienes", "hay", "manejan", "venden", "in stock", "any left",
    "how many left", "still have", "available", "do you have", "do you sell", "do u have",
    "you have", "you got", "got any",
)  # fmt: skip
INFO_WORDS = (
    "info", "informacion", "detalles", "como es", "que tal es", "de que es", "de que son",
    "de que material", "tell me more", "details", "what is", "whats", "what are", "describe",
    "specs", "ingredientes", "ingredients", "material", "es original", "is it", "are they",
    "es de", "son de", "sirve", "sirven", "works", "work for", "recomiendas", "recommend",
)  # fmt: skip
REPLACE_WORDS = (
    "swap", "swap it", "switch it", "replace", "instead of", "en vez de", "en lugar de",
    "cambiala por", "cambialo por", "cambiamela", "cambiamelo", "cambia la", "cambia el",
    "cambialas", "cambialos", "mejor cambiala", "change it for", "change it to",
    "exchange it", "in place of",
)  # fmt: skip
_LEAD_INS = frozenset("also and y oye ok okay pero but so entonces pues and wait espera".split())
CANCEL_WORDS = (
    "cancela todo", "cancelalo", "cancelar", "cancela", "cancel", "ya no quiero nada",
    "no quiero nada", "olvidalo", "forget it", "never mind", "nevermind",
    "dont want anything", "changed my mind", "cambie de opinion",
)  # fmt: skip
PERSON_WORDS = (
    "alguien con quien", "alguien de la tienda", "alguien que me", "hablar con alguien",
    "hablar con el dueno", "hablar con la duena", "el dueno", "la duena", "encargado",
    "encargada", "gerente", "un asesor", "una asesora", "asesor", "vendedor", "vendedora",
    "me pueden llamar", "me puedes llamar", "me llaman", "me llamas", "llamenme", "marquenme",
    "someone from the shop", "someone from the store", "can someone", "someone call me",
    "call me", "give me a call", "speak to the owner", "talk to the owner", "the owner",
    "the manager", "a manager", "a human", "a person", "real person", "someone real",
    "talk to someone", "speak to someone", "speak with someone", "talk with someone",
)  # fmt: skip
THANKS_WORDS = ("gracias", "muchas gracias", "mil gracias", "thanks", "thank you", "thx", "ty")
QUESTION_OPENERS = (
    "que", "cual", "cuales", "como", "cuando", "donde", "cuanto", "cuantos", "cuantas",
    "por que", "porque", "quien", "what", "which", "how", "when", "where", "why", "who",
    "is", "are", "do", "does", "can", "could", "will", "hay", "tienen", "se puede",
    "puedo", "aceptan", "hacen", "manejan", "venden",
)  # fmt: skip
_SPOKEN_FRACTIONS: dict[str, tuple[str, int]] = {
    "media": ("0.5", 1), "medio": ("0.5", 1), "cuarto": ("0.25", 1),
    "tres cuartos": ("0.75", 2), "octavo": ("0.125", 1), "half": ("0.5", 1),
}  # fmt: skip
_RELATIVE = {
    **dict.fromkeys(
        "grande grandes grandote big bigger biggest large larger largest mayor".split(), "rel:big"
    ),
    **dict.fromkeys(
        "chica chico chicas chicos chiquita chiquito pequena pequeno small smaller smallest "
        "little mini menor".split(),
        "rel:small",
    ),
}
# Words for the shop itself: "recoger en tienda" names no product, even where a product's
# name carries the shop's ("Playera Tienda Fit Roma").
_TIME_SPAN = re.compile(
    r"(?i)\b(?:\d{1,3}|un|una|dos|tres|cuatro|cinco|diez|one|two|three|four|five|ten|a)\s+"
    r"(?:min|mins|minutos?|minutes?|hrs?|horas?|hours?|d[ií]as?|days?|semanas?|weeks?|"
    r"mes|meses|months?|a[nñ]os?|years?)\b"
)
_NOT_ITEM_PHRASES = tuple(
    tuple(p.split())
    for p in (
        "free shipping", "envio gratis", "shipping", "envio", "delivery", "a domicilio",
        "gratis", "for free", "de regalo",
    )
)  # fmt: skip
_STORE_WORDS = frozenset(
    "tienda tiendas sucursal sucursales store stores shop branch local "
    # words too common in names to say which product by themselves ("Oil-Free ...")
    "free gratis new nuevo nueva original pack set kit".split()
)
_PLACE_NOISE = frozenset(
    "sucursal tienda store branch local shop plaza comercial mall the los las del".split()
)
SEPARATORS = frozenset({"y", "and", "&", "+", "plus", "e", "mas", "tambien", "also", "ademas"})


# --- the reading ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """A part of the message and what it was read as (``start``/``end`` in characters)."""

    start: int
    end: int
    kind: SpanKind
    text: str
    value: str | int | None = None  # the value key, the quantity, the list index...


@dataclass(slots=True)
class Mention:
    """One product asked for: its words, values, quantity, or a pointer to one shown.

    ``quantity`` is None when none was written; ``numbers`` are bare numbers that are a
    value of the products in play *and* could be a quantity (the decision asks).
    ``index`` points into the last list (1-based, -1 the last); ``pointer`` is "that
    one" (the product in focus)."""

    terms: list[str] = field(default_factory=list)  # folded product words as written
    values: list[str] = field(default_factory=list)  # value keys ("g:500", "size:M", "negro")
    quantity: int | None = None
    numbers: list[int] = field(default_factory=list)
    index: int | None = None
    pointer: bool = False
    each: bool = False  # "los dos del 26", "1 de cada uno": applies to every item said
    product: int | None = None  # named by its SKU
    start: int = 0
    end: int = 0

    @property
    def empty(self) -> bool:
        return not (
            self.terms
            or self.values
            or self.index is not None
            or self.pointer
            or self.product is not None
        )


@dataclass(slots=True)
class Reading:
    """Everything one message says (see the module doc)."""

    text: str
    spans: list[Span] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    verb: Verb | None = None
    buying: bool = False  # a buying word ("quiero", "give me") or a clear quantity
    delivery: str | None = None  # "shipping" / "pickup"
    email: str | None = None
    phone: str | None = None
    postal_code: str | None = None
    address: bool = False  # address parts were read (street, number, colonia...)
    yes_no: bool | None = None
    question: bool = False
    person: bool = False
    cancel: bool = False
    checkout: bool = False
    show_cart: bool = False
    thanks: bool = False
    locations: list[str] = field(default_factory=list)  # store locations named
    unread: list[str] = field(default_factory=list)  # content words no span took

    def of(self, kind: SpanKind) -> list[Span]:
        return [s for s in self.spans if s.kind == kind]

    @property
    def quantities(self) -> list[int]:
        return [m.quantity for m in self.mentions if m.quantity is not None]

    @property
    def names_products(self) -> bool:
        return any(m.terms for m in self.mentions)

    @property
    def touches_address(self) -> bool:
        """An email, a phone, a postal code or address parts: contact details."""
        return bool(self.email or self.phone or self.postal_code or self.address)


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    raw: str
    word: str  # folded, trimmed


def _tokens(text: str) -> list[_Token]:
    out = []
    for match in _TOKEN.finditer(text):
        raw = match.group(0)
        start, end = match.start(), match.end()
        while raw and raw[-1] in _TRIM + ".":
            raw, end = raw[:-1], end - 1
        while raw and raw[0] in _TRIM:
            raw, start = raw[1:], start + 1
        if raw:
            if re.fullmatch(r"\d+[.,]\d+", raw):
                word = raw.replace(",", ".")  # "25.5", "1,5": one number
            elif re.fullmatch(r"\d+/\d+", raw):
                word = raw  # "1/4": a fraction (of an inch, mostly)
            else:
                word = normalize(raw).replace(" ", "")
            out.append(_Token(start, end, raw, word))
    return out


class _Reader:
    def __init__(
        self,
        text: str,
        facets: CatalogFacets | None,
        expecting: str | None,
        in_play: Sequence[int],
        vocabulary: frozenset[str],
    ) -> None:
        self.text = text
        self.facets = facets or CatalogFacets()
        self.expecting = expecting
        self.in_play = list(in_play)
        # The products in play and their families: "la de 80" after the 120 grit.
        self.playing = {q for p in self.in_play for q in self.facets.family_of(p)}
        self.vocabulary = vocabulary
        self.tokens = _tokens(text)
        self.taken: list[Span | None] = [None] * len(self.tokens)
        self.reading = Reading(text)
        self.words = [t.word for t in self.tokens]
        self.value_words = frozenset(
            p for p in self.facets.value_phrases if " " not in p and len(p) >= 4 and p.isalpha()
        )

    # --- spans -----------------------------------------------------------------------

    def take(self, start: int, end: int, kind: SpanKind, value: str | int | None = None) -> bool:
        """Take the tokens inside [start, end) characters; False if any is taken."""
        idx = [i for i, t in enumerate(self.tokens) if t.start < end and start < t.end]
        if not idx or any(self.taken[i] is not None for i in idx):
            return False
        span = Span(
            self.tokens[idx[0]].start, self.tokens[idx[-1]].end, kind, self.text[start:end], value
        )
        for i in idx:
            self.taken[i] = span
        self.reading.spans.append(span)
        return True

    def take_tokens(self, i: int, j: int, kind: SpanKind, value: str | int | None = None) -> bool:
        return self.take(self.tokens[i].start, self.tokens[j - 1].end, kind, value)

    def free(self, i: int) -> bool:
        return 0 <= i < len(self.tokens) and self.taken[i] is None

    def word(self, i: int) -> str:
        return self.words[i] if 0 <= i < len(self.words) else ""

    # --- contact details ---------------------------------------------------------------

    def contact(self) -> None:
        r = self.reading
        for match in _EMAIL.finditer(self.text):
            if self.take(match.start(), match.end(), "email", match.group(0)):
                r.email = r.email or match.group(0)
        for match in _POSTAL_LABELLED.finditer(self.text):
            if self.take(match.start(), match.end(), "postal_code", match.group(1)):
                r.postal_code = r.postal_code or re.sub(r"\s", "", match.group(1))
        for match in _PHONE.finditer(self.text):
            digits = re.sub(r"\D", "", match.group(0))
            if len(digits) >= 10 and self.take(match.start(), match.end(), "phone", digits):
                r.phone = r.phone or digits
        for match in _FIVE_DIGITS.finditer(self.text):
            if self.take(match.start(), match.end(), "postal_code", match.group(0)):
                r.postal_code = r.postal_code or match.group(0)
        self.address_parts()

    def address_parts(self) -> None:
        """Street, house and interior numbers, colonia: tokens from an address marker to
        the end of its clause (a comma, a period, a new line)."""
        clauses = self.clauses()
        for first, last in clauses:
            words = self.words[first:last]
            street_at = next(
                (
                    k
                    for k, w in enumerate(words)
                    if w in STREET_TYPES and self._street_word(first + k)
                ),
                -1,
            )
            marker_at = next(
                (
                    k
                    for k, w in enumerate(words)
                    if (
                        w in NEIGHBORHOOD_MARKERS
                        or w in INTERIOR_MARKERS
                        or w in ("mz", "lt", "manzana", "lote")
                    )
                    and self._marker_word(first + k)
                ),
                -1,
            )
            starts = [k for k in (street_at, marker_at) if k >= 0]
            house = self._house_number(first, last)
            if house is not None and (starts or self.expecting == "fields" or last - first > 2):
                starts.append(house - first)  # "#2" alone is a list pointer, not a house
            if not starts:
                continue
            begin = first + min(starts)
            if street_at >= 0 and self.word(first)[:1].isdigit():
                begin = first  # "45 Elm Street": the house number comes first
            # Everything from the marker to the clause's end is the address, except what
            # another span holds already (an email, a phone).
            for i in range(begin, last):
                if self.taken[i] is None:
                    self.take_tokens(i, i + 1, "address")
            self.reading.address = True

    def _street_word(self, i: int) -> bool:
        """A street type used as one: followed by a name or a number ("av. juarez 12"),
        and not an English word in another sense ("st" alone, "ct" alone)."""
        nxt = self.word(i + 1)
        prev = self.word(i - 1)
        raw = self.tokens[i].raw
        if self.word(i) in (
            "calle",
            "avenida",
            "av",
            "blvd",
            "calzada",
            "privada",
            "cerrada",
            "andador",
            "carretera",
            "boulevard",
            "bulevar",
            "prolongacion",
            "circuito",
            "street",
            "avenue",
            "road",
            "drive",
            "lane",
            "ave",
        ):
            return (
                bool(nxt)
                or prev.isdigit()
                or any(c.isdigit() for c in self.text[self.tokens[i].end :])
            )
        if raw[:1].isupper() or raw.endswith("."):
            return bool(prev) and (prev.isdigit() or prev.isalpha())
        return prev.isdigit() if prev else False

    def _marker_word(self, i: int) -> bool:
        w = self.word(i)
        nxt = self.word(i + 1)
        if not nxt:
            return False
        if w in ("casa", "local", "unit", "piso", "torre"):
            return any(c.isdigit() for c in nxt)  # "casa 4" but not "a mi casa"
        if w in (
            "int",
            "depto",
            "dpto",
            "apt",
            "ste",
            "suite",
            "interior",
            "departamento",
            "depa",
            "apartment",
            "mz",
            "lt",
            "manzana",
            "lote",
        ):
            return any(c.isdigit() for c in nxt) or len(nxt) == 1
        return True  # col., colonia, fracc.

    def _house_number(self, first: int, last: int) -> int | None:
        """A marked house number ("#12", "no. 45", "num 3") inside the clause."""
        for i in range(first, last):
            raw = self.tokens[i].raw
            if re.fullmatch(r"#\d+[A-Za-z]?(?:-\w+)?", raw):
                return i
            if (
                self.word(i) in HOUSE_NUMBER_MARKERS
                and i + 1 < last
                and self.word(i + 1)[:1].isdigit()
            ):
                if self.word(i) in ("no", "n") and not self.tokens[i].raw.endswith("."):
                    continue  # "no 2 mejor 3" is not a house number
                return i
        return None

    def clauses(self) -> list[tuple[int, int]]:
        """Token ranges between commas, semicolons, new lines and sentence periods."""
        cuts = [0]
        for i in range(1, len(self.tokens)):
            between = self.text[self.tokens[i - 1].end : self.tokens[i].start]
            before = self.tokens[i - 1].raw
            # A period ends a sentence after a number or a long word, not after an
            # abbreviation ("Av. Juárez", "col. Roma", "int. 3").
            sentence = bool(re.search(r"\.\s", between)) and (before.isdigit() or len(before) >= 5)
            if re.search(r"[,;\n]", between) or sentence:
                cuts.append(i)
        cuts.append(len(self.tokens))
        return [(a, b) for a, b in itertools.pairwise(cuts) if a < b]

    def not_items(self) -> None:
        """Phrases about delivery and money that name no product ("free shipping",
        "envío gratis"), and spans of time ("5 min", "hace 4 meses", "10 años"): taken
        before product words and quantities are looked for."""
        for match in _TIME_SPAN.finditer(self.text):
            self.take(match.start(), match.end(), "location", None)
        for phrase in _NOT_ITEM_PHRASES:
            n = len(phrase)
            for i in range(len(self.tokens) - n + 1):
                if tuple(self.words[i : i + n]) == phrase and all(
                    self.free(k) for k in range(i, i + n)
                ):
                    self.take_tokens(i, i + n, "location", None)

    def places(self, locations: Sequence[str]) -> None:
        """Words of the store's location names ("Roma" of "Roma Norte"): a place to pick
        up, never a product word."""
        keys: dict[str, set[str]] = {}
        for name in locations:
            for word in normalize(name).split():
                if len(word) >= 3 and not is_stopword(word) and word not in _PLACE_NOISE:
                    keys.setdefault(word, set()).add(name)
        catalog_word = self.expecting != "location" and not has_phrase(
            self.words, PICKUP_PHRASES, fuzzy=False
        )
        for i, w in enumerate(self.words):
            if catalog_word and (
                term_key(w) in self.facets.by_term or w in self.facets.value_phrases
            ):
                continue  # "one coral too" in a shop named Coral: the coral lipstick
            if self.free(i) and w in keys:
                names = keys[w]
                self.take_tokens(i, i + 1, "location", sorted(names)[0])
                for name in sorted(names):
                    if name not in self.reading.locations:
                        self.reading.locations.append(name)

    # --- measures and values ---------------------------------------------------------------

    def measures(self) -> None:
        for span in find_measures(self.text):
            self.take(span.start, span.end, "measure", span.measure.key)

    def values(self) -> None:
        """The catalog's attribute values, longest phrase first (and size letters where
        the catalog sells them)."""
        phrases = self.facets.value_phrases
        longest = max((len(p.split()) for p in phrases), default=0)
        for n in range(min(longest, 4), 0, -1):
            for i in range(len(self.tokens) - n + 1):
                if not all(self.free(k) for k in range(i, i + n)):
                    continue
                words = self.words[i : i + n]
                phrase = " ".join(words)
                key = phrases.get(phrase)
                if key is None and n == 1:
                    key = self._single_value(i)
                if key is None:
                    continue
                if n == 1 and (words[0].isdigit() or words[0] in _COUNT_NOUNS):
                    continue  # numbers are read below, with their context; "piezas" counts
                self.take_tokens(i, i + n, "value", key)
        # Size words the catalog sells in another spelling ("grande" for "L").
        for i, w in enumerate(self.words):
            if not self.free(i):
                continue
            two = f"{w} {self.word(i + 1)}"
            for text_, width in ((two, 2), (w, 1)):
                letter = SIZE_WORDS.get(text_)
                if letter is None or f"size:{letter}" not in self.facets.by_value:
                    continue
                if width == 1 and w in SINGLE_LETTER_SIZES and not self._size_letter(i):
                    continue
                if width == 2 and not self.free(i + 1):
                    continue
                self.take_tokens(i, i + width, "value", f"size:{letter}")
                break

    def spoken_fractions(self) -> None:
        """ "Tubo de media", "llave de tres cuartos": fractions of an inch said in words,
        where the catalog sells such measures."""
        for i, w in enumerate(self.words):
            if not self.free(i) or self.word(i - 1) not in ("de", "del", "of"):
                continue
            two = f"{w} {self.word(i + 1)}"
            amount, width = _SPOKEN_FRACTIONS.get(two, (None, 2))
            if amount is None:
                amount, width = _SPOKEN_FRACTIONS.get(w, (None, 1))
            if amount is None or (width == 2 and not self.free(i + 1)):
                continue
            key = f"in:{amount}"
            if key in self.facets.by_value:
                self.take_tokens(i, i + width, "value", key)

    def relative_sizes(self) -> None:
        """ "The big one", "la chica", "the smaller bag": the biggest or smallest of the
        products in play (a size word the catalog does not sell as a size)."""
        for i, w in enumerate(self.words):
            if self.free(i) and w in _RELATIVE:
                self.take_tokens(i, i + 1, "value", _RELATIVE[w])

    def _single_value(self, i: int) -> str | None:
        """A one-word value in another spelling: same synonym key ("black" = "negro")."""
        w = self.words[i]
        if len(w) < 3 or is_stopword(w) or w in CHAT_WORDS or w in _COUNT_NOUNS:
            return None
        key = term_key(w)
        if key in self.facets.by_value:
            return key
        exact_term = key in self.facets.by_term  # "martillo" is no misspelt "amarillo"
        if len(w) >= 5 and w.isalpha() and w not in NEVER_FUZZY and not exact_term:
            near = _fuzzy_term(w, self.value_words)
            return self.facets.value_phrases.get(near) if near else None
        return None

    def _size_letter(self, i: int) -> bool:
        """A lone letter is a size only where the catalog sells it and the customer
        wrote it as one ("talla M", "una M", "in L", "M y L", capitalised)."""
        raw = self.tokens[i].raw
        if self.words[i] not in self.facets.size_letters:
            return False
        prev = self.word(i - 1)
        return raw.isupper() or prev in (
            "talla",
            "size",
            "en",
            "in",
            "una",
            "un",
            "a",
            "la",
            "el",
            "the",
        )

    # --- numbers ---------------------------------------------------------------------------

    def numbers(self) -> None:
        i = 0
        while i < len(self.tokens):
            if not self.free(i):
                i += 1
                continue
            width = self._all_marker(i)
            if width:  # "los dos", "both", "de cada uno", "each": not a quantity
                self.take_tokens(i, i + width, "all", "all")
                i += width
                continue
            phrase = self._quantity_phrase(i)
            if phrase is not None:
                value, width = phrase
                self.take_tokens(i, i + width, "quantity", value)
                i += width
                continue
            number = self._number_at(i)
            if number is None:
                i += 1
                continue
            value, width, digits = number
            self._place_number(i, width, value, digits)
            i += width

    def _all_marker(self, i: int) -> int:
        """Tokens at ``i`` that mean "each of them" / "both of them" (0 if none)."""
        w, nxt, after = self.word(i), self.word(i + 1), self.word(i + 2)
        if w in ("los", "las") and nxt in ("dos", "tres") and not self._counted(i + 2):
            return 2
        if w in ("ambos", "ambas", "both", "each"):
            return 1
        if w == "cada" and nxt in ("uno", "una", "par"):
            return 2
        if w == "de" and nxt == "cada" and after in ("uno", "una", "par"):
            return 3
        if w == "c" and nxt == "u":
            return 2
        return 0

    def _quantity_phrase(self, i: int) -> tuple[int, int] | None:
        words = tuple(self.words[i : i + 4])
        for phrase, value in _QUANTITY_PHRASES:
            n = len(phrase)
            if words[:n] == phrase and all(self.free(k) for k in range(i, i + n)):
                return value, n
        w = self.words[i]
        if (m := re.fullmatch(r"x(\d{1,3})|(\d{1,3})x", w)) is not None:
            return int(m.group(1) or m.group(2)), 1
        if w in ("otro", "otra", "another") and self._number_at(i + 1) is None:
            return 1, 1  # "y otra más", "another black cap"
        return None

    def _number_at(self, i: int) -> tuple[int | str, int, bool] | None:
        """(value, tokens used, written in digits) of a number at token ``i``; a number
        with a fraction ("25.5", "25 y medio", "8 1/2") comes as its text ("25.5")."""
        w = self.word(i)
        if not w:
            return None
        if re.fullmatch(r"\d{1,3}\.\d{1,2}", w):
            return w.rstrip("0").rstrip("."), 1, True
        if re.fullmatch(r"\d{1,2}/\d{1,2}", w):
            return w, 1, True
        if re.fullmatch(r"\d{1,3}", w):
            half = self._half_after(i + 1)
            if half:
                return f"{w}.5", 1 + half, True
        if re.fullmatch(r"\d{1,6}", w):
            return int(w), 1, True
        if w in _TENS:
            nxt, after = self.word(i + 1), self.word(i + 2)
            if nxt == "y" and after in UNITS_ES and UNITS_ES[after] < 10:
                return _TENS[w] + UNITS_ES[after], 3, False
            if w in TENS_EN and nxt in UNITS_EN and UNITS_EN[nxt] < 10:
                return _TENS[w] + UNITS_EN[nxt], 2, False
            return _TENS[w], 1, False
        if w in _UNITS:
            return _UNITS[w], 1, False
        if w in ("a", "an") and self._starts_item(i + 1):
            return 1, 1, False  # "a medium and a small": one of each
        return None

    def _half_after(self, j: int) -> int:
        """How many tokens at ``j`` say "and a half" ("y medio", "1/2", "and a half")."""
        if self.word(j) == "12" and self.tokens[j].raw == "1/2":
            return 1
        if self.word(j) in ("y", "and") and self.word(j + 1) in ("medio", "media"):
            return 2
        if (self.word(j), self.word(j + 1), self.word(j + 2)) == ("and", "a", "half"):
            return 3
        return 0

    def _place_number(self, i: int, width: int, value: int | str, digits: bool) -> None:
        """A number is a list index, an attribute value, a quantity, or unsure."""
        if isinstance(value, str):  # "25.5", "1/4": never a quantity
            if self._value_number(value):
                self.take_tokens(i, i + width, "value", f"n:{value}")
            elif (measure := self._measure_of_number(value)) is not None:
                self.take_tokens(i, i + width, "value", measure)
            return
        prev = self.word(i - 1)
        nxt = self.word(i + width)
        raw = self.tokens[i].raw
        if raw.startswith("#") or (
            prev in _REFERENCE_MARKERS
            and digits
            and value <= 20
            and self._after_is_free_of_terms(i + width)
        ):
            if not self._value_number(value) or prev not in ("del", "no", "numero", "num"):
                self.take_tokens(i, i + width, "reference", value)
                return
        if self.word(i) in ORDINALS:
            return
        # Right after "how many?", a number not marked as a size is the answer.
        answering = self.expecting == "quantity" and prev not in _VALUE_CUES
        measure = self._measure_of_number(value) if digits and not answering else None
        if measure is not None and prev in _VALUE_CUES:
            self.take_tokens(i, i + width, "value", measure)  # "la de 600", "el de 250"
            return
        if (
            measure is not None
            and not self._counted(i + width)
            and isinstance(value, int)
            and prev not in _QUANTITY_CUES  # "make it 2", "quiero 2": how many
        ):
            # "brocas para concreto 6" where they come in 6 mm: six, or the 6 mm? Asked.
            self.take_tokens(i, i + width, "number", value)
            return
        if (
            measure is not None
            and ":" not in measure
            and nxt in _COUNT_NOUNS
            and prev in ("the", "el", "la", "los", "las", "de", "del", "of")
        ):
            # "the 13 piece set" where a set is sold as "13 piezas": what it is.
            self.take_tokens(i, i + width + 1, "value", measure)
            return
        if digits and prev in _STRONG_VALUE_CUES:
            # "size 8", "talla 30": a size even when the catalog has none (then the
            # answer is that there is none, never 8 units).
            self.take_tokens(i, i + width, "value", f"n:{value}")
            return
        as_value = self._value_number(value) if digits else False
        if as_value and (
            prev in _STRONG_VALUE_CUES or (prev in _VALUE_CUES and not self._counted(i + width))
        ):
            self.take_tokens(i, i + width, "value", f"n:{value}")
            return
        if value > MAX_QUANTITY or value < 1:
            return  # a code, a year: neither
        if not digits and self.word(i) in _ARTICLE_ONE:
            if self.word(i) in ("one", "ones") and {self.word(i - k) for k in (1, 2, 3)} & {
                "the",
                "this",
                "that",
                "which",
                "another",
                "other",
                "each",
            }:
                return  # "the blue one", "the lemon one" is a pronoun
            if self.word(i) in ("a", "an") and not self._starts_item(i + 1):
                return
            self.take_tokens(i, i + width, "quantity", value)
            return
        if as_value and not answering and not self._counted(i + width):
            # "un tenis 26" / "dame 26": a value of the products in play, or a quantity?
            self.take_tokens(i, i + width, "number", value)
            return
        if (
            digits
            and not answering
            and value >= 10
            and str(value) in self.facets.written
            and not self._counted(i + width)
            and prev not in _QUANTITY_CUES
        ):
            # "y de la de 80 otras 4" where sandpaper comes in grit 80: maybe a value,
            # maybe how many; never acted on as a quantity without asking.
            self.take_tokens(i, i + width, "number", value)
            return
        if (
            nxt in _COUNT_NOUNS
            and term_key(nxt) not in self.facets.heads  # "2 botellas" where bottles are sold
        ):
            if term_key(nxt) in self.facets.one_word:  # "2 bags" where some come in bags
                self.take_tokens(i, i + width, "quantity", value)
                self.take_tokens(i + width, i + width + 1, "value", term_key(nxt))
                return
            if self.take_tokens(i, i + width + 1, "quantity", value):
                return
        self.take_tokens(i, i + width, "quantity", value)

    def _counted(self, j: int) -> bool:
        """Whether the words from ``j`` say what is counted ("2 pares", "3 cajas",
        "2 tenis"): then a number before them is a quantity."""
        w = self.word(j)
        if w in _COUNT_NOUNS or w in ("de", "of"):
            return True  # "2 pares", "6 de chocolate", "3 of the blue ones"
        return bool(w) and self._is_term(w)

    def _after_is_free_of_terms(self, j: int) -> bool:
        return not self._is_term(self.word(j))

    def _starts_item(self, j: int) -> bool:
        w = self.word(j)
        taken = self.taken[j] if 0 <= j < len(self.taken) else None
        if taken is not None and taken.kind in ("value", "measure", "sku"):
            return True  # "a medium", "a 500 g one"
        return bool(w) and (self._is_term(w) or w in self.facets.value_phrases)

    def _measure_of_number(self, value: int | str) -> str | None:
        """ "La de 600" where the products in play come in 300 g and 600 g (``g:600``);
        "the 30" where they come in 15 lb and 30 lb; "de 1/4" among 1/4" and 1/2"."""
        keys = [k for k in self.facets.written.get(str(value), ()) if not k.startswith("n:")]
        if not keys:
            return None
        for playing in (self.playing, self._named_here()):
            near = [k for k in keys if self.facets.by_value.get(k, set()) & playing]
            if near:
                return near[0]
        return None

    def _named_here(self) -> set[int]:
        """The products some word of this message names ("la creatian de 600")."""
        named: set[int] = set()
        for w in self.words:
            if w.isdigit() or is_stopword(w) or w in NEVER_FUZZY:
                continue
            key = term_key(w)
            if key not in self.facets.by_term and len(w) >= 5:
                key = _fuzzy_term(key, self.vocabulary) or key
            named |= self.facets.by_term.get(key, set())
        return named

    def _value_number(self, value: int | str) -> bool:
        """Whether ``value`` is a number value of the products in play (the family of
        the product talked about, the last list, else the whole catalog)."""
        key = f"n:{value}"
        products = self.facets.by_value.get(key)
        if not products:
            return False
        if self.in_play:
            return bool(products & self.playing) or not (self.facets.numbers_of(self.in_play))
        return True

    # --- references and product words -------------------------------------------------------------

    def skus(self) -> None:
        """A product code as the catalog has it ("AFS-CREA-300"): that product."""
        for i, token in enumerate(self.tokens):
            product = self.facets.skus.get(token.raw.casefold().strip("#"))
            if product is not None and self.free(i):
                self.take_tokens(i, i + 1, "sku", product)

    def references(self) -> None:
        for i, w in enumerate(self.words):
            if not self.free(i):
                continue
            if re.fullmatch(r"#\d{1,2}", self.tokens[i].raw):
                self.take_tokens(i, i + 1, "reference", int(self.tokens[i].raw[1:]))
                continue
            if w in ORDINALS and (
                w not in ("cuarto", "cuarta") or self.word(i - 1) in ("el", "la")
            ):
                self.take_tokens(i, i + 1, "reference", ORDINALS[w])
            elif (m := re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th|ro|do|to|vo|no|o|a)", w)) is not None:
                self.take_tokens(i, i + 1, "reference", int(m.group(1)))

    def terms(self) -> None:
        for i, w in enumerate(self.words):
            if not self.free(i) or len(w) < 2 or w.isdigit():
                continue
            if self._is_term(w):
                self.take_tokens(i, i + 1, "term", w)

    def _is_term(self, w: str) -> bool:
        if not w or w.isdigit() or is_stopword(w) or w in _STORE_WORDS:
            return False
        key = term_key(w)
        if key in self.facets.by_term:
            return True
        if w in NEVER_FUZZY or len(w) < 5:
            return False
        return _fuzzy_term(w, self.vocabulary) is not None

    # --- message-wide signals ---------------------------------------------------------------

    def _more_after_quantity(self) -> bool:
        """ "dos más", "2 more": more of it, on top of what is in the cart."""
        for i, span in enumerate(self.taken):
            if span is not None and span.kind == "quantity" and self.word(i + 1) in ("mas", "more"):
                return True
        return False

    def signals(self) -> None:
        r = self.reading
        words = self.words
        plain = " ".join(words)
        opening = [w for w in words[:4] if w not in _LEAD_INS][:1]
        r.question = "?" in self.text or (
            bool(opening) and opening[0] in QUESTION_OPENERS and len(words) > 1
        )  # "also does the niacinamide help w pores"
        r.yes_no = yes_no(self.text)
        # Exact words: "encargar 10 conchas" is not "el encargado".
        r.person = has_phrase(words, (*HUMAN_PHRASES, *PERSON_WORDS), fuzzy=False)
        r.cancel = has_phrase(words, CANCEL_WORDS, fuzzy=False)
        r.checkout = is_checkout(self.text)
        # Exact words: "no tengo carro" is not "carrito".
        r.show_cart = has_phrase(words, SHOW_CART_PHRASES, fuzzy=False)
        r.thanks = has_phrase(words, THANKS_WORDS, fuzzy=False)
        # Only the words as written: "devolver" is no typo of "deliver".
        exact = has_phrase(words, (*SHIPPING_PHRASES, *PICKUP_PHRASES), fuzzy=False)
        r.delivery = delivery_choice(self.text) if exact else None
        remove = has_phrase(words, REMOVE_WORDS, fuzzy=False)
        if (
            remove
            and "sin" in words
            and not any(s.kind in ("term", "value", "reference") for s in r.spans)
        ):
            remove = False  # "sin número", "sin problema"
        if remove:
            r.verb = "remove"
        elif has_phrase(words, PRICE_WORDS, fuzzy=False):
            r.verb = "price"
        elif has_phrase(words, REPLACE_WORDS, fuzzy=False):
            r.verb = "replace"
        elif has_phrase(words, SET_WORDS, fuzzy=False) and any(
            sp.kind in ("quantity", "number") for sp in r.spans
        ):
            r.verb = "set"
        elif self._more_after_quantity() or (
            has_phrase(words, ADD_WORDS, fuzzy=False)
            and not (r.question and not any(sp.kind in ("quantity", "number") for sp in r.spans))
        ):
            r.verb = "add"
        elif r.question and has_phrase(words, STOCK_WORDS, fuzzy=False):
            r.verb = "stock"
        elif has_phrase(words, INFO_WORDS, fuzzy=False) and r.question:
            r.verb = "info"
        # "Me apartas 4 cuernitos?", "can I get 2 caps?": a request, even as a question;
        # "how much are 2 caps?" asks a price.
        r.buying = has_phrase(words, BUY_WORDS, fuzzy=False) or r.verb == "add"
        if r.verb in ("price", "stock", "info") and plain.startswith(
            ("cuanto", "how much", "que precio", "precio", "price")
        ):
            r.buying = False
        # Words no vocabulary knows: maybe a product this catalog does not have.
        r.unread = [
            w
            for i, w in enumerate(words)
            if self.taken[i] is None
            and len(w) >= 4
            and w.isalpha()
            and not is_stopword(w)
            and w not in NEVER_FUZZY
            and w not in SPANISH_WORDS
            and w not in ENGLISH_WORDS
        ]

    # --- item mentions ----------------------------------------------------------------------

    def mentions(self) -> None:
        """Group the item spans into mentions.

        The spans are cut into chunks at separators ("y", "and", a comma); a chunk is a
        new item when it has a quantity, product words or a list pointer of its own, or a
        value of an attribute the item before already has ("negro y blanco"); otherwise
        it says more about the item before ("three gym caps, the white ones")."""
        r = self.reading
        chunks: list[list[Span]] = [[]]
        loose: list[int] = [0]  # per chunk: words no span took ("for my lab he's 4")
        for i, token in enumerate(self.tokens):
            span = self.taken[i]
            between = self.text[self.tokens[i - 1].end : token.start] if i else ""
            if re.search(r"[,;?!]|\.\s", between) and chunks[-1]:
                chunks.append([])
                loose.append(0)
            if span is None:
                if token.word in SEPARATORS and chunks[-1]:
                    chunks.append([])
                    loose.append(0)
                elif _content(token.word):
                    loose[-1] += 1
                continue
            if i and self.taken[i - 1] is span:
                continue  # the span's later tokens
            if span.kind not in _ITEM_KINDS:
                continue
            chunks[-1].append(span)
        out: list[Mention] = []
        for chunk, words_left in zip(chunks, loose, strict=True):
            if not chunk:
                continue
            mention = _mention_of(chunk)
            if mention.empty and out and words_left:
                continue  # "... for my lab, he's 4": a number in a story, not a quantity
            previous = out[-1] if out else None
            if (
                previous is not None
                and previous.quantity is None
                and not previous.empty
                and mention.quantity is not None
                and not (mention.terms or mention.index is not None or mention.product)
                and not any(
                    self.facets.same_attribute(v, w)
                    for v in mention.values
                    for w in previous.values
                )
            ):
                # "the clumping litter 40, 3 bags": how many of it
                previous.quantity = mention.quantity
                previous.values += [v for v in mention.values if v not in previous.values]
                previous.end = mention.end
                continue
            if previous is not None and not (
                mention.quantity is not None
                or mention.terms
                or mention.index is not None
                or mention.product is not None
                or mention.each
                or mention.numbers
                or any(
                    self.facets.same_attribute(v, w)
                    for v in mention.values
                    for w in previous.values
                )
            ):
                previous.values += [v for v in mention.values if v not in previous.values]
                previous.end = mention.end
                continue
            out.append(mention)
        # "that one" / "ese": the product in focus.
        if any(w in _POINTERS_ONE for w in self.words) and out and all(m.empty for m in out):
            out[0].pointer = True
        out = [m for m in out if not m.empty or m.quantity is not None or m.numbers or m.each]
        r.mentions = _distribute(out, self.facets)


NEVER_FUZZY: frozenset[str] = CHAT_WORDS | _intent_words()


def _content(word: str) -> bool:
    """A word that says something of its own (not a stopword nor chat filler)."""
    return len(word) >= 3 and word.isalpha() and not is_stopword(word) and word not in NEVER_FUZZY


_ITEM_KINDS = frozenset(
    {"quantity", "number", "measure", "value", "reference", "term", "all", "sku"}
)


def _mention_of(chunk: list[Span]) -> Mention:
    mention = Mention(start=chunk[0].start, end=chunk[-1].end)
    for span in chunk:
        if span.kind == "quantity":
            if mention.quantity is None:
                mention.quantity = int(span.value or 0)
        elif span.kind == "number":
            mention.numbers.append(int(span.value or 0))
        elif span.kind in ("measure", "value"):
            mention.values.append(str(span.value))
        elif span.kind == "reference":
            mention.index = int(span.value or 0)
        elif span.kind == "term":
            mention.terms.append(str(span.value))
        elif span.kind == "all":
            mention.each = True
        elif span.kind == "sku":
            mention.product = int(span.value or 0)
    return mention


def _distribute(mentions: list[Mention], facets: CatalogFacets) -> list[Mention]:
    """Fold the parts that speak of the items before them into those items.

    - "los dos del 26" / "1 de cada uno": values and quantity of an *each* part go to
      every earlier item (a quantity only where none was said);
    - a trailing bare quantity after items without one ("el botín y las calcetas, 1");
    - an item with no product words takes those of the item before it ("2 blancos del
      26 y unos negros del 25": both are "tenis");
    - one part naming two values of one attribute ("the black and the white") is two
      items.
    """
    items: list[Mention] = []
    for mention in mentions:
        bare = mention.empty
        if items and (mention.each or (bare and not mention.numbers)):
            for item in items:
                item.values += [v for v in mention.values if v not in item.values]
                if item.quantity is None:
                    item.quantity = mention.quantity
            continue
        items.append(mention)
    for before, item in itertools.pairwise(items):
        if item.terms or item.index is not None or item.pointer or item.product or not item.values:
            continue
        # "2 white caps, 1 black": the black one is a cap too.
        item.terms = list(before.terms)
        item.values += [
            v
            for v in before.values
            if v not in item.values and not any(facets.same_attribute(v, w) for w in item.values)
        ]
    split: list[Mention] = []
    for item in items:
        clash = next(
            (
                (a, b)
                for n, a in enumerate(item.values)
                for b in item.values[n + 1 :]
                if facets.same_attribute(a, b)
                and not (a.startswith("n:") or b.startswith("n:"))
                and not (facets.by_value.get(a, set()) & facets.by_value.get(b, set()))
            ),
            None,
        )
        if clash is None:
            split.append(item)
            continue
        shared = [v for v in item.values if v not in clash]
        for value in clash:
            split.append(
                Mention(
                    terms=list(item.terms),
                    values=[value, *shared],
                    quantity=item.quantity,
                    start=item.start,
                    end=item.end,
                )
            )
    return split


_SOUNDS = (
    ("ll", "y"), ("v", "b"), ("z", "s"), ("ce", "se"), ("ci", "si"), ("qu", "k"),
    ("ca", "ka"), ("co", "ko"), ("cu", "ku"), ("h", ""), ("ph", "f"), ("ck", "k"),
)  # fmt: skip


@lru_cache(maxsize=65536)
def sounds(word: str) -> str:
    """How a folded word sounds, for spelling mistakes that keep the sound: "vainiya" and
    "vainilla", "protehina" and "proteina", "savor" and "sabor" sound the same."""
    for written, sound in _SOUNDS:
        word = word.replace(written, sound)
    return word


@lru_cache(maxsize=64)
def _by_sound(vocabulary: frozenset[str]) -> dict[str, str]:
    return {sounds(w): w for w in sorted(vocabulary)}


@lru_cache(maxsize=4096)
def _fuzzy_cached(word: str, vocabulary: frozenset[str]) -> str | None:
    same = _by_sound(vocabulary).get(sounds(word))
    if same is not None:
        return same
    found = process.extractOne(word, vocabulary, scorer=fuzz.ratio, score_cutoff=_cutoff(word))
    return found[0] if found else None


def _cutoff(word: str) -> float:
    return 86.0 if len(word) <= 6 else 82.0


def _fuzzy_term(word: str, vocabulary: frozenset[str]) -> str | None:
    """The catalog word ``word`` is a typo of, if any (words of 5+ letters only)."""
    if not vocabulary:
        return None
    return _fuzzy_cached(word, vocabulary)


def catalog_vocabulary(facets: CatalogFacets, extra: Iterable[str] = ()) -> frozenset[str]:
    """The folded words that typos are matched against: product names and categories."""
    return frozenset(k for k in facets.by_term if len(k) >= 4 and k.isalpha()) | frozenset(extra)


def read(
    text: str,
    facets: CatalogFacets | None = None,
    *,
    expecting: str | None = None,
    in_play: Sequence[int] = (),
    vocabulary: frozenset[str] | None = None,
    locations: Sequence[str] = (),
) -> Reading:
    """Read ``text`` once into a :class:`Reading`.

    ``facets``: the catalog's families and values; ``expecting``: what the agent asked
    last ("quantity", "list", "fields", ...); ``in_play``: the products talked about
    (the one in focus, the last list), whose values decide whether "26" is a size;
    ``locations``: the store's location names."""
    facets = facets or CatalogFacets()
    reader = _Reader(
        text,
        facets,
        expecting,
        in_play,
        vocabulary if vocabulary is not None else catalog_vocabulary(facets),
    )
    reader.skus()
    reader.contact()
    reader.not_items()
    reader.places(locations)
    reader.measures()
    reader.values()
    reader.spoken_fractions()
    reader.relative_sizes()
    reader.references()
    reader.numbers()
    reader.terms()
    reader.signals()
    reader.mentions()
    reader.reading.spans.sort(key=lambda s: s.start)
    return reader.reading
