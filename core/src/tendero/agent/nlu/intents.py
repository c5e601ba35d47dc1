"""Coarse, deterministic intent classifiers (Spanish and English, typos tolerated)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tendero.agent.nlu.matching import (
    has_phrase,
    longest_match,
    phrase_positions,
    starts_with,
    tokens,
)
from tendero.agent.nlu.quantity import extract_quantity_and_rest
from tendero.agent.nlu.vocab import (
    CHECKOUT_PHRASES,
    CHECKOUT_SHORT_WORDS,
    CURRENCY_WORDS,
    FILLER_WORDS,
    GREETINGS,
    HUMAN_PHRASES,
    NO_PHRASES,
    ORDINALS,
    PICKUP_PHRASES,
    PRICE_QUESTION_WORDS,
    REMOVE_VERBS,
    SET_QUANTITY_PHRASES,
    SHIPPING_PHRASES,
    SHOW_CART_PHRASES,
    SIDE_QUESTIONS,
    SIZE_UNITS,
    YES_PHRASES,
)

DeliveryChoice = Literal["shipping", "pickup"]
SideTopic = Literal["hours", "location", "returns", "originality", "currency"]

# Up to this many words, a message can be a bare answer ("sí, claro", "listo").
_SHORT = 4


def is_greeting(text: str) -> bool:
    """Whether ``text`` opens with a greeting ("Hola!", "buenas tardes", "hey there")."""
    words = tokens(text)
    return bool(words) and starts_with(words[:3], GREETINGS) is not None


def yes_no(text: str) -> bool | None:
    """True for a yes ("sí", "claro", "sale", "yep"), False for a no, None otherwise.

    The answer must open the message ("sí, confirmo", "no gracias") and the message must be
    short; "si tienen café?" is a question, not a yes. A no wins over a yes that follows it.
    """
    words = tokens(text)
    if not words or len(words) > 8:
        return None
    no = starts_with(words, NO_PHRASES, fuzzy=False)
    yes = starts_with(words, YES_PHRASES, fuzzy=len(words[0]) >= 5)
    if no is not None and (yes is None or len(no.split()) >= len(yes.split())):
        return False
    if yes is not None:
        if words[0] == "si" and "?" in text and len(words) > 1:
            return None  # "¿si tienen envíos?" asks something
        return True
    return None


def is_yes(text: str) -> bool:
    """Whether ``text`` is an affirmative answer."""
    return yes_no(text) is True


def is_no(text: str) -> bool:
    """Whether ``text`` is a negative answer."""
    return yes_no(text) is False


def is_checkout(text: str) -> bool:
    """Whether the customer wants to finish and pay ("eso es todo", "listo", "checkout")."""
    words = tokens(text)
    if not words:
        return False
    if has_phrase(words, CHECKOUT_PHRASES):
        return not _negated(words)
    short = len(words) <= 3
    return short and words[0] in CHECKOUT_SHORT_WORDS and "?" not in text


def _negated(words: list[str]) -> bool:
    return bool(words) and words[0] in {"no", "not", "todavia", "aun"} and len(words) > 1


def is_show_cart(text: str) -> bool:
    """Whether the customer asks to see the cart ("¿qué llevo?", "show my cart")."""
    return has_phrase(tokens(text), SHOW_CART_PHRASES)


def is_human_request(text: str) -> bool:
    """Whether the customer asks for a person ("quiero hablar con un asesor", "human pls")."""
    return has_phrase(tokens(text), HUMAN_PHRASES)


def delivery_choice(text: str) -> DeliveryChoice | None:
    """ "shipping" or "pickup" when the message picks one; the last one mentioned wins."""
    words = tokens(text)
    ship = _last_position(words, SHIPPING_PHRASES)
    pick = _last_position(words, PICKUP_PHRASES)
    if ship < 0 and pick < 0:
        return None
    if ship >= 0 and pick >= 0 and _negates_before(words, min(ship, pick)):
        return "pickup" if ship < pick else "shipping"
    return "shipping" if ship > pick else "pickup"


def _last_position(words: list[str], phrases: tuple[str, ...]) -> int:
    best = -1
    for phrase in phrases:
        for start in phrase_positions(words, phrase):
            if start > best and not _instead_of(words, start):
                best = start
    return best


def _instead_of(words: list[str], at: int) -> bool:
    """Whether the phrase at ``at`` follows "instead of" / "en vez de" / "en lugar de"."""
    return tuple(words[max(0, at - 2) : at]) in {("instead", "of"), ("vez", "de"), ("lugar", "de")}


def _negates_before(words: list[str], at: int) -> bool:
    return any(w in {"no", "not", "dont", "sin"} for w in words[max(0, at - 2) : at])


# --- cart edits -----------------------------------------------------------------------


@dataclass(frozen=True)
class CartEdit:
    """A change of mind about the cart.

    ``action`` is "remove" (take ``quantity`` units of ``target`` out, all of them when
    ``quantity`` is None) or "set" (make its quantity ``quantity``). ``target`` is the product words left once the verbs, quantity and
    articles are removed, or None when the edit refers to the last item discussed.
    """

    action: Literal["remove", "set"]
    target: str | None = None
    quantity: int | None = None


def _clean_target(words: list[str]) -> str | None:
    kept = [w for w in words if w not in FILLER_WORDS]
    return " ".join(kept) or None


def parse_cart_edit(text: str) -> CartEdit | None:
    """A remove ("quita el café", "remove the caps") or a set-quantity edit ("mejor solo 1",
    "make it 3", "cambia a 2 las gorras"), or None."""
    words = tokens(text)
    if not words:
        return None
    remove = longest_match(words, REMOVE_VERBS)
    if remove is not None:
        phrase, at = remove
        rest = words[at + len(tokens(phrase)) :]
        qty, left = extract_quantity_and_rest(" ".join(rest))
        return CartEdit("remove", _clean_target(tokens(left)), qty)
    setting = longest_match(words, SET_QUANTITY_PHRASES, fuzzy=False)
    if setting is None:
        return None
    phrase, at = setting
    after = words[at + len(tokens(phrase)) :]
    qty, rest = extract_quantity_and_rest(" ".join(after))
    if qty is None:
        return None
    return CartEdit("set", _clean_target(tokens(rest)), qty)


# --- references to the last list ------------------------------------------------------


@dataclass(frozen=True)
class ListReference:
    """A pointer into the last list shown.

    ``index`` is 1-based (-1 means the last item); ``descriptor`` is words to match
    against the listed items' names and attributes ("chocolate", "large"). ``bare`` is
    True when the whole message was just a number, which may also be a quantity.
    """

    index: int | None = None
    descriptor: str | None = None
    bare: bool = False


_HASH_NUMBER = re.compile(r"#\s*(\d{1,2})\b")
_ORDINAL_DIGITS = re.compile(r"^(\d{1,2})(?:st|nd|rd|th|o|a|ro|do|to|vo|no)$")
_INDEX_MARKERS = frozenset(
    "la el lo numero num no nro number nr opcion option item producto product".split()
)
_ARTICLES = frozenset({"el", "la", "los", "las", "lo"})
_DESCRIPTOR_STOP = frozenset({"one", "ones", "please", "porfa", "por", "favor", "pls"})


def parse_reference(text: str) -> ListReference | None:
    """A reference to the last list: "la 2", "#2", "el segundo", "the second one",
    "number 3" (index) or "el de chocolate", "the large one", "la grande" (descriptor)."""
    words = tokens(text)
    if not words:
        return None
    if len(words) == 1 and words[0].isdigit() and len(words[0]) <= 2:
        return ListReference(index=int(words[0]), bare=True)
    m = _HASH_NUMBER.search(text)
    if m:
        return ListReference(index=int(m.group(1)))
    for i, w in enumerate(words):
        if w in ORDINALS:
            return ListReference(index=ORDINALS[w])
        if (m := _ORDINAL_DIGITS.match(w)) and int(m.group(1)) > 0:
            return ListReference(index=int(m.group(1)))
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in _INDEX_MARKERS and nxt.isdigit() and len(nxt) <= 2:
            after = words[i + 2] if i + 2 < len(words) else ""
            if after not in SIZE_UNITS:
                return ListReference(index=int(nxt))
    return _descriptor(words)


def _descriptor(words: list[str]) -> ListReference | None:
    # English: "the chocolate one", "the large ones", "the one with chocolate".
    for i, w in enumerate(words):
        if w == "the":
            j = i + 1
            if j < len(words) and words[j] == "one" and j + 2 < len(words):
                if words[j + 1] in {"with", "in"}:
                    return _ref(words[j + 2 :])
            end = next((k for k in range(j, len(words)) if words[k] in {"one", "ones"}), -1)
            if end > j:
                return _ref(words[j:end])
    # Spanish: "el de chocolate", "la de 2 kg", "los que son de vainilla", "la grande".
    for i, w in enumerate(words):
        if w in _ARTICLES and i + 1 < len(words):
            rest = words[i + 1 :]
            if rest[0] == "de":
                return _ref(rest[1:])
            if rest[0] == "que" and len(rest) > 2:
                skip = 2 if rest[1] in {"es", "son", "sea", "tiene"} else 1
                return _ref([x for x in rest[skip:] if x != "de"])
            if i == len(words) - 2 or (i == len(words) - 3 and rest[1] in _DESCRIPTOR_STOP):
                if i <= 1 and not rest[0].isdigit():
                    return _ref(rest[:1])
    return None


def _ref(words: list[str]) -> ListReference | None:
    kept = [w for w in words if w not in _DESCRIPTOR_STOP]
    return ListReference(descriptor=" ".join(kept)) if kept else None


# --- side questions -------------------------------------------------------------------


@dataclass(frozen=True)
class SideQuestion:
    """A question answered from settings; ``currency`` is set for "currency" questions."""

    topic: SideTopic
    currency: str | None = None


def mentioned_currency(text: str) -> str | None:
    """The ISO code of a currency named in ``text`` ("dólares" -> "USD"), or None."""
    words = tokens(text)
    found = longest_match(words, CURRENCY_WORDS, fuzzy=True)
    return CURRENCY_WORDS[found[0]] if found else None


def side_question(text: str) -> SideQuestion | None:
    """Hours, location, returns, originality, or a price in another currency; else None."""
    words = tokens(text)
    if not words:
        return None
    currency = mentioned_currency(text)
    if currency and has_phrase(words, PRICE_QUESTION_WORDS, fuzzy=False):
        return SideQuestion("currency", currency)
    for topic, phrases in SIDE_QUESTIONS.items():
        if has_phrase(words, phrases):
            return SideQuestion(topic)  # type: ignore[arg-type]
    return None
