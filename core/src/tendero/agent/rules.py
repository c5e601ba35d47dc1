"""The ``rules`` brain: offline, deterministic Spanish and English conversation.

It reads one message with the helpers of :mod:`tendero.agent.nlu`, decides what the
customer means in the context of what the agent asked last (``state.asked``), runs the
matching :class:`~tendero.agent.actions.Commerce` actions and answers with
:class:`~tendero.agent.replies.Replies` texts. Strong intents come first, wherever the
conversation is: a person, a cart change, the cart, a side question, a switch of delivery
method; then the answer to the question just asked (an address, "sí", "la 2"); then a
product request. After a cart change or a side question in the middle of the checkout
the question of the step reached is asked again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rapidfuzz import fuzz

from tendero.agent.actions import ActionResult, match_locations
from tendero.agent.brain import (
    ANSWER,
    DELIVERY,
    LOCATION,
    PRODUCT,
    Turn,
    choice_id,
    parse_choice,
)
from tendero.agent.checkout import (
    CONFIRMATION,
    DELIVERY_CHOICE,
    PAYMENT_PROOF,
    PICKUP_LOCATION,
    SHIPPING_ADDRESS,
)
from tendero.agent.nlu import (
    CartEdit,
    delivery_choice,
    extract_email,
    extract_postal_code,
    extract_quantity_and_rest,
    is_checkout,
    is_human_request,
    is_show_cart,
    mentioned_currency,
    parse_address,
    parse_cart_edit,
    parse_quantity,
    parse_reference,
    side_question,
    yes_no,
)
from tendero.agent.nlu.matching import has_phrase, starts_with, tokens
from tendero.agent.nlu.vocab import (
    FILLER_WORDS,
    GREETINGS,
    HUMAN_PHRASES,
    REMOVE_VERBS,
    STREET_TYPES,
    TENS_EN,
    TENS_ES,
    UNITS_EN,
    UNITS_ES,
)
from tendero.conversations.turns import Choice, Reply
from tendero.money import to_decimal
from tendero.text import fold

# --- vocabulary of this brain (the shared one is in tendero.agent.nlu.vocab) --------------

ADD_PHRASES = (
    "agrega", "agregame", "agrégame", "agregar", "añade", "anade", "añademe", "suma",
    "sumale", "tambien", "también", "aparte", "ademas", "además", "y una", "y un", "y dos",
    "add", "also", "plus", "as well", "too", "another", "otra", "otro",
)  # fmt: skip
BUY_PHRASES = (
    "regalas", "me regalas", "regalame", "me pasas", "pasame", "lemme get", "let me get",
    "grab", "i'll grab", "take", "aparta", "apartame", "reservame", "separame", "encargo",
    "pido", "quiero", "quisiera", "dame", "deme", "me das", "me da", "mandame", "mándame",
    "me llevo", "llevo", "compro", "comprar", "ocupo", "necesito", "apartame", "pideme",
    "i want", "i'd like", "id like", "i would like", "i'll take", "ill take", "i'll have",
    "give me", "get me", "i need", "buy", "order", "i'll get", "can i get", "can i have",
    "send me", "put", "agrega", "add",
)  # fmt: skip
STOCK_QUESTION_PHRASES = (
    "in stock", "how many left", "how many are left", "how many do you have", "any left",
    "cuantos quedan", "cuantas quedan", "cuantos te quedan", "cuantas te quedan",
    "cuantos les quedan", "cuantas les quedan", "cuantos hay", "cuantas hay", "te quedan",
    "les quedan", "how many",
    "hay existencia", "tienen existencia", "todavia tienen", "aun tienen", "still have",
)  # fmt: skip
PICKUP_EXTRA_PHRASES = (
    "pasar a la tienda", "paso a la tienda", "ir a la tienda", "voy a ir", "pasar a recoger",
    "recogerlo yo", "lo recogo", "recojerlo", "pasar por ello", "pick it up myself",
    "go to the store", "come to the store", "stop by", "at the store", "store pickup",
)  # fmt: skip
DEPOSIT_PHRASES = (
    "anticipo", "deposito", "depósito", "adelanto", "enganche", "deposit", "down payment",
    "upfront", "advance payment",
)  # fmt: skip
INFO_PHRASES = (
    *STOCK_QUESTION_PHRASES,
    "info", "informacion", "información", "detalles", "mas detalles", "que tal es",
    "como es", "cuentame", "cuéntame", "tell me more", "details", "more about", "what is",
    "describe", "specs", "cuanto cuesta", "cuanto cuestan", "cuanto sale", "cuanto salen",
    "que precio", "precio", "how much", "price", "cost", "para cuantas personas",
    "cuantas personas", "cuantas porciones", "cuantas rebanadas", "cuanto rinde", "rinde",
    "how many servings", "how many people", "serves", "servings", "de que tamano",
    "que tamanos", "what sizes", "which sizes", "ingredientes", "ingredients",
)  # fmt: skip
SAME_DETAILS_PHRASES = (
    "misma direccion", "la misma", "mismos datos", "la de la vez pasada",
    "igual que la vez pasada", "igual que la otra vez", "la de siempre", "como la vez pasada",
    "same address", "same as last time", "same details", "same as before", "same one",
    "last time", "like last time",
)  # fmt: skip
DELIVERY_QUESTION_PHRASES = (
    "hacen envios", "hacen envíos", "envian a", "envían a", "mandan a", "tienen envio",
    "costo de envio", "costo del envio", "cuanto cuesta el envio", "cuanto cobran de envio",
    "cuanto es el envio", "precio del envio", "envio gratis", "envío gratis",
    "do you ship", "do you deliver", "shipping cost", "how much is shipping",
    "delivery fee", "delivery cost", "free shipping", "shipping fee", "can i pick up",
    "puedo recoger", "se puede recoger",
)  # fmt: skip
CHEAP_PHRASES = (
    "mas barata", "mas barato", "mas economica", "mas economico", "la barata", "el barato",
    "menor precio", "cheapest", "least expensive", "lowest price", "most affordable",
    "cheaper",
)  # fmt: skip
PRICEY_PHRASES = (
    "mas cara", "mas caro", "mayor precio", "most expensive", "priciest", "highest price",
)  # fmt: skip
BIG_WORDS = frozenset("grande large big biggest largest mayor grandote xl".split())
SMALL_WORDS = frozenset("chica chico pequena pequeno small smallest little mini".split())
PAID_PHRASES = (
    "ya pague", "ya pagué", "ya transferi", "ya transferí", "ya deposite", "ya deposité",
    "ya hice la transferencia", "ya te pague", "pague", "transferi", "deposite",
    "i paid", "i've paid", "ive paid", "already paid", "i sent the money",
    "transfer done", "i transferred", "payment sent", "paid",
)  # fmt: skip
AGAIN_PHRASES = (
    "igual", "lo mismo", "la misma", "el mismo", "de nuevo", "otra vez", "same", "again",
    "the same one", "same as before",
)  # fmt: skip
TOTAL_PHRASES = (
    "cuanto llevo", "cuanto va", "cuanto es", "cuanto seria", "cuanto te debo", "cuanto sale todo",
    "cuanto es todo", "cual es el total", "el total", "mi total", "what's my total",
    "whats my total", "my total", "how much do i owe", "how much is it all", "the total",
)  # fmt: skip
PAYMENT_QUESTION_PHRASES = (
    "aceptan tarjeta", "con tarjeta", "tarjeta de credito", "meses sin intereses",
    "formas de pago", "forma de pago", "metodos de pago", "como puedo pagar", "como se paga",
    "aceptan efectivo", "pago en efectivo", "contra entrega", "paypal", "mercado pago",
    "do you accept", "credit card", "debit card", "payment methods", "how can i pay",
    "how do i pay", "cash on delivery", "pay with card",
)  # fmt: skip
REMOVE_EXTRA_PHRASES = (
    "scratch that", "scratch the", "forget the", "olvida el", "olvida la", "olvida los",
    "olvida las", "never mind the", "nevermind the", "mejor sin",
)  # fmt: skip
CHANGE_PLACE_WORDS = (
    "mejor", "cambia", "cambiar", "cambiala", "cambialo", "en vez", "instead", "change",
    "actually", "switch", "prefiero", "rather", "make it",
)  # fmt: skip
CANCEL_PHRASES = (
    "cancel", "cancela", "cancelar", "cancelalo", "ya no quiero nada", "ya no lo quiero",
    "ya no los quiero", "ya no lo voy a querer", "ya no voy a querer", "no quiero nada",
    "don't want anything", "dont want anything", "changed my mind", "cambie de opinion",
    "forget it", "olvidalo", "never mind", "nevermind",
)  # fmt: skip
STORE_QUESTION_PHRASES = (
    "tienen tienda", "tienen sucursal", "tienen local", "hay tienda", "hay sucursal",
    "store in", "stores in", "location in", "branch in", "do you have a store",
    "do you have a location", "tienda en", "sucursal en", "local en",
)  # fmt: skip
RECEIPT_QUESTION_PHRASES = (
    "recibiste mi comprobante", "recibieron mi comprobante", "te llego el comprobante",
    "les llego el comprobante", "llego mi comprobante", "llego mi pago", "recibiste mi pago",
    "did you get my receipt", "got my receipt", "received my receipt", "get the receipt",
    "did you get my payment", "did you receive",
)  # fmt: skip
READY_PHRASES = (
    "cuando esta listo", "cuando estara listo", "a que hora esta listo", "a que hora estara",
    "a que hora lo recojo", "a que hora paso", "cuando paso", "cuando lo recojo",
    "when will it be ready", "when is it ready", "what time can i pick", "when can i pick",
    "is it ready", "ya esta listo", "va a estar listo", "va a estar lista", "estara listo",
    "be ready", "estar listo", "estar lista", "a que hora puedo pasar", "cuando puedo pasar",
    "puedo pasar por", "when can i come", "when can i get it",
)  # fmt: skip
PHONE_WORDS = (
    "cel",
    "celular",
    "cell",
    "phone",
    "tel",
    "telefono",
    "teléfono",
    "whatsapp",
    "mobile",
)
MORE_PHRASES = ("mas", "más", "more", "otra", "otro", "otras", "otros", "another", "extra")
THANKS_PHRASES = ("gracias", "muchas gracias", "mil gracias", "thanks", "thank you", "thx", "ty")
GOODBYE_PHRASES = (
    "lo pienso", "lo voy a pensar", "luego te escribo", "luego te aviso", "despues te escribo",
    "adios", "adiós", "bye", "nos vemos", "hasta luego", "think about it", "talk later",
    "maybe later", "later", "see you", "no gracias", "no thanks",
)  # fmt: skip
SHIPPING_TIME_PHRASES = (
    "cuanto tarda", "cuanto tardan", "cuantos dias", "tiempo de entrega", "cuando llega",
    "en cuanto llega", "how long", "delivery time", "when will it arrive", "how many days",
    "when does it arrive", "shipping time",
)  # fmt: skip
# Words that say nothing about which product is meant.
NOISE_WORDS = (
    frozenset(
        """
    hola buenas buenos dias tardes noches hi hello hey tienen tienes tiene hay venden
    manejan vendes manejas busco buscando quiero quisiera dame deme necesito ocupo me
    das da llevo compro comprar agrega agregame anade suma tambien ademas aparte do you
    have sell any got want would like need buy looking for some i id ill take give get
    add also plus too can could is there are show see precio price cuanto cuesta cuestan
    how much es son sale salen ver muestrame enseñame ensename algo alguna algun something
    please porfa favor pls gracias thanks para for with con otra otro another more mas
    us me you tu su sus your info informacion detalles details about sobre ok okay okey
    vale sale bueno perfecto perfect great cool nice genial what whats which cual cuales
    those these esos esas estos estas eso that this of de then entonces luego pues there
    alli ahi aqui here grab take aparta apartame apartas reserva reservame separame
    guardame encargo encargar pedir pido ordenar regalas regala regalame pasas pasame
    jaja jajaja jeje haha lol perdon perdón sorry oops ugh ay uy completar let get
    mandame mandamelas mandamelos enviame envíame traeme send same misma mismo mismas
    mismos igual actually total left quedan queda quedan stock existencia todavia aun
    """.split()
    )
    | FILLER_WORDS
)
# Labels customers put before what they give ("mi correo es", "email:").
_FIELD_LABELS = re.compile(
    r"(?i)\b(?:mi\s+|my\s+|the\s+|el\s+)?(?:correo(?:\s+electr[oó]nico)?|e-?mail|mail"
    r"|postal\s+code|zip(?:\s+code)?|c[oó]digo\s+postal|c\.\s?p\.|cp)(?:\s+(?:es|is))?\s*:?(?=\s|$|\d)"
)
NUMBER_WORDS = frozenset(
    [*UNITS_ES, *UNITS_EN, *TENS_ES, *TENS_EN, "docena", "dozen", "couple", "par", "pair"]
)
# Postal codes the customer labelled, even when malformed ("CP 0394"): told, not ignored.
_LABELLED_POSTAL = re.compile(
    r"(?i)\b(?:c\.?\s?p\.?|c[oó]digo\s+postal|zip(?:\s+code)?|postal\s+code)\s*:?\s*([0-9][0-9 -]{1,9}[0-9])\b"
)
# A number of time units in a story ("hace como 4 meses", "for 2 weeks"): not a quantity.
_TIME_SPANS = re.compile(
    r"(?i)\b(?:\d+|un|una|dos|tres|cuatro|cinco|seis|one|two|three|four|five|six|a)\s+"
    r"(?:mes|meses|d[ií]as?|a[nñ]os?|semanas?|horas?|minutos?|months?|days?|years?|weeks?|hours?|minutes?)\b"
)
# A product code: letters and digits in dash-joined parts ("AFS-CREA-300").
_SKU_LIKE = re.compile(r"\b[A-Za-z0-9]{2,}(?:-[A-Za-z0-9]+){1,4}\b")
# "Mejor nada más el café", "just the cap": keep that line only.
_ONLY = re.compile(
    r"(?i)^\s*(?:(?:bueno|ok|okay|mejor|better|actually|no)[\s,]+)*(?:nada\s+m[aá]s|solamente|s[oó]lo|just|only)\s+(?:el|la|los|las|the)?\s*(.+?)\s*[.!]?$"
)
# "scratch that, no creatine" / "sin la gorra": a cart line dropped.
_NOT_ANY = re.compile(
    r"(?i)(?:^|[,;.]\s*)(?:no|sin|without|no more)\s+(?:the\s+|el\s+|la\s+|los\s+|las\s+)?([a-záéíóúñü][\w\sáéíóúñü-]*)$"
)
# A too short or too long number after a US state code: a mistyped ZIP.
_TRAILING_BAD_ZIP = re.compile(r"\b([A-Z]{2})\s+(\d{1,4}|\d{6,8})\s*$")
# Several products in one message: "2 gorras negras y 3 shakers azules".
_CHANGE_TO = re.compile(
    r"(?i)^\s*(?:please\s+|porfa\s+)?(?:change|set|make|put|cambia|cambiar|cámbia|pon|ponme|deja|déjame|dejame)"
    r"\s+(?:the\s+|el\s+|la\s+|los\s+|las\s+)?(.+?)\s+(?:to|a|en)\s+(\S+(?:\s+\S+)?)\s*[.!]?\s*$"
)
_ITEM_SEPARATORS = re.compile(r"\s*(?:,|;|\by\b|\band\b|&|\bplus\b|\badem[aá]s\b)\s*", re.I)
# Whole-message "numbers" that are a choice in a list, not a quantity.
_BARE_NUMBER = re.compile(r"^\s*#?\s*(\d{1,2})\s*[.)]?\s*$")
TOO_MANY_OPTIONS = 8  # list at most this many products


def _words(text: str) -> list[str]:
    return tokens(text)


def _has(text: str, phrases: Sequence[str], fuzzy: bool = True) -> bool:
    return has_phrase(_words(text), phrases, fuzzy=fuzzy)


def _strip_greeting(text: str) -> tuple[bool, str]:
    """(whether the message opened with greetings, the rest of it): "ola buenas tardes,
    tienen creatina?" -> (True, "tienen creatina?")."""
    greeted = False
    while True:
        words = _words(text)
        found = starts_with(words[:3], GREETINGS)
        if found is None:
            return greeted, text
        greeted = True
        count = len(found.split())
        raw = re.split(r"([\s,.;:!¡¿?]+)", text.strip())
        kept, seen = [], 0
        for piece in raw:
            if seen < count and piece.strip(" ,.;:!¡¿?"):
                seen += 1
                continue
            if seen >= count:
                kept.append(piece)
        text = "".join(kept).lstrip(" ,.;:!¡¿?")
        if not text.strip(" ,.;:!¡¿?"):
            return True, ""


# Chat shorthand, read as the words it stands for.
ABBREVIATIONS = {
    "q": "que", "k": "que", "xq": "porque", "pq": "porque", "tmb": "también",
    "tb": "también", "tmbn": "también", "x": "por", "d": "de", "porfa": "por favor",
    "xfa": "por favor", "pls": "please", "plz": "please", "u": "you", "ur": "your",
    "thx": "thanks", "ty": "thank you", "msg": "mensaje", "info": "información",
    "dlls": "dólares", "dls": "dólares", "pz": "pieza", "pzs": "piezas",
    "kiero": "quiero", "qiero": "quiero", "kero": "quiero", "gimme": "give me",
    "wanna": "want", "gotta": "need", "lemme": "let me", "pls.": "please",
    "porfis": "por favor", "porfas": "por favor", "pa": "para", "r": "are", "n": "and",
    "im": "i'm", "dont": "don't",
}  # fmt: skip
# Sizes as customers write them -> as catalogs do ("2 libras" -> "2 lb").
UNIT_WORDS = {
    "libra": "lb", "libras": "lb", "lbs": "lb", "pound": "lb", "pounds": "lb",
    "gramos": "g", "gramo": "g", "gr": "g", "grs": "g", "grams": "g", "gram": "g",
    "kilo": "kg", "kilos": "kg", "kgs": "kg", "kilogramos": "kg", "mililitros": "ml",
    "litro": "l", "litros": "l", "liter": "l", "liters": "l", "litre": "l",
    "onzas": "oz", "ounces": "oz",
}  # fmt: skip
# A whole word: not part of an email, a contraction ("I'd") or a code ("2x").
_WORD = re.compile(r"(?<![\w.@'’-])[A-Za-zÁÉÍÓÚÑáéíóúñü]+(?![\w.@'’-])")


def _delivery(text: str) -> str | None:
    """ "shipping" / "pickup" when the message picks one."""
    method = delivery_choice(text)
    if method is None and _has(text, PICKUP_EXTRA_PHRASES):
        return "pickup"
    return method


# Words that open an address message without being part of it ("va:", "perdón es",
# "no, esta vez mándalo a ...", "ship it to ...").
ADDRESS_INTRO_WORDS = frozenset(
    """
    si sí va sale ok okay okey claro perdon perdón sorry oops no es is mi my direccion
    dirección address la el the esta this vez time mandalo mándalo mandala mándala envialo
    envíalo enviala envíala send ship it to a al envio envío porfa please por favor
    domicilio casa home delivery deliver entonces then ahora now ah oh bueno well hey hola
    mejor better instead here aqui aquí can could you u would it's its that's thats
    going headed for para van
    here's heres sorry actually otra other different diferente address: direccion:
    """.split()
)


# A phone number ("512-555-0199", "(55) 1234 5678", "5512345678"), never an address part.
def _sentence_breaks(text: str) -> str:
    """``text`` with a comma where a sentence ends ("...80202. my cell is") but not after
    an abbreviation ("Av. Juárez", "int. 3", "St. Louis")."""
    out, last = [], 0
    for match in re.finditer(r"\.\s+", text):
        before = re.findall(r"[\wáéíóúñ]+$", text[: match.start()])
        word = before[0] if before else ""
        if word.isdigit() or len(word) >= 5:
            out.append(text[last : match.start()] + ", ")
            last = match.end()
    out.append(text[last:])
    return "".join(out)


_PHONE = re.compile(
    r"(?<![\d-])(?:\+?\d{1,3}[\s-])?(?:\(?\d{2,3}\)?[\s-]\d{3,4}[\s-]\d{4}|\d{10})(?![\d-])"
)


def _clean_address(text: str) -> str:
    """``text`` without the words around an address that are not part of it."""
    intro, colon, rest = text.partition(":")
    if colon and rest.strip() and not re.search(r"[\d@]", intro) and len(intro.split()) <= 5:
        if not _FIELD_LABELS.search(intro + ":"):
            text = rest
    kept = []
    text = _PHONE.sub(" ", text)
    for segment in re.split(r"[,;\n]+", _sentence_breaks(text)):
        if _has(segment, ("mismo", "misma", "same", "igual"), fuzzy=False):
            continue  # "el correo es el mismo": nothing new in this part
        if _has(segment, PHONE_WORDS, fuzzy=False) or _has(
            segment, ("in case", "por si", "driver", "repartidor"), fuzzy=False
        ):
            continue  # "my cell is ... in case the driver needs it"
        words = segment.split()
        while words and fold(words[0].strip(".!¡¿?")) in ADDRESS_INTRO_WORDS:
            words.pop(0)
        if words and re.search(r"[^\W_]", " ".join(words)):
            kept.append(" ".join(words).strip(" ?¿!¡"))
    return ", ".join(kept)


def _size_words(text: str) -> list[str]:
    """Folded words with sizes spelled the catalog's way: "2 libras" -> ["2", "lb"]."""
    text = re.sub(r"(\d)([a-zA-Z])", r"\1 \2", fold(text))
    return [UNIT_WORDS.get(w, w) for w in re.findall(r"[a-z0-9]+", text)]


def _expand(text: str) -> str:
    return _WORD.sub(lambda m: ABBREVIATIONS.get(m.group(0).lower(), m.group(0)), text)


def _product_query(text: str, drop_numbers: bool = False) -> str:
    """The words of ``text`` that may name a product ("600g" read as "600 g");
    ``drop_numbers`` also leaves out number words and the digits of a quantity."""
    text = re.sub(r"(\d)([a-zA-Z])", r"\1 \2", text)
    kept = [
        w
        for w in _words(text)
        if w not in NOISE_WORDS and not (drop_numbers and (w in NUMBER_WORDS or w.isdigit()))
    ]
    return " ".join(kept)


def _size_number(product: dict[str, Any]) -> float:
    """The biggest number in a product's name and attributes (its size, roughly)."""
    text = " ".join([product["name"], *map(str, (product.get("attributes") or {}).values())])
    numbers = [float(n.replace(",", ".")) for n in re.findall(r"\d+(?:[.,]\d+)?", text)]
    return max(numbers) if numbers else 0.0


class _Reply:
    """The texts and choices of this turn, in order."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.choices: list[Choice] = []

    def add(self, text: str | None) -> None:
        if text and text.strip():
            self.blocks.append(text.strip())


class RulesBrain:
    """The offline brain (see the module doc)."""

    name = "rules"

    async def respond(self, turn: Turn) -> list[Reply]:
        talk = _Talk(turn)
        await talk.run()
        return talk.replies()


class _Talk:
    """One turn of the rules brain."""

    def __init__(self, turn: Turn) -> None:
        self.turn = turn
        self.state = turn.state
        self.commerce = turn.commerce
        self.out = _Reply()
        self.greeting = ""

    @property
    def r(self) -> Any:
        return self.turn.replies

    # --- entry ------------------------------------------------------------------------

    async def run(self) -> None:
        turn = self.turn
        if turn.first_contact:
            self.greeting = self.r.greeting()
        images = [m for m in turn.media if m.is_image]
        if images:
            await self.on_image(images[0])
            return
        if turn.choice and parse_choice(turn.choice):
            if await self.on_choice(turn.choice):
                return
        text = turn.text.strip()
        if not text:
            if turn.unsupported:
                self.say(self.r.unsupported_message(turn.unsupported))
                await self.resume()
            elif not turn.first_contact:
                self.say(self.r.t("help"))
            return
        await self.on_text(text)

    def replies(self) -> list[Reply]:
        out: list[Reply] = []
        if self.greeting:
            out.append(self.turn.reply(self.greeting))
        if self.out.blocks:
            text = "\n\n".join(self.out.blocks)
            out.append(self.turn.reply(text, self.out.choices))
        elif self.out.choices:
            out.append(self.turn.reply("", self.out.choices))
        return out

    def say(self, text: str | None) -> None:
        self.out.add(text)

    def ask(self, asked: str | None, choices: Sequence[Choice] = ()) -> None:
        self.state.asked = asked
        self.out.choices = list(choices)

    # --- media and taps ---------------------------------------------------------------

    async def on_image(self, media: Any) -> None:
        another = self.state.receipt_sent and self.state.last_order_number is not None
        if self.state.awaiting_receipt_for is None and not another:
            if self.turn.text.strip():
                await self.on_text(self.turn.text.strip())
                return
            self.say(self.r.t("media.image_unexpected"))
            return
        result = await self.commerce.attach_receipt(self.state, media.path, media.media_type)
        self.say(self.r.render(result))
        if result.ok:
            self.ask(None)

    async def on_choice(self, choice: str) -> bool:
        kind, value = parse_choice(choice) or ("", "")
        if kind == PRODUCT and value.isdigit():
            await self.pick(int(value), quantity=None)
            return True
        if kind == DELIVERY:
            await self.choose_delivery(value)
            return True
        if kind == LOCATION:
            await self.choose_location(value)
            return True
        if kind == ANSWER:
            await self.on_text("sí" if value == "yes" else "no")
            return True
        return False

    # --- text -------------------------------------------------------------------------

    async def on_text(self, text: str) -> None:
        text = _expand(text)
        greeted, rest = _strip_greeting(text)
        if greeted and not rest:
            if not self.turn.first_contact:
                self.say(self.r.t("help") if not self.state.checkout else "")
                await self.resume()
            return
        text = rest or text
        for handler in (
            self.human,
            self.cart_edit,
            self.cancel,
            self.show_cart,
            self.same_details,
            self.side_questions,
            self.delivery_switch,
            self.extra_product,
            self.location_switch,
            self.answer_to_question,
            self.checkout,
            self.reference,
            self.awaiting_payment,
            self.bare_answer,
            self.product_request,
        ):
            if await handler(text):
                return
        self.say(self.r.not_understood())
        await self.resume()

    async def human(self, text: str) -> bool:
        # Exact words only: "encargar 10 conchas" is not "encargado".
        if not (is_human_request(text) and _has(text, HUMAN_PHRASES, fuzzy=False)):
            return False
        self.turn.handoff = "customer_request"
        self.say(self.r.handoff())
        self.ask(None)
        return True

    async def cancel(self, text: str) -> bool:
        """ "Cancela", "I changed my mind, I don't want anything": the cart is emptied."""
        if not self.state.cart or not _has(text, CANCEL_PHRASES, fuzzy=False):
            return False
        if await self.named_line(_product_query(text, True)) is not None:
            return False  # "cancela el café" is a change to the cart
        await self.clear_cart()
        return True

    async def clear_cart(self) -> None:
        for line in list(self.state.cart):
            await self.commerce.remove(self.state, line.product_id)
        self.state.checkout = False
        self.state.step = None
        self.say(self.r.t("cart.cleared"))
        self.ask(None)

    async def show_cart(self, text: str) -> bool:
        total = (
            _has(text, TOTAL_PHRASES, fuzzy=False)
            and bool(self.state.cart)
            and not mentioned_currency(text)
        )
        if not total and (not is_show_cart(text) or parse_quantity(text)):
            return False
        result = await self.commerce.show_cart(self.state)
        if result.ok and self.state.checkout:
            self.say(self.r.cart_summary(result.data))
            await self.resume()
        else:
            self.say(self.r.render(result))
        return True

    async def same_details(self, text: str) -> bool:
        if not self.state.has_saved_details or not _has(text, SAME_DETAILS_PHRASES):
            return False
        if not self.state.cart:
            return False
        if not self.state.checkout:
            start = await self.commerce.start_checkout(self.state)
            if not start.ok:
                return False
        await self.use_saved()
        return True

    async def use_saved(self) -> None:
        result = await self.commerce.use_saved_details(self.state)
        self.say(self.r.render(result))
        await self.after(result)

    # --- side questions ---------------------------------------------------------------

    async def side_questions(self, text: str) -> bool:
        if self.state.last_order_number is not None and _has(text, RECEIPT_QUESTION_PHRASES):
            number = self.state.last_order_number
            if self.state.awaiting_receipt_for is not None:
                self.say(self.r.t("receipt.waiting", number=number))
            else:
                self.say(self.r.t("receipt.received", number=number))
            return True
        if self.state.last_ready_at is not None and _has(text, READY_PHRASES):
            data = {"ready_at": self.state.last_ready_at, "pickup_location": self.state.last_pickup}
            self.say(self.r.ready_text(data))
            place = self.state.last_pickup or {}
            if place:
                self.say(self.r.t("pickup.at", name=place["name"], address=place["address"]))
            return True
        if self.state.asked == "fields" and self.looks_like_address(text):
            return False  # "Av. Revolución 1500" is not a question about returns
        if _has(text, DELIVERY_QUESTION_PHRASES) and ("?" in text or not self.state.checkout):
            if not await self.names_products(text):
                self.say(self.delivery_options())
                await self.resume()
                return True
        if _has(text, STORE_QUESTION_PHRASES, fuzzy=False):
            self.say(self.r.side_answer("locations"))  # where the stores really are
            await self.resume()
            return True
        if _has(text, PAYMENT_QUESTION_PHRASES) and ("?" in text or not self.state.cart):
            self.say(self.r.t("side.payment"))
            if self.turn.store.company.business_context:
                self.say(self.r.side_answer("business"))
            await self.resume()
            return True
        if _has(text, SHIPPING_TIME_PHRASES) and self.turn.store.company.business_context:
            self.say(self.r.side_answer("business"))
            await self.resume()
            return True
        if _has(text, DEPOSIT_PHRASES) and (
            "?" in text or _has(text, ("cuanto", "how much", "what", "que", "cual"))
        ):
            self.say(self.deposit_answer())
            await self.resume()
            return True
        question = side_question(text)
        if question is None:
            # Any other question: the merchant's own words, when some sentence of the
            # business context or return policy is about it.
            if "?" in text and not await self.names_products(text):
                answer = self.faq_answer(text)
                if answer:
                    self.say(answer)
                    await self.resume()
                    return True
            return False
        if question.topic == "currency":
            amount = await self.amount_in_view(text)
            if amount is None:
                return False
            self.say(self.r.answer_fx(amount, question.currency))
            if self.state.focus is not None and not self.state.line(self.state.focus):
                self.ask("quantity")
        else:
            topic = {
                "hours": "hours",
                "location": "locations",
                "returns": "returns",
                "originality": "business",
            }[question.topic]
            self.say(self.r.side_answer(topic))
        await self.resume()
        return True

    def looks_like_address(self, text: str) -> bool:
        """An email, a postal code with more, or a numbered street of a known type
        ("Av. Juárez 1200") — not "3 pink shakers"."""
        fields = self.address_fields(_clean_address(text))
        street_words = set(_words(fields.get("street", "")))
        return (
            bool(extract_email(text))
            or ("postal_code" in fields and len(fields) >= 2)
            or ("house_number" in fields and bool(street_words & STREET_TYPES))
        )

    async def names_products(self, text: str) -> bool:
        """Whether the message names products (besides anything else it says): a word of
        it is a word of a product's name (one no longer sold counts too)."""
        query = _product_query(text, drop_numbers=True)
        if not query:
            return False
        found = await self.commerce.catalog.search(query, limit=3)
        if any(_names_any(query, p.name) for p in found):
            return True
        gone = await self.commerce.catalog.discontinued_match(query)
        return gone is not None and _names_any(query, gone.name)

    def delivery_options(self) -> str:
        store = self.turn.store
        workflow = store.workflow
        methods = []
        if workflow.ships:
            methods.append(self.r.t("delivery.shipping"))
        if workflow.picks_up:
            methods.append(self.r.t("delivery.pickup"))
        lines = [self.r.t("side.delivery", methods=self.r.join(methods))]
        if workflow.ships:
            lines.append(
                self.r.t("side.delivery_cost", rate=self.r.money(store.shipping.flat_rate))
            )
            if store.shipping.free_threshold is not None:
                lines.append(
                    self.r.t(
                        "side.delivery_free", threshold=self.r.money(store.shipping.free_threshold)
                    )
                )
        if workflow.picks_up and store.locations:
            lines.append(self.r.answer_locations())
        threshold = store.shipping.free_threshold
        if workflow.ships and threshold is not None and self.state.cart:
            # "¿Cuánto me falta para el envío gratis?" for the cart as it is.
            subtotal = sum(
                (to_decimal(line.unit_price) * line.quantity for line in self.state.cart),
                Decimal(0),
            )
            if subtotal < threshold:
                lines.append(
                    self.r.t("quote.more_for_free", amount=self.r.money(threshold - subtotal))
                )
        return "\n".join(lines)

    def faq_answer(self, text: str) -> str:
        """The sentences of the business context and return policy that share the
        question's meaningful words ("¿llevan conservadores?" -> "Sin conservadores…");
        "" when none does: the agent never makes an answer up."""
        company = self.turn.store.company
        source = f"{company.business_context}\n{company.return_policy}"
        sentences = [x.strip() for x in re.split(r"(?<=[.!?])\s+|\n+", source) if x.strip()]
        asked = [w for w in _words(text) if len(w) >= 5 and w not in NOISE_WORDS]
        if not asked or not sentences:
            return ""
        scored = []
        for sentence in sentences:
            said = [w for w in _words(sentence) if len(w) >= 5]
            score = sum(
                1 for w in asked if any(_same_stem(w, x) or fuzz.ratio(w, x) >= 88 for x in said)
            )
            if score:
                scored.append((score, sentence))
        if not scored:
            return ""
        best = max(score for score, _ in scored)
        return " ".join(sentence for score, sentence in scored if score == best)[:600]

    def deposit_answer(self) -> str:
        """What a pickup order asks in advance (and how much for the quoted order)."""
        store = self.turn.store
        percent = store.pickup.advance_payment_percent if store.workflow.picks_up else 0
        if not percent:
            return self.r.t("side.no_deposit")
        quote = self.state.quote
        if quote is not None and quote.delivery_method == "pickup":
            return self.r.t(
                "side.deposit_amount", percent=percent, amount=self.r.money(quote.deposit_amount)
            )
        return self.r.t("side.deposit", percent=percent)

    async def amount_in_view(self, text: str) -> Decimal | None:
        """The amount a "how much in dollars?" is about: a product named in the message,
        the quote, the cart, or the product talked about last."""
        whole = _has(
            text, ("todo", "all", "everything", "total", "carrito", "cart", "pedido", "order")
        )
        if whole and (self.state.quote is not None or self.state.cart):
            query = ""
        else:
            query = _product_query(re.sub(r"(?i)\b(en|in)\s+\w+\s*\??$", "", text))
            query = " ".join(w for w in query.split() if not mentioned_currency(w))
        if query:
            found = await self.commerce.search(self.state, query, limit=TOO_MANY_OPTIONS)
            if found.ok:
                products = found.data["products"]
                product = _single_match(query, products) or products[0]
                # The product goes with the answer, and "I'll take one" means it.
                self.say(
                    self.r.t("alt.item", name=product["name"], price=self.r.money(product["price"]))
                )
                self.state.focus = product["id"]
                self.state.last_list = [product["id"]]
                return to_decimal(product["price"])
        if self.state.quote is not None:
            return to_decimal(self.state.quote.total)
        if self.state.cart:
            return sum(
                (to_decimal(line.unit_price) * line.quantity for line in self.state.cart),
                Decimal(0),
            )
        if self.state.focus is not None:
            result = await self.commerce.show_product(self.state, self.state.focus)
            if result.ok:
                return to_decimal(result.data["product"]["price"])
        return None

    # --- cart changes -----------------------------------------------------------------

    async def cart_edit(self, text: str) -> bool:
        edit = parse_cart_edit(text)
        if (
            edit is not None
            and edit.action == "remove"
            and _has(text, ADD_PHRASES, fuzzy=False)
            and not _has(text, REMOVE_VERBS, fuzzy=False)
        ):
            edit = None  # "agrégame una gorra": "gorra" only looks like "borra"
        if edit is None and self.state.cart:
            dropped = _NOT_ANY.search(text)
            target = dropped.group(1) if dropped else None
            if target is None and _has(text, REMOVE_EXTRA_PHRASES):
                target = _product_query(text, True) or None
            product_id = await self.named_line(target) if target else None
            if product_id is not None:
                await self.say_cart_change(await self.commerce.remove(self.state, product_id))
                return True
        only = _ONLY.match(text)
        if only and len(self.state.cart) > 1 and parse_quantity(only.group(1)) is None:
            keep = await self.named_line(only.group(1))
            if keep is not None:  # "mejor nada más el café": the other lines go
                for line in list(self.state.cart):
                    if line.product_id != keep:
                        result = await self.commerce.remove(self.state, line.product_id)
                self.state.focus = keep
                await self.say_cart_change(result)
                return True
        change = _CHANGE_TO.match(text)
        if change and self.state.cart:
            quantity = parse_quantity(change.group(2))
            target = await self.cart_target(change.group(1)) if quantity is not None else None
            if target is not None and quantity is not None:
                result = await self.commerce.set_quantity(self.state, target, quantity)
                self.state.focus = target if self.state.line(target) else None
                await self.say_cart_change(result)
                return True
        if edit is None or not self.state.cart:
            return False
        if edit.action == "set" and edit.target and self.state.asked == "list":
            # "mejor la de fresa" while a list is open: a choice, not a quantity.
            return False
        if edit.target and fold(edit.target) in {"total", "en total", "in total", "todo", "all"}:
            edit = CartEdit(edit.action, None, edit.quantity)  # "make it 5 total"
        product_id = await self.cart_target(edit.target)
        if product_id is None:
            if edit.target and edit.action == "set":
                return False  # "solo quiero saber..." is not about the cart
            self.say(self.r.render(ActionResult(False, "not_in_cart", {})))
            return True
        line = self.state.line(product_id)
        if edit.action == "remove":
            if edit.quantity and line is not None and edit.quantity < line.quantity:
                result = await self.commerce.set_quantity(
                    self.state, product_id, line.quantity - edit.quantity
                )
            else:
                result = await self.commerce.remove(self.state, product_id)
        else:
            result = await self.commerce.set_quantity(self.state, product_id, edit.quantity or 1)
        self.state.focus = product_id if self.state.line(product_id) else None
        await self.say_cart_change(result)
        return True

    async def cart_target(self, target: str | None) -> int | None:
        """The cart line a change of mind is about: named, numbered, or the last one."""
        cart = self.state.cart
        if not cart:
            return None
        if not target:
            if self.state.focus is not None and self.state.line(self.state.focus):
                return self.state.focus
            return cart[-1].product_id
        ref = parse_reference(target)
        if ref is not None and ref.index is not None and self.state.last_list:
            index = ref.index
            if (
                -len(self.state.last_list)
                <= (index - 1 if index > 0 else index)
                < len(self.state.last_list)
            ):
                pid = self.state.last_list[index - 1 if index > 0 else index]
                if self.state.line(pid):
                    return pid
        wanted = fold(_product_query(target) or target)
        if not wanted:
            return cart[-1].product_id
        best, best_score = None, 0.0
        for line in cart:
            name = fold(f"{line.name} {line.sku}")
            score = max(
                fuzz.partial_ratio(wanted, name),
                fuzz.token_set_ratio(wanted, name),
                _singular_score(wanted, name),
            )
            if score > best_score:
                best, best_score = line.product_id, score
        if best_score >= 75:
            return best
        # In the other language or by another word ("the caps" for "Gorra ..."): what
        # the catalog search finds for the words, among the cart's lines.
        found = await self.commerce.catalog.search(target, limit=TOO_MANY_OPTIONS)
        in_cart = [p.id for p in found if self.state.line(p.id)]
        return in_cart[0] if in_cart else None

    async def named_line(self, words: str) -> int | None:
        """The cart line whose product ``words`` name (in either language), if any."""
        for line in self.state.cart:
            if _names_any(words, line.name):
                return line.product_id
        query = _product_query(words, True)
        found = await self.commerce.catalog.search(query, limit=TOO_MANY_OPTIONS) if query else []
        named = [p for p in found if self.state.line(p.id) and _names_any(query, p.name)]
        if named:
            return named[0].id
        # Otherwise only the best hit, and only when it is in the cart.
        return found[0].id if found and self.state.line(found[0].id) else None

    async def say_cart_change(self, result: ActionResult, alternatives: bool = True) -> None:
        extra: dict[str, Any] = {}
        if result.code == "out_of_stock" and alternatives:
            extra["alternatives"] = await self.alternatives(result.data.get("product") or {})
        text = self.r.render(result, **extra)
        if result.ok and self.state.checkout:
            text = text.replace(self.r.t("checkout.resume"), "").strip()
            self.say(text)
            await self.resume(announce=True)
        else:
            self.say(text)
            if self.state.checkout:
                await self.resume()
            else:
                self.ask(None)

    async def alternatives(self, product: dict[str, Any]) -> list[dict[str, Any]]:
        """Up to three in-stock products most like ``product`` (by name, then category)."""
        name = str(product.get("name") or "")
        candidates: dict[int, Any] = {}
        for query in (_product_query(name), str(product.get("category") or "")):
            if query:
                for found in await self.commerce.catalog.search(query, limit=10):
                    candidates.setdefault(found.id, found)
        ranked = sorted(
            (
                p
                for p in candidates.values()
                if p.id != product.get("id") and p.in_stock and p.active
            ),
            key=lambda p: -fuzz.token_sort_ratio(fold(name), fold(p.name)),
        )
        return [{"id": p.id, "name": p.name, "price": str(p.price)} for p in ranked[:3]]

    # --- checkout ---------------------------------------------------------------------

    async def checkout(self, text: str) -> bool:
        if not is_checkout(text):
            return False
        if "?" in text and await self.names_products(text):
            return False  # "¿tienen pay de queso?": a product, not "pay"
        if not self.state.cart and self.state.awaiting_receipt_for is not None:
            return False  # "ya" / "listo" after the bank details: about the payment
        result = await self.commerce.start_checkout(self.state)
        if (
            result.ok
            and result.data.get("next_step") == SHIPPING_ADDRESS
            and (extract_email(text) or self.looks_like_address(text))
        ):
            # "Es todo, mi correo es ana@x.com y es para Guadalajara"
            self.say(self.r.t("checkout.start"))
            await self.answer_fields(text)
            return True
        if result.ok and result.data.get("next_step") == CONFIRMATION:
            # Nothing to ask: straight to the read-back (which names the pickup place).
            method = (result.data.get("automatic") or {}).get("delivery_method")
            told = self.r.t(f"checkout.only_{method}") if method else ""
            self.say(self.r.lines(self.r.t("checkout.start"), told))
            await self.set_step(CONFIRMATION, rendered=False)
            return True
        self.say(self.r.render(result))
        await self.after(result)
        return True

    async def after(self, result: ActionResult) -> None:
        """Ask what the step reached needs, with its tappable choices."""
        data = result.data
        if not result.ok and result.code not in (
            "invalid_fields",
            "location_ambiguous",
            "location_unknown",
            "step_missing",
        ):
            return
        if result.code in ("location_ambiguous", "location_unknown"):
            self.ask("location", self.location_choices(data.get("options")))
            return
        step = data.get("next_step", data.get("step"))
        await self.set_step(step, rendered=True, has_totals=bool(data.get("totals")), data=data)

    async def set_step(
        self,
        step: str | None,
        *,
        rendered: bool,
        has_totals: bool = False,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Record what is asked at ``step``; ``rendered`` says the question is already in
        the reply (the result's text carried it), else it is added here."""
        data = data or {}
        if step is None:
            self.ask("receipt" if self.state.awaiting_receipt_for is not None else None)
            return
        if step == DELIVERY_CHOICE:
            if not rendered:
                self.say(self.r.ask_delivery(self.offered()))
            self.ask("delivery", self.delivery_choices())
        elif step == PICKUP_LOCATION:
            if not rendered:
                self.say(self.r.ask_location())
            self.ask("location", self.location_choices())
        elif step == SHIPPING_ADDRESS:
            offer = self.offer_saved()
            if not rendered:
                if offer:
                    self.say(self.r.offer_saved_details())
                else:
                    self.say(self.r.ask_fields(await self.missing()))
            shown_offer = rendered and data.get("saved_details")
            self.ask("saved_details" if (offer and (not rendered or shown_offer)) else "fields")
            if self.state.asked == "saved_details":
                self.out.choices = self.yes_no_choices()
        elif step == CONFIRMATION:
            if not (rendered and has_totals):
                quote = await self.commerce.quote(self.state)
                self.say(self.r.render(quote))
                if not quote.ok:
                    await self.after(quote)
                    return
            self.ask("confirm", self.yes_no_choices())
        elif step == PAYMENT_PROOF:
            if not rendered:
                self.say(self.r.ask_receipt())
            self.ask("receipt")
        else:  # a plugin's step
            if not rendered:
                self.say(self.r.ask_fields(await self.missing()))
            self.ask("fields")

    def offer_saved(self) -> bool:
        """Whether to ask "same details as last time?" (a returning customer who has not
        started giving an address nor said no)."""
        state = self.state
        return (
            bool(state.saved_address or state.saved_email)
            and not state.declined_saved
            and not state.address
        )

    async def missing(self) -> list[str]:
        nxt = await self.commerce.next(self.state)
        return list(nxt["missing"]) if nxt else []

    async def resume(self, announce: bool = False) -> None:
        """Back to the checkout step the customer was on (after a detour)."""
        if self.state.awaiting_receipt_for is not None and not self.state.checkout:
            self.ask("receipt")
            return
        if not self.state.checkout:
            return
        nxt = await self.commerce.next(self.state)
        if nxt is None:
            return
        if announce:
            self.say(self.r.t("checkout.resume"))
        step = nxt["step"]
        if step == CONFIRMATION and self.state.quote is not None and not announce:
            self.say(self.r.t("confirm.ask"))
            self.ask("confirm", self.yes_no_choices())
            return
        await self.set_step(step, rendered=False)

    def offered(self) -> list[str]:
        workflow = self.turn.store.workflow
        return [m for m, ok in (("shipping", workflow.ships), ("pickup", workflow.picks_up)) if ok]

    def delivery_choices(self) -> list[Choice]:
        return [Choice(choice_id(DELIVERY, m), self.r.t(f"delivery.{m}")) for m in self.offered()]

    def location_choices(self, options: Sequence[dict[str, Any]] | None = None) -> list[Choice]:
        if options is None:
            options = [
                {"name": loc.name, "address": loc.address} for loc in self.turn.store.locations
            ]
        return [
            Choice(choice_id(LOCATION, o["name"]), o["name"], o.get("address") or None)
            for o in options
        ]

    def yes_no_choices(self) -> list[Choice]:
        return [
            Choice(choice_id(ANSWER, "yes"), self.r.t("button.yes")),
            Choice(choice_id(ANSWER, "no"), self.r.t("button.no")),
        ]

    async def delivery_switch(self, text: str) -> bool:
        """ "Mejor a domicilio" / "I'll pick it up instead" while checking out (or with a
        cart, which starts the checkout)."""
        if self.turn.store.workflow.value != "shipping_and_pickup" or not self.state.cart:
            return False
        if self.state.asked == "delivery":
            return False  # answered in answer_to_question
        method = _delivery(text)
        if method is None:
            return False
        if method == self.state.delivery_method:
            # "Pickup at Roma Norte" again (or another store): the place, then read-back.
            locations = self.turn.store.locations
            named = (
                match_locations(_product_query(text, True), locations) if method == "pickup" else []
            )
            if len(named) == 1 and self.state.checkout:
                await self.choose_location(named[0].name)
                return True
            return False
        if not self.state.checkout and "?" in text:
            return False
        if self.state.asked == "fields" and (extract_email(text) or self.address_fields(text)):
            return False  # an address that mentions "domicilio"
        if not self.state.checkout:
            await self.commerce.start_checkout(self.state)
        await self.choose_delivery(method, text)
        return True

    async def choose_delivery(self, method: str, text: str = "") -> None:
        """Shipping or pickup; details in the same message ("envío a Calle Puebla 150...",
        "paso a la sucursal Roma") are taken too."""
        if not self.state.cart:
            self.say(self.r.render(ActionResult(False, "cart_empty", {})))
            return
        self.state.checkout = True
        result = await self.commerce.choose_delivery(self.state, method)
        if result.ok and text:
            previous = result.data.get("previous")
            kind = "switched" if previous and previous != method else "chosen"
            head = self.r.t(f"delivery.{kind}_{result.data['delivery_method']}")
            if method == "shipping" and self.looks_like_address(text):
                self.say(head)
                await self.answer_fields(text)
                return
            locations = self.turn.store.locations
            if method == "pickup" and len(locations) > 1:
                named = match_locations(_product_query(text, True), locations)
                if len(named) == 1:
                    self.say(head)
                    await self.choose_location(named[0].name)
                    return
        if result.ok and result.data.get("next_step") == SHIPPING_ADDRESS and self.offer_saved():
            previous = result.data.get("previous")
            kind = "switched" if previous and previous != method else "chosen"
            self.say(self.r.t(f"delivery.{kind}_{result.data['delivery_method']}"))
            await self.set_step(SHIPPING_ADDRESS, rendered=False)
            return
        self.say(self.r.render(result))
        if result.ok:
            await self.after(result)
        else:
            self.ask("delivery", self.delivery_choices())

    async def location_switch(self, text: str) -> bool:
        """ "Mejor en Providencia", "make it Del Valle instead": another pickup store."""
        if self.state.delivery_method != "pickup" or not self.state.checkout:
            return False
        if self.state.asked == "location":
            return False  # answered in answer_to_question
        named = match_locations(_product_query(text, True), self.turn.store.locations)
        if len(named) != 1 or named[0].name == self.state.pickup_location:
            return False
        if not (_has(text, CHANGE_PLACE_WORDS) or len(_words(text)) <= 4):
            return False
        await self.choose_location(named[0].name)
        return True

    async def choose_location(self, name: str) -> None:
        result = await self.commerce.choose_pickup_location(self.state, name)
        if not (result.ok and result.data.get("next_step") == CONFIRMATION):
            self.say(self.r.render(result))  # (the read-back names the place itself)
        await self.after(result)

    # --- the answer to the question just asked ----------------------------------------

    async def answer_to_question(self, text: str) -> bool:
        asked = self.state.asked
        if asked == "confirm":
            return await self.answer_confirm(text)
        if asked == "saved_details":
            answer = yes_no(text)
            if answer is True:
                await self.use_saved()
                return True
            if answer is False or _has(
                text,
                (
                    "otra direccion",
                    "other address",
                    "different address",
                    "new address",
                    "nueva direccion",
                ),
            ):
                self.state.declined_saved = True
                if not self.state.email and self.state.saved_email:
                    # Another address, the same person: the email still holds.
                    await self.commerce.set_fields(self.state, email=self.state.saved_email)
                if await self.answer_fields(text):
                    return True
                self.say(self.r.ask_fields(await self.missing()))
                self.ask("fields")
                return True
            return await self.answer_fields(text)
        if asked == "delivery":
            return await self.answer_delivery(text)
        if asked == "location":
            return await self.answer_location(text)
        if asked == "fields":
            return await self.answer_fields(text)
        if asked == "quantity" and self.state.focus is not None:
            # "¿Cuántas te pongo?" -> "2" / "sí" / "dame dos"
            quantity = parse_quantity(text)
            if quantity is None and yes_no(text) is True:
                quantity = 1
            if quantity is not None and not await self.names_products(text):
                await self.pick(self.state.focus, quantity)  # "3 please, one for each kid"
                return True
            if yes_no(text) is False:
                self.say(self.r.t("anything_else"))
                self.ask(None)
                return True
        return False

    async def answer_confirm(self, text: str) -> bool:
        if _has(text, CANCEL_PHRASES, fuzzy=False) and (
            await self.named_line(_product_query(text, True)) is None
        ):
            await self.clear_cart()
            return True
        answer = yes_no(text)
        explicit = _has(
            text,
            (
                "confirmo",
                "confirmar",
                "confirm",
                "place the order",
                "hazlo",
                "do it",
                "esta bien asi",
                "it's fine",
                "its fine",
                "asi esta bien",
                "todo bien",
            ),
            fuzzy=False,
        )
        negated = _has(
            text, ("no confirm", "don't confirm", "dont confirm", "no lo confirmes"), fuzzy=False
        )
        if explicit and not negated:
            answer = True  # "nah it's fine, confirm it", "no, así está bien, confírmalo"
        if answer is True:
            result = await self.commerce.confirm(self.state)
            self.say(self.r.render(result))
            if result.code == "order_created":
                self.ask("receipt" if self.state.awaiting_receipt_for is not None else None)
            elif result.code in ("quote_required", "cart_changed", "price_changed") or (
                result.code == "out_of_stock" and result.data.get("totals")
            ):
                self.ask("confirm", self.yes_no_choices())
            else:
                await self.after(result)
            return True
        if answer is False:
            self.say(self.r.t("confirm.change"))
            self.ask(None)
            return True
        return False

    async def answer_delivery(self, text: str) -> bool:
        method = _delivery(text)
        m = _BARE_NUMBER.match(text)
        if method is None and m:
            offered = self.offered()
            index = int(m.group(1)) - 1
            if 0 <= index < len(offered):
                method = offered[index]
        if method is None and self.turn.store.workflow.picks_up:
            if match_locations(text, self.turn.store.locations) and not _BARE_NUMBER.match(text):
                # Naming a store answers the question: pickup there.
                await self.commerce.choose_delivery(self.state, "pickup")
                await self.choose_location(text)
                return True
        if method is None:
            return False
        await self.choose_delivery(method, text)
        return True

    async def answer_location(self, text: str) -> bool:
        locations = self.turn.store.locations
        m = _BARE_NUMBER.match(text)
        ref = parse_reference(text)
        index = int(m.group(1)) if m else (ref.index if ref and ref.index else None)
        if index is not None and 1 <= index <= len(locations):
            await self.choose_location(locations[index - 1].name)
            return True
        if match_locations(text, locations):
            await self.choose_location(text)
            return True
        return False

    def address_fields(self, text: str) -> dict[str, str]:
        return parse_address(text, self.turn.store.company.country)

    async def answer_fields(self, text: str) -> bool:
        """Email, address fields and plugin fields out of one message."""
        if "?" in text and not self.looks_like_address(text):
            return False  # a question asked in the middle, not the details
        missing = await self.missing()
        nxt = await self.commerce.next(self.state)
        step = nxt["step"] if nxt else None
        fields: dict[str, str] = {}
        email = extract_email(text)
        if email:
            fields["email"] = email
        elif broken := [w.strip(",;.") for w in re.split(r"[\s,;]+", text) if _looks_like_email(w)]:
            # A mistyped email ("kelly.r@gmail", "kelly.r.gmail.com"): refused with the
            # reason by set_fields, and never read as part of the address.
            if "email" in missing:
                fields["email"] = broken[0]
        if step == SHIPPING_ADDRESS:
            rest = re.sub(
                r"[^\s,;]+", lambda m: " " if _looks_like_email(m.group(0)) else m.group(0), text
            )
            rest = _clean_address(_FIELD_LABELS.sub(" ", rest))
            parsed = self.address_fields(rest) if rest.strip(" ,.;") else {}
            fields.update(parsed)
            if "postal_code" in missing and "postal_code" not in fields:
                code = extract_postal_code(rest, self.turn.store.company.country)
                labelled = _LABELLED_POSTAL.search(text)
                if code:
                    fields["postal_code"] = code
                elif labelled:
                    fields["postal_code"] = labelled.group(1)  # set_fields says what is wrong
                elif bad := _TRAILING_BAD_ZIP.search(rest):
                    fields["postal_code"] = bad.group(2)  # "Austin TX 787": told, not lost
                    fields.update(self.address_fields(rest[: bad.start(2)]))
            asked_now = [m for m in missing if m != "email"]
            question = "?" in text or _has(
                text, ("how", "what", "when", "cuanto", "como", "cuando", "que")
            )
            if (
                not parsed
                and len(asked_now) == 1
                and not email
                and not question
                and yes_no(text) is None
            ):
                value = _clean_address(text).strip(" .")
                if asked_now[0] == "postal_code" and not re.search(r"\d", value):
                    value = ""
                if value and len(value.split()) <= 8:
                    fields[asked_now[0]] = value
        elif step not in (None, DELIVERY_CHOICE, PICKUP_LOCATION, CONFIRMATION, PAYMENT_PROOF):
            if len(missing) == 1 and missing[0] != "email":
                fields[missing[0]] = text.strip()
        if not fields:
            return False
        result = await self.commerce.set_fields(self.state, **fields)
        self.say(self.r.render(result))
        await self.after(result)
        return True

    # --- products -----------------------------------------------------------------------

    async def extra_product(self, text: str) -> bool:
        """ "Agrega también una creatina" at any point (even while asked for an address)."""
        if not _has(text, ADD_PHRASES):
            return False
        if await self.several_items(text):
            return True
        quantity, query, found = await self.understand_item(text)
        if not query or found is None or not found.ok:
            return False
        await self.show_found(found, quantity, buying=True, text=text)
        return True

    async def reference(self, text: str) -> bool:
        """ "La 2", "el de chocolate", "the large one": a product of the last list."""
        if not self.state.last_list:
            return False
        if _ITEM_SEPARATORS.search(text) and await self.several_items(text):
            return True  # "the big one and 4 vanilla conchas"
        ref = parse_reference(text)
        if ref is None:
            if len(self.state.last_list) < 2:
                return False
            return await self.narrow_list(_product_query(text), text, parse_quantity(text))
        quantity = parse_quantity(text)
        if ref.index is not None:
            if ref.bare and self.state.asked != "list" and len(self.state.last_list) < ref.index:
                return False
            listed = self.state.last_list
            position = ref.index - 1 if ref.index > 0 else len(listed) + ref.index
            if not 0 <= position < len(listed):
                return False
            if quantity == ref.index and len(re.findall(r"\d+|\b\w+\b", text)) <= 3:
                quantity = None
            if ref.bare:
                quantity = None
            await self.pick(listed[position], quantity, info=_has(text, INFO_PHRASES))
            return True
        return await self.narrow_list(ref.descriptor or "", text, quantity)

    async def listed(self) -> list[dict[str, Any]]:
        """The products of the last list, in order."""
        products = []
        for pid in self.state.last_list:
            result = await self.commerce.show_product(self.state, pid)
            if result.ok:
                products.append(result.data["product"])
        return products

    async def described_in_list(
        self, descriptor: str, products: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The listed products ``descriptor`` describes ("the large one", "la de 2 libras",
        "the black one" for "Negro")."""
        words = set(fold(descriptor).split())
        if words & BIG_WORDS or words & SMALL_WORDS:
            ordered = sorted(products, key=_size_number)
            if ordered and _size_number(ordered[0]) != _size_number(ordered[-1]):
                return [ordered[-1] if words & BIG_WORDS else ordered[0]]
        wanted = [
            w
            for w in _size_words(descriptor)
            if w not in NOISE_WORDS and (w.isdigit() or w not in NUMBER_WORDS)
        ]
        if not wanted:
            return []
        matching = [
            product
            for product in products
            if all(
                any(
                    w == h
                    or (len(w) >= 4 and not w.isdigit() and fuzz.ratio(w, h) >= 80)
                    or _same_stem(w, h)
                    for h in _size_words(f"{_described(product)} {product.get('sku') or ''}")
                )
                for w in wanted
            )
        ]
        if not matching:
            # Words of the other language: the catalog search knows them.
            found = {p.id for p in await self.commerce.catalog.search(" ".join(wanted), limit=20)}
            matching = [p for p in products if p["id"] in found]
        return matching

    async def narrow_list(self, descriptor: str, text: str, quantity: int | None = None) -> bool:
        """The listed products the words describe: one -> it; several -> a shorter list."""
        if not descriptor:
            return False
        products = await self.listed()
        matching = await self.described_in_list(descriptor, products)
        available = [p for p in matching if p.get("in_stock", True)]
        if len(matching) > 1 and len(available) == 1:
            matching = available  # of two sizes, only one can be sold
        if len(matching) == 1:
            quantity = _quantity_besides(text, matching[0]["name"], quantity)
            await self.pick(matching[0]["id"], quantity, info=_has(text, INFO_PHRASES))
            return True
        if len(matching) > 1 and len(matching) < len(products):
            self.state.last_list = [p["id"] for p in matching]
            result = ActionResult(True, "found", {"query": descriptor, "products": matching})
            self.show_list(result)
            return True
        return False

    async def pick(self, product_id: int, quantity: int | None, info: bool = False) -> None:
        """The customer chose a product: its details when they asked about it, else into
        the cart (the quantity said now, or the one said with the request)."""
        self.state.focus = product_id
        if info and quantity is None:
            result = await self.commerce.show_product(self.state, product_id)
            self.say(self.r.render(result))
            stock = result.data["product"].get("stock") if result.ok else None
            if stock is not None and _has(self.turn.text, STOCK_QUESTION_PHRASES):
                name = result.data["product"]["name"]
                self.say(self.r.texts.plural("stock.count", int(stock), name=name))
            in_stock = result.ok and result.data["product"].get("in_stock", True)
            self.ask("quantity" if in_stock else None)
            return
        wanted = quantity or self.state.pending_quantity or 1
        self.state.pending_quantity = None
        result = await self.commerce.add(self.state, product_id, wanted)
        self.state.last_list = [] if result.ok else self.state.last_list
        await self.say_cart_change(result)

    async def product_request(self, text: str) -> bool:
        if (
            not self.state.checkout
            and self.looks_like_address(text)
            and not _has(text, BUY_PHRASES)
        ):
            return False  # an address with nothing to send yet is not an order of 27 ropes
        cheap, pricey = _has(text, CHEAP_PHRASES), _has(text, PRICEY_PHRASES)
        if cheap or pricey:
            return await self.extreme_price(_product_query(text, drop_numbers=True), cheap, text)
        if await self.several_items(text):
            return True
        if (
            self.state.focus is not None
            and _has(text, MORE_PHRASES, fuzzy=False)
            and not await self.names_products(text)
        ):
            # "and 2 more for my brother", "y otra más"
            return await self.more_of_focus(text, parse_quantity(text) or 1)
        quantity, query, found = await self.understand_item(text)
        if not query:
            return await self.more_of_focus(text, quantity)
        named = (
            found is not None
            and found.ok
            and any(_names_all(query, p["name"]) for p in found.data["products"])
        )
        if not named:  # nothing sold has all the words: maybe something no longer sold
            gone = await self.commerce.catalog.discontinued_match(query)
            if gone is not None and _names_all(query, gone.name):
                self.say(self.r.t("product.inactive", name=gone.name))
                alternatives = await self.alternatives(
                    {"id": gone.id, "name": gone.name, "category": gone.category}
                )
                self.say(self.r.alternatives(alternatives))
                self.ask(None)
                await self.resume()
                return True
        if found is None or not found.ok:
            if _has(text, GOODBYE_PHRASES) or _has(text, THANKS_PHRASES):
                self.say(self.r.t("anything_else"))
                return True
            if len(query.split()) > 3:
                self.say(self.r.not_understood())  # a sentence, not a product name
            else:
                self.say(
                    self.r.render(found or ActionResult(False, "no_results", {"query": query}))
                )
            await self.resume()
            return True
        method = (
            _delivery(text) if self.turn.store.workflow.value == "shipping_and_pickup" else None
        )
        buying = (
            quantity is not None or _has(text, BUY_PHRASES) or method is not None or _requests(text)
        )
        await self.show_found(
            found, quantity, buying=buying and not _has(text, INFO_PHRASES), text=text
        )
        if method is not None and self.state.cart and not self.state.checkout:
            await self.prefer_delivery(method, text)
        return True

    async def prefer_delivery(self, method: str, text: str) -> None:
        """ "Can I pick up a pink shaker at your Roma store?": the way (and place) the
        customer said is kept for the checkout, which then does not ask again."""
        await self.commerce.choose_delivery(self.state, method)
        if method == "pickup":
            named = match_locations(_product_query(text, True), self.turn.store.locations)
            if len(named) == 1:
                await self.commerce.choose_pickup_location(self.state, named[0].name)

    async def understand_item(self, text: str) -> tuple[int | None, str, ActionResult | None]:
        """(quantity, product words, search result) for one requested item.

        The quantity parser may take a size for a quantity ("una creatina de 300") or a
        product word for a unit ("2 botellas negras"); both readings are searched and the
        more specific one wins."""
        text = _TIME_SPANS.sub(" ", text)  # "hace como 4 meses" counts no products
        quantity, rest = extract_quantity_and_rest(text)
        for code in _SKU_LIKE.findall(text):
            # "AFS-CREA-300 x2": a SKU names exactly one product.
            found = await self.commerce.search(self.state, code, limit=1)
            products = found.data.get("products", []) if found.ok else []
            if products and fold(products[0]["sku"] or "") == fold(code):
                amount = parse_quantity(text.replace(code, " "))
                return (
                    amount,
                    code,
                    ActionResult(True, "found", {"query": code, "products": products}),
                )
        # (quantity, query, the size the reading assumes or None)
        readings: list[tuple[int | None, str, str | None]] = [
            (quantity, _product_query(rest), None)
        ]
        loose = _product_query(text, drop_numbers=True)
        if loose:
            readings.append((quantity, loose, None))
        if quantity is not None and re.search(rf"\b{quantity}\b", text):
            without = re.sub(rf"\b{quantity}\b", " ", text)
            sized = f"{_product_query(without, drop_numbers=True)} {quantity}".strip()
            readings.append((parse_quantity(without), sized, str(quantity)))
        best: tuple[int | None, str, ActionResult | None] = (quantity, readings[0][1], None)
        best_rank = 99
        for amount, query, size in readings:
            if not query:
                continue
            found = await self.commerce.search(self.state, query, limit=TOO_MANY_OPTIONS)
            if not found.ok:
                continue
            products = found.data["products"]
            single = _single_match(query, products)
            if size is not None:
                described = fold(f"{single['name']} {single.get('attributes')}") if single else ""
                if size not in described.split():
                    continue  # the number is not a size of what was found
            rank = 0 if single is not None else len(products)
            if rank < best_rank:
                best, best_rank = (amount, query, found), rank
        amount, query, found = best
        if found is not None:
            self.state.last_list = [p["id"] for p in found.data["products"]]
            single = _single_match(query, found.data["products"])
            if single is not None and amount is not None:
                amount = _quantity_besides(text, single["name"], amount)
        return amount, query, found

    async def several_items(self, text: str) -> bool:
        shown = list(self.state.last_list)
        if await self._several_items(text):
            return True
        self.state.last_list = shown  # the searches of a failed reading leave no trace
        return False

    async def _several_items(self, text: str) -> bool:
        """ "Una gorra negra y 2 shakers rosas", "the big one and 4 vanilla conchas", "dame
        las 90 y 10 de vainilla": every part names one product (or points into the last
        list, or gives a quantity of the product talked about) -> all go into the cart at
        once. Parts that name nothing ("jaja perdón", "paso a recogerlas") are skipped;
        anything unclear leaves the message to the one-product reading."""
        parts = [p for p in _ITEM_SEPARATORS.split(text) if p and p.strip()]
        if len(parts) < 2:
            return False
        focus = self.state.focus
        head = ""
        if focus is not None:
            shown = await self.commerce.show_product(self.state, focus)
            if shown.ok:
                head = _product_query(shown.data["product"]["name"], True).split()[0]
        picks: list[tuple[int, int, bool]] = []  # (product, quantity, set instead of add)
        listed = await self.listed() if self.state.last_list else []
        for part in parts:
            own = _product_query(part, True)
            if not own:
                amount = parse_quantity(part)
                if amount is not None and picks:
                    picks[-1] = (picks[-1][0], amount, picks[-1][2])  # "the 2nd one, just 1"
                elif amount is not None and focus is not None:
                    picks.append((focus, amount, self.state.line(focus) is not None))
                continue
            ref = parse_reference(part)
            if listed and ref is not None:
                chosen = None
                if ref.index is not None and 0 < ref.index <= len(listed):
                    chosen = listed[ref.index - 1]
                elif ref.descriptor and len(listed) == 1:
                    chosen = listed[0]  # "the big one" right after it was shown
                elif ref.descriptor:
                    described = await self.described_in_list(ref.descriptor, listed)
                    chosen = described[0] if len(described) == 1 else None
                if chosen is not None:
                    amount = parse_quantity(part.replace(str(ref.index or ""), " "))
                    picks.append((chosen["id"], amount or 1, False))
                    continue
            if listed and len(listed) > 1:
                described = await self.described_in_list(own, listed)
                if len(described) == 1:  # "one M and one L", "the black and the white"
                    picks.append((described[0]["id"], parse_quantity(part) or 1, False))
                    continue
            quantity, query, found = await self.understand_item(part)
            single = _single_match(query, found.data["products"]) if found and found.ok else None
            if single is None and head and head not in query.split():
                amount, query, found = await self.understand_item(f"{head} {part}")
                quantity = quantity or amount
                single = (
                    _single_match(query, found.data["products"]) if found and found.ok else None
                )
            by_code = single is not None and query in _SKU_LIKE.findall(part)
            if single is None or not (by_code or _names_any(own, _described(single))):
                if await self.names_products(part):
                    return False  # a product, but which one is unclear
                continue  # not about a product at all
            head = head or query.split()[0]
            picks.append((single["id"], quantity or 1, False))
        if len(picks) < 2:
            return False
        more = self.r.t("cart.more")
        for i, (product_id, quantity, replace) in enumerate(picks):
            self.state.focus = product_id
            before = len(self.out.blocks)
            if replace:
                result = await self.commerce.set_quantity(self.state, product_id, quantity)
            else:
                result = await self.commerce.add(self.state, product_id, quantity)
            await self.say_cart_change(result)
            if i < len(picks) - 1 and len(self.out.blocks) > before:
                self.out.blocks[-1] = self.out.blocks[-1].replace(more, "").strip()
        self.state.last_list = []
        return True

    async def more_of_focus(self, text: str, quantity: int | None) -> bool:
        """ "Dame 2" / "a couple more" about the product talked about last."""
        focus = self.state.focus
        if quantity is None and _has(text, BUY_PHRASES):
            quantity = 1  # "ok dame unos", "I'll take it"
        if quantity is None or focus is None:
            return False
        line = self.state.line(focus)
        if line is None:
            await self.pick(focus, quantity)
        elif _has(text, MORE_PHRASES):
            await self.say_cart_change(await self.commerce.add(self.state, focus, quantity))
        else:
            await self.say_cart_change(
                await self.commerce.set_quantity(self.state, focus, quantity)
            )
        return True

    async def show_found(
        self, found: ActionResult, quantity: int | None, buying: bool, text: str = ""
    ) -> None:
        products = found.data["products"]
        query = str(found.data.get("query") or "")
        single = _single_match(query, products)
        if single is None and text and _has(text, AGAIN_PHRASES):
            # "otra creatina igual": the one of the last order.
            again = [p for p in products if p["id"] in self.state.last_items]
            single = again[0] if len(again) == 1 else None
        if single is not None:
            self.state.last_list = [single["id"]]
            if not single.get("in_stock", True):
                self.state.focus = single["id"]
                alternatives = await self.alternatives(single)
                self.say(self.r.product_details(single))
                self.say(self.r.alternatives(alternatives) or self.r.t("alt.offer"))
                self.ask(None)
                await self.resume()
            elif buying:
                await self.pick(single["id"], quantity)
            else:
                self.state.focus = single["id"]
                self.say(self.r.product_details(single))
                self.ask("quantity")
                await self.resume()
            return
        self.state.pending_quantity = quantity
        self.show_list(found)

    def show_list(self, found: ActionResult) -> None:
        products = found.data["products"]
        self.say(self.r.render(found))
        self.ask(
            "list",
            [
                Choice(
                    choice_id(PRODUCT, p["id"]),
                    p["name"],
                    self.r.money(p["price"]),
                )
                for p in products
            ],
        )

    async def cheaper_than_focus(self) -> bool:
        """ "¿Tienen algo más barato?": what is like the product in view but costs less."""
        assert self.state.focus is not None
        shown = await self.commerce.show_product(self.state, self.state.focus)
        if not shown.ok:
            return False
        product = shown.data["product"]
        price = to_decimal(product["price"])
        candidates: dict[int, dict[str, Any]] = {}
        for query in (product.get("category") or "", _product_query(product["name"], True)):
            if query:
                found = await self.commerce.search(self.state, query, limit=TOO_MANY_OPTIONS)
                for p in found.data.get("products", []) if found.ok else []:
                    if to_decimal(p["price"]) < price and p.get("in_stock", True):
                        candidates.setdefault(p["id"], p)
        cheaper = sorted(candidates.values(), key=lambda p: to_decimal(p["price"]))
        if not cheaper:
            return False
        if len(cheaper) == 1:
            self.state.focus = cheaper[0]["id"]
            self.state.last_list = [cheaper[0]["id"]]
            self.say(self.r.product_details(cheaper[0]))
            self.ask("quantity")
            return True
        self.state.last_list = [p["id"] for p in cheaper]
        self.show_list(ActionResult(True, "found", {"query": "", "products": cheaper}))
        return True

    async def extreme_price(self, query: str, cheapest: bool, text: str = "") -> bool:
        """The cheapest (or priciest) of what the customer names, else of the last list."""
        extreme = {w for p in (*CHEAP_PHRASES, *PRICEY_PHRASES) for w in _words(p)}
        query = " ".join(w for w in query.split() if w not in extreme)
        if (
            cheapest
            and not query
            and self.state.focus is not None
            and _has(text, ("algo", "anything", "something", "cheaper", "otra", "otro"))
        ):
            if await self.cheaper_than_focus():
                return True
        products: list[dict[str, Any]] = []
        if query:
            found = await self.commerce.search(self.state, query, limit=TOO_MANY_OPTIONS)
            products = found.data.get("products", []) if found.ok else []
        if not products:
            for pid in self.state.last_list:
                result = await self.commerce.show_product(self.state, pid)
                if result.ok:
                    products.append(result.data["product"])
        products = [p for p in products if p.get("in_stock", True)]
        if not products:
            return False
        pick = min if cheapest else max
        chosen = pick(products, key=lambda p: to_decimal(p["price"]))
        self.state.focus = chosen["id"]
        self.state.last_list = [chosen["id"]]
        quantity = parse_quantity(text)
        if quantity is not None or _has(text, BUY_PHRASES):
            await self.pick(chosen["id"], quantity)  # "the cheaper one, 2 of them"
            return True
        self.say(self.r.t("cheapest" if cheapest else "priciest"))
        self.say(self.r.product_details(chosen))
        self.ask("quantity")
        return True

    # --- after an order -----------------------------------------------------------------

    async def awaiting_payment(self, text: str) -> bool:
        number = self.state.awaiting_receipt_for
        if number is None or self.state.cart:
            return False
        if _has(text, PAID_PHRASES) or is_checkout(text) or yes_no(text) is not None:
            self.say(self.r.t("receipt.waiting", number=number))
            self.ask("receipt")
            return True
        return False

    async def bare_answer(self, text: str) -> bool:
        """A short yes/no/thanks with nothing pending: offer more help."""
        if len(_words(text)) > 3 or _has(text, BUY_PHRASES) or _has(text, MORE_PHRASES):
            return False
        if _has(text, THANKS_PHRASES) or yes_no(text) is not None:
            if self.state.checkout:
                await self.resume()
            else:
                self.say(self.r.t("anything_else"))
            return True
        return False


# --- matching helpers ---------------------------------------------------------------------


def _same_stem(a: str, b: str) -> bool:
    """ "fresas" ~ "fresa", "caps" ~ "cap": equal once a plural ending is dropped."""

    def stem(w: str) -> str:
        for end in ("es", "s"):
            if len(w) > 4 and w.endswith(end):
                return w[: -len(end)]
        return w

    return stem(a) == stem(b)


def _quantity_besides(text: str, name: str, default: int | None) -> int | None:
    """The quantity in ``text`` not counting the numbers of the product's own name
    ("uno de tres leches" -> 1, "2 whey de 2 libras" -> 2); ``default`` when the text
    repeats none of them."""
    named = _size_words(name)
    sizes = [(n, named[i + 1]) for i, n in enumerate(named[:-1]) if n.isdigit()]
    words = _size_words(text)
    found = False
    for number, unit in sizes:  # "2 lb" of the name, once
        for i in range(len(words) - 1):
            if words[i] == number and words[i + 1] == unit:
                del words[i : i + 2]
                found = True
                break
    number_words = set(named) & NUMBER_WORDS
    if number_words & set(words):
        words = [w for w in words if w not in number_words]
        found = True
    return parse_quantity(" ".join(words)) if found else default


_ARTICLE_START = re.compile(
    r"(?i)^\s*(?:[\w\s]{0,20},\s*)?(?:(?:y|and|ok|okay|then|entonces|pues|ugh)\s+)*"
    r"(?:un|una|unos|unas|a|an|one)\s+"
)


_DOMAIN_LIKE = re.compile(
    r"(?i)^[\w.+-]+\.(?:com|net|org|mx|es|edu|io|co|us|gob)(?:\.[a-z]{2})?[,;.]?$"
)


def _looks_like_email(word: str) -> bool:
    """An email, or what is left of one typed wrong."""
    return "@" in word or bool(_DOMAIN_LIKE.match(word))


def _requests(text: str) -> bool:
    """ "Unos guantes grandes porfa", "a gym towel then": a product asked for without a
    verb (an article opening the request, or a please)."""
    return bool(_ARTICLE_START.match(text)) or _has(text, ("porfa", "por favor", "please", "pls"))


def _names_all(query: str, name: str) -> bool:
    """Whether every word of ``query`` (of 3+ letters) is in ``name``, typos allowed."""
    words = [w for w in fold(query).split() if len(w) >= 3]
    names = fold(name).split()
    return bool(words) and all(
        any(w == n or _same_stem(w, n) or fuzz.ratio(w, n) >= 80 for n in names) for w in words
    )


def _names_any(query: str, name: str) -> bool:
    """Whether some word of ``query`` (of 3+ letters) is a word of ``name``."""
    names = fold(name).split()
    return any(
        any(w == n or _same_stem(w, n) or fuzz.ratio(w, n) >= 85 for n in names)
        for w in fold(query).split()
        if len(w) >= 3
    )


def _singular_score(wanted: str, name: str) -> float:
    words = wanted.split()
    if not words:
        return 0.0
    names = name.split()
    hits = sum(1 for w in words if any(_same_stem(w, n) for n in names))
    return 100.0 * hits / len(words)


def _single_match(query: str, products: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The one product a search means: the only result, an exact SKU, or the one whose
    whole name (or every distinguishing word) the customer wrote."""
    if len(products) == 1:
        return products[0]
    wanted = fold(query)
    for product in products:
        if product.get("sku") and fold(product["sku"]) == wanted.replace(" ", ""):
            return product
    words = set(wanted.split())
    full = [p for p in products if set(fold(p["name"]).split()) <= words]
    if len(full) == 1:
        return full[0]

    # Every word of the query matched in exactly one product's name + attributes.
    def covers(p: dict[str, Any]) -> bool:
        hay = fold(" ".join([p["name"], *map(str, (p.get("attributes") or {}).values())])).split()
        return all(
            any(w == h or _same_stem(w, h) or (len(w) >= 5 and fuzz.ratio(w, h) >= 85) for h in hay)
            for w in words
        )

    covering = [p for p in products if covers(p)]
    if len(covering) == 1 and len(words) >= 2:
        return covering[0]
    # Words that name none of the products ("otra toalla pero esa la paso a recoger")
    # say nothing about which one is meant: judge by the others.
    known = {w for w in words if any(_names_any(w, _described(p)) for p in products)}
    if known and known != words:
        narrowed = [p for p in products if all(_names_any(w, _described(p)) for w in known)]
        if len(narrowed) == 1:
            return narrowed[0]
    return None


def _described(product: dict[str, Any]) -> str:
    return " ".join([product["name"], *map(str, (product.get("attributes") or {}).values())])
