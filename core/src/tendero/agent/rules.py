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
from tendero.agent.items import InPlay, Resolution, resolve
from tendero.agent.nlu import (
    delivery_choice,
    extract_email,
    extract_postal_code,
    is_checkout,
    is_human_request,
    mentioned_currency,
    parse_address,
    parse_quantity,
    parse_reference,
    side_question,
    yes_no,
)
from tendero.agent.nlu.knowledge import StoreKnowledge
from tendero.agent.nlu.matching import has_phrase, starts_with, tokens
from tendero.agent.nlu.reading import Mention, read
from tendero.agent.nlu.vocab import (
    FILLER_WORDS,
    GREETINGS,
    HUMAN_PHRASES,
    STREET_TYPES,
    TENS_EN,
    TENS_ES,
    UNITS_EN,
    UNITS_ES,
)
from tendero.conversations.turns import Choice, Reply
from tendero.money import to_decimal
from tendero.text import fold

# "pedido 1001", "order #1002": an order number (four digits or more).
_ORDER_NUMBER = re.compile(
    r"(?i)(?:#|\b(?:pedido|orden|order)\s*(?:n[uú]mero|number|no\.?|#)?\s*)(\d{4,9})\b"
)
ORDER_STATUS_PHRASES = (
    "mi pedido", "como va mi pedido", "como va el pedido", "estado de mi pedido",
    "ya salio", "ya lo enviaron", "ya lo mandaron", "cuando llega mi", "cuando me llega",
    "numero de pedido", "mi orden", "my order", "order status", "where is my order",
    "when does it ship", "when will it ship", "has it shipped", "did it ship",
    "when does my order", "status of my order", "order number",
)  # fmt: skip

# The store knowledge indexes, per (database, settings version, catalog version).
_KNOWLEDGE: dict[tuple[int, int | None, tuple[int, int] | None], StoreKnowledge] = {}

# --- vocabulary of this brain (the shared one is in tendero.agent.nlu.vocab) --------------

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
# "Mejor nada más el café", "just the cap": keep that line only.
_ONLY = re.compile(
    r"(?i)^\s*(?:(?:bueno|ok|okay|mejor|better|actually|no)[\s,]+)*(?:nada\s+m[aá]s|solamente|s[oó]lo|just|only)\s+(?:el|la|los|las|the)?\s*(.+?)\s*[.!]?$"
)
# A too short or too long number after a US state code: a mistyped ZIP.
_TRAILING_BAD_ZIP = re.compile(r"\b([A-Z]{2})\s+(\d{1,4}|\d{6,8})\s*$")
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
        self.question_about: list[tuple[Mention, Resolution]] = []
        self.misread = False  # this message was not understood (counted in the state)

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
        state = self.state
        another = state.receipt_sent and state.last_order_number is not None
        if state.awaiting_receipt_for is None and not another:
            caption = self.turn.text.strip()
            paid = bool(caption) and _has(caption, PAID_PHRASES)
            if state.cart or state.checkout or paid:
                # A transfer receipt before the order exists: kept, and attached to the
                # order when it is confirmed (the customer is told so).
                kept = await self.commerce.keep_early_receipt(state, media.path, media.media_type)
                self.say(self.r.render(kept))
                await self.resume()
                return
            if caption:
                await self.on_text(caption)
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
        if kind == ANSWER and value == "human":
            self.state.misread = 0
            self.turn.handoff = "customer_request"
            self.say(self.r.handoff())
            self.ask(None)
            return True
        if kind == ANSWER and value == "cart":
            self.state.misread = 0
            result = await self.commerce.show_cart(self.state)
            self.say(self.r.render(result))
            await self.resume()
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
        await self.read_message(text)
        for handler in (
            self.human,
            self.items,
            self.cancel,
            self.show_cart,
            self.same_details,
            self.side_questions,
            self.delivery_switch,
            self.item_question,
            self.location_switch,
            self.answer_to_question,
            self.checkout,
            self.awaiting_payment,
            self.bare_answer,
            self.product_request,
        ):
            if await handler(text):
                if not self.misread:
                    self.state.misread = 0
                return
        self.state.misread += 1
        if self.state.misread >= 2:
            # Twice in a row: no third try at the same question, but choices and a person.
            await self.offer_a_way_out()
            return
        if self.reading.question and not self.reading.mentions:
            # A question nothing the store wrote answers: say so, offer a person.
            self.say(self.r.t("faq.unknown"))
        else:
            self.say(self.r.not_understood())
        await self.resume()

    async def offer_a_way_out(self) -> None:
        """After two messages in a row the agent could not place: the step's choices
        (or the cart) as buttons, and a person."""
        self.say(self.r.t("stuck"))
        await self.resume()
        choices = list(self.out.choices)[:2] if self.state.checkout else []
        if not choices and self.state.cart:
            choices = [Choice(choice_id(ANSWER, "cart"), self.r.t("button.cart"))]
        choices.append(Choice(choice_id(ANSWER, "human"), self.r.t("button.human")))
        self.out.choices = choices

    async def human(self, text: str) -> bool:
        # Exact words only: "encargar 10 conchas" is not "encargado".
        asked = is_human_request(text) and _has(text, HUMAN_PHRASES, fuzzy=False)
        if not (asked or self.reading.person):
            return False
        self.turn.handoff = "customer_request"
        self.say(self.r.handoff())
        self.ask(None)
        return True

    # --- items: reading -> resolution -> decision -------------------------------------

    async def read_message(self, text: str) -> None:
        """Read the message once (see :mod:`tendero.agent.nlu.reading`)."""
        self.facets = await self.commerce.catalog.facets()
        state = self.state
        in_play = [*([state.focus] if state.focus is not None else []), *state.last_list]
        if not in_play:
            in_play = [line.product_id for line in state.cart]
        locations = [location.name for location in self.turn.store.locations]
        self.reading = read(
            text, self.facets, expecting=state.asked, in_play=in_play, locations=locations
        )

    def in_play(self) -> InPlay:
        state = self.state
        return InPlay(state.last_list, state.focus, [line.product_id for line in state.cart])

    async def items(self, text: str) -> bool:
        """The products the message asks for, asks about or takes out, acted on only
        when the reading is sure; otherwise a short question with choices."""
        reading, state = self.reading, self.state
        if state.focus is not None and any(not m.empty for m in reading.mentions):
            for mention in reading.mentions:
                if mention.empty and mention.quantity is not None:
                    mention.pointer = True  # "quiero dos, y una toalla": two of it
        named = [m for m in reading.mentions if not m.empty]
        change = reading.verb in ("add", "remove", "set", "replace")
        if (
            len(named) == 1
            and named[0].quantity is None
            and len(state.cart) > 1
            and _ONLY.match(text)
            and await self.keep_only(named[0])
        ):
            return True  # "mejor nada más el café de olla"
        if not named:
            answering = (
                state.asked == "quantity"
                and reading.mentions[:1]
                and (reading.mentions[0].quantity is not None)
            )  # "3 please, one for each of my kids" right after "how many?"
            if not reading.mentions or (reading.unread and not answering):
                # "agrega un thermo burn" (no longer sold): the words are not this
                # catalog's, so "un" is no quantity of the product talked about.
                return False
            bare = reading.mentions[0]
            if (
                state.asked == "list"
                and len(reading.mentions) == 1
                and bare.quantity is not None
                and _BARE_NUMBER.match(text)
                and bare.quantity <= len(state.last_list)
            ):
                named = [Mention(index=bare.quantity)]  # "2" right after a list: the 2nd
            elif not (
                state.asked == "quantity"
                or (state.focus is not None and (reading.buying or change))
            ):
                return False
        if reading.touches_address and not (reading.buying or change):
            return False  # contact details: nothing in them is an item
        if (
            state.asked in ("delivery", "location", "confirm", "saved_details")
            and not (reading.buying or change)
            and all(m.quantity is None for m in reading.mentions)
        ):
            return False  # the answer to the checkout's question
        if state.asked == "fields" and not (reading.buying or change) and not named:
            return False
        if reading.verb == "remove":
            return await self.remove_items(named or reading.mentions)

        mentions = named or reading.mentions
        if _has(text, CHEAP_PHRASES) or _has(text, PRICEY_PHRASES):
            return False  # "the cheapest one": product_request compares prices
        method = (
            reading.delivery if self.turn.store.workflow.value == "shipping_and_pickup" else None
        )
        written = any(m.quantity is not None for m in mentions)
        question = (
            not reading.buying
            and method is None
            and (reading.verb in ("price", "stock", "info") or (reading.question and not written))
        )
        resolved = [(m, resolve(m, self.facets, self.in_play())) for m in mentions]
        cart = {line.product_id for line in state.cart}
        for _, res in resolved:
            in_cart = [p for p in res.products if p in cart]
            if reading.verb == "set" and in_cart:
                res.products = in_cart  # "mejor solo 1 shaker": the shaker in the cart
        await self.drop_sold_out(resolved)
        if state.last_items and _has(text, AGAIN_PHRASES):
            # "otra creatina igual": the one of the last order.
            for _, res in resolved:
                again = [p for p in res.products if p in state.last_items]
                if again and len(res.products) > 1:
                    res.products = again
        if all(not res.products for _, res in resolved):
            if state.asked == "quantity" and not named and state.focus is not None:
                resolved = [(m, Resolution([state.focus], m.quantity)) for m in mentions]
            else:
                return False  # nothing of the catalog: discovery or another intent
        if question and not change:
            # Answered after the side questions (a return policy or a price in dollars
            # is asked about products too): see item_question.
            self.question_about = resolved
            return False
        buying = (
            reading.buying
            or bool(_ONLY.match(text))  # "mejor nada más el café": that one, alone
            or change
            or method is not None
            or any(m.quantity is not None for m in mentions)
            or state.asked in ("list", "quantity")
            or _requests(text)
        )
        handled = await self.take_items(resolved, buying)
        if handled and method is not None and state.cart and not state.checkout:
            await self.prefer_delivery(method, text)  # "...I'll pick it up at Roma"
        return handled

    async def drop_sold_out(self, resolved: list[tuple[Mention, Resolution]]) -> None:
        """Of several candidates, the one that can be sold when the others are sold out
        ("la de fresa": the 2 lb, the 5 lb has none left)."""
        for _, res in resolved:
            if len(res.products) < 2 or len(res.products) > TOO_MANY_OPTIONS:
                continue
            views = await self.commerce.catalog.get_many(res.products)
            available = [v.id for v in views if v.in_stock]
            if len(available) == 1:
                res.products = available

    async def item_question(self, text: str) -> bool:
        """A question about products named: what the merchant wrote answers it ("is the
        leather real?"); a price, stock or "what is it" question gets the product."""
        if not self.question_about:
            return False
        if self.reading.verb not in ("price", "stock"):
            named = [p for _, res in self.question_about for p in res.products]
            answer = (await self.knowledge()).answer(text, product_ids=named[:12])
            if answer is not None:
                if answer.product_id is not None:
                    self.state.focus = answer.product_id
                self.say(answer.text)
                await self.resume()
                return True
        return await self.tell_items(self.question_about)

    async def take_items(self, resolved: list[tuple[Mention, Resolution]], buying: bool) -> bool:
        """Put every sure item in the cart; ask about the first unsure one."""
        state = self.state
        setting = self.reading.verb == "set"
        sure = [
            (m, r)
            for m, r in resolved
            if r.one is not None and r.number_as_value is None and r.basis != "anywhere"
        ]
        unsure = [(m, r) for m, r in resolved if (m, r) not in sure and r.products]
        if not buying and len(sure) == 1 and not unsure:
            return await self.tell_items(sure)
        if setting and not sure and not unsure:
            return False
        sure = _same_product_once(sure)
        if self.reading.verb == "replace":
            sure = await self.swap_lines(sure)
        # "make it 3", or "I want 2" about the product just put in: the line becomes that
        # (adding is for "2 more", "another one", or a product named again).
        to_set = {
            res.one
            for m, res in sure
            if res.one is not None
            and state.line(res.one) is not None
            and (setting or ((m.empty or m.pointer) and self.reading.verb != "add"))
        }
        short = await self.short_of_stock(sure, to_set)
        if short is not None:
            sure = [(m, r) for m, r in sure if r.one != short]
        more = self.r.t("cart.more")
        for n, (_mention, res) in enumerate(sure):
            product_id = res.one
            assert product_id is not None
            quantity = res.quantity or state.pending_quantity or 1
            state.pending_quantity = None
            state.focus = product_id
            before = len(self.out.blocks)
            if product_id in to_set:
                result = await self.commerce.set_quantity(state, product_id, quantity)
            else:
                result = await self.commerce.add(state, product_id, quantity)
            await self.say_cart_change(result)
            if (n < len(sure) - 1 or unsure) and len(self.out.blocks) > before:
                self.out.blocks[-1] = self.out.blocks[-1].replace(more, "").strip()
        if sure:
            state.last_list = []
        if short is not None:
            await self.offer_what_is_left(short)
        elif unsure:
            await self.ask_which(*unsure[0])
        return True

    async def swap_lines(
        self, sure: list[tuple[Mention, Resolution]]
    ) -> list[tuple[Mention, Resolution]]:
        """ "Swap it for the 440": the cart line of the same family makes way for the
        product named, with the quantity it had (unless another is said)."""
        state = self.state
        for _, res in sure:
            product_id = res.one
            assert product_id is not None
            family = set(self.facets.family_of(product_id))
            old = [
                line
                for line in state.cart
                if line.product_id in family and line.product_id != product_id
            ]
            if len(old) != 1:
                continue
            if res.quantity is None:
                res.quantity = old[0].quantity
            await self.commerce.remove(state, old[0].product_id)
        return sure

    async def short_of_stock(
        self, sure: list[tuple[Mention, Resolution]], to_set: set[int | None]
    ) -> int | None:
        """The first product asked for in a quantity its stock cannot cover (more than
        the stock, some left): asked about, never capped behind the customer's back."""
        for _, res in sure:
            product_id = res.one
            assert product_id is not None
            quantity = res.quantity or self.state.pending_quantity or 1
            wanted = (
                quantity if product_id in to_set else self.state.quantity_of(product_id) + quantity
            )
            product = (await self.commerce.catalog.get_many([product_id]))[0]
            if product.stock is not None and 0 < product.stock < wanted:
                return product_id
        return None

    async def offer_what_is_left(self, product_id: int) -> None:
        """ "There are only 3 left: want the 3?" — the answer fills the cart."""
        state = self.state
        product = (await self.commerce.catalog.get_many([product_id]))[0]
        left = (product.stock or 0) - state.quantity_of(product_id)
        state.focus = product_id
        state.last_list = [product_id]
        if left <= 0:
            self.say(self.r.t("item.all_in_cart", name=product.name, left=product.stock))
            self.ask(None)
            return
        state.pending_quantity = left
        self.say(self.r.t("item.only_left", name=product.name, left=left))
        self.ask("quantity")

    async def ask_which(self, mention: Mention, res: Resolution) -> None:
        """One short question about an item not sure enough to act on."""
        state = self.state
        if res.missing:
            await self.say_missing(res)
            return
        if res.one is not None and res.number_as_value is not None:
            # "brocas para concreto 6": the 6 mm ones, or six of them? Asked, and the
            # answer ("la de 6 mm, 3", "6 piezas") is read with this product in focus.
            shown = await self.commerce.show_product(state, res.one)
            state.focus = res.one
            state.last_list = [res.one]
            state.pending_quantity = None
            if shown.ok:
                name = shown.data["product"]["name"]
                self.say(self.r.t("item.quantity_or_value", number=res.number_as_value, name=name))
            self.ask("quantity")
            return
        found = await self.commerce.products(state, res.products[:TOO_MANY_OPTIONS])
        if not found.ok:
            return
        state.pending_quantity = res.quantity
        self.show_list(found)

    async def say_missing(self, res: Resolution) -> None:
        """ "No tengo la bota café en 29; la tengo en 25, 26, 27" and the options."""
        state = self.state
        asked = ", ".join(self.value_text(v) for v in res.missing)
        family = res.products
        name = ""
        if family:
            shown = await self.commerce.show_product(state, family[0])
            if shown.ok:
                name = _family_name(shown.data["product"]["name"], self.facets, family[0])
        self.say(self.r.t("item.no_variant", name=name or "eso", values=asked))
        available = await self.commerce.products(state, family[:TOO_MANY_OPTIONS])
        if available.ok:
            self.show_list(available)
        else:
            self.ask(None)
        await self.resume()

    def value_text(self, key: str) -> str:
        """A value key as the catalog writes it ("n:29" -> "29")."""
        for product in self.facets.products.values():
            for attr, value in product.values.items():
                if value == key:
                    return product.value_texts[attr]
        return key.split(":", 1)[-1]

    async def tell_items(self, resolved: list[tuple[Mention, Resolution]]) -> bool:
        """A question about products (price, stock, what it is): the answer, and nothing
        in the cart changes."""
        state = self.state
        _mention, res = resolved[0]
        if res.missing:
            await self.say_missing(res)
            return True
        if res.one is None and len(res.products) > 1:
            found = await self.commerce.products(state, res.products[:TOO_MANY_OPTIONS])
            if found.ok:
                state.pending_quantity = None
                self.show_list(found)
                await self.resume()
                return True
            return False
        product_id = res.one if res.one is not None else res.products[0]
        shown = await self.commerce.show_product(state, product_id)
        if shown.ok and not shown.data["product"].get("in_stock", True):
            found = ActionResult(True, "found", {"query": "", "products": [shown.data["product"]]})
            await self.show_found(found, None, buying=False)  # sold out: and alternatives
            return True
        await self.pick(product_id, None, info=True)
        state.last_list = [product_id]
        await self.resume()
        return True

    async def keep_only(self, mention: Mention) -> bool:
        """ "Mejor nada más el café de olla": that line stays, the others go."""
        state = self.state
        cart = [line.product_id for line in state.cart]
        res = resolve(mention, self.facets, InPlay(cart, None, cart))
        kept = [p for p in res.products if p in cart]
        if len(kept) != 1:
            return False
        result = None
        for product_id in cart:
            if product_id != kept[0]:
                result = await self.commerce.remove(state, product_id)
        state.focus = kept[0]
        if result is not None:
            await self.say_cart_change(result)
        return True

    async def remove_items(self, mentions: list[Mention]) -> bool:
        """Take out only the lines the customer named; never another one."""
        state = self.state
        if not state.cart:
            return False
        cart = [line.product_id for line in state.cart]
        done = False
        for mention in mentions:
            if mention.empty:
                target = (
                    state.focus if state.focus in cart else (cart[0] if len(cart) == 1 else None)
                )
                lines = [target] if target is not None else []
            else:
                in_cart = InPlay(cart, None, cart)
                res = resolve(mention, self.facets, in_cart)
                lines = [p for p in res.products if p in cart]
                if not lines and res.products:
                    # Named, but not in the cart ("sin el llavero" never added).
                    shown = await self.commerce.show_product(state, res.products[0])
                    what = shown.data["product"]["name"] if shown.ok else ""
                    self.say(self.r.t("item.not_in_cart", what=what or self.reading.text))
                    await self.resume()
                    return True
            if len(lines) > 1:
                found = await self.commerce.products(state, lines)
                self.say(self.r.t("item.which_line"))
                if found.ok:
                    self.show_list(found)
                return True
            if not lines:
                continue
            line = state.line(lines[0])
            assert line is not None
            if mention.quantity and mention.quantity < line.quantity:
                result = await self.commerce.set_quantity(
                    state, line.product_id, line.quantity - mention.quantity
                )
            else:
                result = await self.commerce.remove(state, line.product_id)
            done = True
            await self.say_cart_change(result)
        if not done:
            self.say(self.r.render(ActionResult(False, "not_in_cart", {})))
            await self.resume()
        return True

    async def cancel(self, text: str) -> bool:
        """ "Cancela", "I changed my mind, I don't want anything": the cart is emptied."""
        if not self.state.cart or not _has(text, CANCEL_PHRASES, fuzzy=False):
            return False
        if self.named_cart_line() is not None:
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
        if not total and (not self.reading.show_cart or parse_quantity(text)):
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

    async def order_question(self, text: str) -> bool:
        """ "¿Cómo va mi pedido 1001?", "already paid, when does it ship?": that order's
        status, for this customer's own orders only."""
        asked = _ORDER_NUMBER.search(text)
        about_order = _has(text, ORDER_STATUS_PHRASES, fuzzy=False)
        if not (about_order or (asked and _has(text, ("pedido", "order", "orden"), fuzzy=False))):
            return False
        if self.state.cart and not asked and self.state.last_order_number is None:
            return False
        number = int(asked.group(1)) if asked else None
        result = await self.commerce.order_status(self.state, number)
        if not result.ok and result.code == "no_orders":
            return False
        self.say(self.r.render(result))
        await self.resume()
        return True

    async def side_questions(self, text: str) -> bool:
        if await self.order_question(text):
            return True
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
            reading = self.reading
            asking = reading.question and not reading.buying and not reading.quantities
            about_products = await self.names_products(text) or (
                _has(text, CHEAP_PHRASES) or _has(text, PRICEY_PHRASES)
            )
            if asking and not self.question_about and not about_products:
                answer = await self.store_answer(text) or self.faq_answer(text)
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

    async def knowledge(self) -> StoreKnowledge:
        """The store's sentences (business context, return policy, locations, product
        descriptions), indexed once per settings version and catalog version."""
        key = (
            id(self.commerce.db),
            await self.commerce.settings_version(),
            self.commerce.catalog.fingerprint,
        )
        found = _KNOWLEDGE.get(key)
        if found is None:
            company = self.turn.store.company
            found = StoreKnowledge.build(
                company.business_context,
                company.return_policy,
                self.turn.store.locations,
                await self.commerce.catalog.active_rows(),
            )
            if len(_KNOWLEDGE) >= 16:
                _KNOWLEDGE.pop(next(iter(_KNOWLEDGE)))
            _KNOWLEDGE[key] = found
        return found

    async def store_answer(self, text: str) -> str:
        """The merchant's own sentences that answer the question ("" when none does:
        the agent never makes an answer up)."""
        in_view = [p for p in (self.state.focus, *self.state.last_list) if p is not None]
        in_view += [line.product_id for line in self.state.cart]
        answer = (await self.knowledge()).answer(text, product_ids=in_view[:12])
        return answer.text if answer is not None else ""

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

    def named_cart_line(self) -> int | None:
        """The cart line the message names by its words or values, if exactly one."""
        cart = [line.product_id for line in self.state.cart]
        for mention in self.reading.mentions:
            if mention.terms or mention.values:
                res = resolve(mention, self.facets, InPlay(cart, None, cart))
                lines = [p for p in res.products if p in cart]
                if len(lines) == 1:
                    return lines[0]
        return None

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
            quantity = (self.reading.quantities or [None])[0]
            plain_yes = (
                yes_no(text) is True
                and len(_words(text)) <= 3
                and not _has(text, (*GOODBYE_PHRASES, *THANKS_PHRASES), fuzzy=False)
            )  # "ok thx, I'll think about it" is no yes
            if quantity is None and plain_yes:
                quantity = self.state.pending_quantity or 1
            if quantity is not None and not await self.names_products(text):
                await self.pick(self.state.focus, quantity)  # "3 please, one for each kid"
                return True
            if yes_no(text) is False:
                self.say(self.r.t("anything_else"))
                self.ask(None)
                return True
        return False

    async def answer_confirm(self, text: str) -> bool:
        if _has(text, CANCEL_PHRASES, fuzzy=False) and (self.named_cart_line() is None):
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
        """Discovery: what the catalog search finds for words the reading could not tie
        to products ("something for oily skin", a product no longer sold). It shows and
        asks; it never changes the cart."""
        if self.reading.touches_address and not self.reading.buying:
            return False  # an address with nothing to send yet is not an order of 27 ropes
        cheap, pricey = _has(text, CHEAP_PHRASES), _has(text, PRICEY_PHRASES)
        if cheap or pricey:
            return await self.extreme_price(_product_query(text, drop_numbers=True), cheap, text)
        query = _product_query(_TIME_SPANS.sub(" ", text), drop_numbers=True)
        if not query:
            return False
        found = await self.commerce.search(self.state, query, limit=TOO_MANY_OPTIONS)
        named = found.ok and any(_names_all(query, p["name"]) for p in found.data["products"])
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
        if not found.ok:
            if _has(text, GOODBYE_PHRASES) or _has(text, THANKS_PHRASES):
                self.say(self.r.t("anything_else"))
                return True
            self.misread = True
            self.state.misread += 1
            if self.state.misread >= 2:
                await self.offer_a_way_out()
                return True
            if len(query.split()) > 3:
                self.say(self.r.not_understood())  # a sentence, not a product name
            else:
                self.say(self.r.render(found))
            await self.resume()
            return True
        if not named:
            # The search matched other words ("paso al centro" ~ "broca de centrado"):
            # not a product the customer named. Say so rather than offer it.
            self.say(self.r.not_understood())
            await self.resume()
            return True
        await self.show_found(found, None, buying=False, text=text)
        return True

    async def prefer_delivery(self, method: str, text: str) -> None:
        """ "Can I pick up a pink shaker at your Roma store?": the way (and place) the
        customer said is kept for the checkout, which then does not ask again."""
        await self.commerce.choose_delivery(self.state, method)
        if method == "pickup":
            named = match_locations(_product_query(text, True), self.turn.store.locations)
            if len(named) == 1:
                await self.commerce.choose_pickup_location(self.state, named[0].name)

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


def _same_product_once(
    sure: list[tuple[Mention, Resolution]],
) -> list[tuple[Mention, Resolution]]:
    """One item per product: "the lamb and rice" read in two parts that both resolve to
    the lamb & rice food is one item (its quantity the one said, if any)."""
    kept: dict[int, tuple[Mention, Resolution]] = {}
    for mention, res in sure:
        product_id = res.one
        if product_id in kept:
            first = kept[product_id][1]
            if first.quantity is None:
                first.quantity = res.quantity
            elif res.quantity is not None and mention.quantity is not None:
                first.quantity += res.quantity  # "2 del 26 ... y otros 2 del 26"
            continue
        if product_id is not None:
            kept[product_id] = (mention, res)
    return list(kept.values())


def _family_name(name: str, facets: Any, product_id: int) -> str:
    """A product's name without its values ("Bota Vaquera Café 24" -> "Bota Vaquera")."""
    product = facets.products.get(product_id)
    if product is None:
        return name
    kept = name
    for value in product.value_texts.values():
        kept = re.sub(rf"(?i)\b{re.escape(value)}\b", " ", kept)
    return " ".join(kept.split()) or name


def _same_stem(a: str, b: str) -> bool:
    """ "fresas" ~ "fresa", "caps" ~ "cap": equal once a plural ending is dropped."""

    def stem(w: str) -> str:
        for end in ("es", "s"):
            if len(w) > 4 and w.endswith(end):
                return w[: -len(end)]
        return w

    return stem(a) == stem(b)


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
