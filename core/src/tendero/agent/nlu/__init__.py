"""Pure (no I/O) Spanish and English understanding helpers for the offline ``rules`` brain.

Every function takes the customer's raw text; accents, case, punctuation and small typos
do not matter. Vocabulary lives in :mod:`tendero.agent.nlu.vocab`.
"""

from __future__ import annotations

from tendero.agent.nlu.address import extract_email, extract_postal_code, parse_address
from tendero.agent.nlu.intents import (
    CartEdit,
    ListReference,
    SideQuestion,
    delivery_choice,
    is_checkout,
    is_greeting,
    is_human_request,
    is_no,
    is_show_cart,
    is_yes,
    mentioned_currency,
    parse_cart_edit,
    parse_reference,
    side_question,
    yes_no,
)
from tendero.agent.nlu.language import detect_language
from tendero.agent.nlu.matching import normalize
from tendero.agent.nlu.quantity import extract_quantity_and_rest, parse_quantity

__all__ = [
    "CartEdit",
    "ListReference",
    "SideQuestion",
    "delivery_choice",
    "detect_language",
    "extract_email",
    "extract_postal_code",
    "extract_quantity_and_rest",
    "is_checkout",
    "is_greeting",
    "is_human_request",
    "is_no",
    "is_show_cart",
    "is_yes",
    "mentioned_currency",
    "normalize",
    "parse_address",
    "parse_cart_edit",
    "parse_quantity",
    "parse_reference",
    "side_question",
    "yes_no",
]
