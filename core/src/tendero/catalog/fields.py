"""Parsing and validating product field values (one set of rules for the service, the
import and the panel).

Each ``parse_*`` function takes what a person typed (or what a spreadsheet cell holds)
and returns the clean value, or raises :class:`FieldError` with a message that names the
problem in words a merchant understands.

Price rules (``parse_price``), explicit because a wrong guess is a wrong price on sale:

* Currency signs and codes around the number are ignored: ``$1,249.50``, ``MXN 1249.50``.
* Spaces, non-breaking spaces and apostrophes between digits are thousands separators.
* With both ``,`` and ``.``: the last one is the decimal separator and the other must
  group thousands correctly (``1,249.50`` and ``1.249,50`` are both 1249.50).
* With only one kind, repeated (``1,249,000``): thousands separators.
* With a single separator followed by one, two or four digits: the decimal separator
  (``1249.5``, ``1249,50``). Followed by exactly three digits (``1,249`` or ``1.249``)
  it could be either, so the value is refused as ambiguous — unless the integer part
  is ``0`` (``0,750`` can only be a decimal).
* At most four decimals (what the database stores); never negative.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_NAME = 300
MAX_SKU = 100
MAX_CATEGORY = 200
MAX_IMAGE_URL = 2000
MAX_PRICE = Decimal("100000000000")  # fits NUMERIC(18, 4) with room
MAX_ATTRIBUTE_KEY = 100

TRUE_WORDS = frozenset(
    {"true", "yes", "y", "si", "sí", "1", "verdadero", "x", "on", "activo", "active"}
)
FALSE_WORDS = frozenset({"false", "no", "n", "0", "falso", "off", "inactivo", "inactive"})

# "$", "MX$", "US$", "€", "MXN " before the number; " MXN", "$" after it.
_CURRENCY_EDGE = re.compile(
    r"^(?:[A-Za-z]{2}\$|[A-Z]{3}\s*|[A-Za-z]{3}\s+|[$€£¥]\s*)+"
    r"|(?:\s*[A-Z]{3}|\s+[A-Za-z]{3}|\s*[$€£¥])+$"
)
_GROUP_SPACE = re.compile(r"(?<=\d)[\s\u00a0\u202f']+(?=\d)")


class FieldError(ValueError):
    """One field's value is not acceptable; the message says why. ``code`` names the kind
    of problem for callers that word it themselves (the panel, in the merchant's
    language): ``negative``, ``too_large``, ``decimals``, ``ambiguous`` or ``invalid``."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def parse_price(value: Any) -> Decimal:
    """A price cell as a non-negative ``Decimal`` (see the module docstring's rules)."""
    if isinstance(value, bool):
        raise FieldError("price must be an amount, not true/false")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise FieldError(f"price {value!r} is not an amount")
        amount = Decimal(repr(value))  # shortest round-trip form: 19.99 stays 19.99
    elif isinstance(value, str):
        amount = _parse_price_text(value)
    elif value is None:
        raise FieldError("price is required")
    else:
        raise FieldError(f"price {value!r} is not an amount")
    if not amount.is_finite():
        raise FieldError(f"price {value!r} is not an amount")
    if amount < 0:
        raise FieldError(f"price {_show(value)} is negative; it must be 0 or more", "negative")
    if amount >= MAX_PRICE:
        raise FieldError(f"price {_show(value)} is too large", "too_large")
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        raise FieldError(f"price {_show(value)} has more than 4 decimals", "decimals")
    return amount + Decimal("0.00") if amount == amount.to_integral_value() else amount


def _parse_price_text(raw: str) -> Decimal:
    text = raw.strip()
    if not text:
        raise FieldError("price is required")
    text = _CURRENCY_EDGE.sub("", text).strip()
    negative = text.startswith("-")
    if negative:
        text = text[1:].strip()
        text = _CURRENCY_EDGE.sub("", text).strip()
    text = _GROUP_SPACE.sub("", text)
    if not text or not re.fullmatch(r"[\d.,]+", text) or not re.search(r"\d", text):
        raise FieldError(f"price {raw.strip()!r} is not an amount (write it like 1249.50)")
    number = _normalise_separators(text, raw.strip())
    try:
        amount = Decimal(number)
    except InvalidOperation:
        raise FieldError(
            f"price {raw.strip()!r} is not an amount (write it like 1249.50)"
        ) from None
    return -amount if negative else amount


def _normalise_separators(text: str, shown: str) -> str:
    """Digits with ``,``/``.`` -> a plain ``1234.56`` string, refusing ambiguous forms."""
    commas, dots = text.count(","), text.count(".")
    bad = FieldError(f"price {shown!r} is not an amount (write it like 1249.50)")
    if commas and dots:
        decimal_sep = "," if text.rfind(",") > text.rfind(".") else "."
        group_sep = "." if decimal_sep == "," else ","
        whole, _, fraction = text.rpartition(decimal_sep)
        if decimal_sep in whole or not fraction or not _valid_grouping(whole, group_sep):
            raise bad
        return whole.replace(group_sep, "") + "." + fraction
    if not commas and not dots:
        return text
    sep = "," if commas else "."
    if commas + dots > 1:  # 1,249,000 or 1.249.000: thousands only
        if not _valid_grouping(text, sep):
            raise bad
        return text.replace(sep, "")
    whole, _, fraction = text.partition(sep)
    if not fraction:
        if not whole:
            raise bad
        return whole  # "1249." -> 1249
    if len(fraction) == 3 and whole not in ("", "0") and whole.lstrip("0"):
        raise FieldError(
            f"price {shown!r} is ambiguous ({whole}{fraction} or {whole}.{fraction}?): "
            f"write it without a thousands separator, e.g. {whole}{fraction} or {whole}{fraction}.00",
            "ambiguous",
        )
    return (whole or "0") + "." + fraction


def _valid_grouping(whole: str, sep: str) -> bool:
    groups = whole.split(sep)
    if not groups[0] or len(groups[0]) > 3 or not groups[0].isdigit():
        return False
    return all(len(g) == 3 and g.isdigit() for g in groups[1:])


def parse_stock(value: Any) -> int | None:
    """A stock cell: a whole number >= 0, or ``None`` (empty: stock is not tracked)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise FieldError("stock must be a whole number, not true/false")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float | Decimal):
        if value != value or value != int(value):  # NaN or fractional
            raise FieldError(f"stock {_show(value)} is not a whole number")
        number = int(value)
    elif isinstance(value, str):
        text = _GROUP_SPACE.sub("", value.strip())
        if not text:
            return None
        # A whole number, maybe with thousands separators (stock has no decimals, so
        # "1,000" and "1.000" are a thousand) or a spreadsheet's ".0"/",00".
        match = re.fullmatch(r"([+-]?\d{1,3}(?:([.,])\d{3})(?:\2\d{3})*)", text) or re.fullmatch(
            r"([+-]?\d+)(?:[.,]0{1,2})?", text
        )
        if not match:
            raise FieldError(f"stock {value.strip()!r} is not a whole number")
        digits = re.sub(r"[.,]", "", match.group(1))
        if len(digits.lstrip("+-").lstrip("0")) > 10:
            # Past any stock (and past what int() converts: 4,300 digits raise ValueError).
            raise FieldError(f"stock {value.strip()[:40]!r} is too large", "too_large")
        number = int(digits)
    else:
        raise FieldError(f"stock {value!r} is not a whole number")
    if number < 0:
        raise FieldError(
            f"stock {number} is negative; it must be 0 or more (empty = not tracked)", "negative"
        )
    if number > 2_147_483_647:
        raise FieldError(f"stock {number} is too large", "too_large")
    return number


def parse_active(value: Any) -> bool:
    """An ``active`` cell: yes/no, sí/no, true/false, 1/0; empty means active."""
    if value is None or isinstance(value, bool):
        return True if value is None else value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if not text:
        return True
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise FieldError(f"active {str(value).strip()!r} is not yes/no (use true/false, sí/no or 1/0)")


def parse_name(value: Any) -> str:
    """A product name: required, trimmed, at most 300 characters."""
    text = _text(value)
    if not text:
        raise FieldError("name is required")
    if len(text) > MAX_NAME:
        raise FieldError(f"name is longer than {MAX_NAME} characters")
    return text


def parse_sku(value: Any) -> str | None:
    """A SKU: trimmed, at most 100 characters; empty means no SKU (``None``)."""
    text = _text(value)
    if not text:
        return None
    if len(text) > MAX_SKU:
        raise FieldError(f"sku is longer than {MAX_SKU} characters")
    if any(ch.isspace() for ch in text):
        raise FieldError(f"sku {text!r} contains spaces")
    return text


def parse_category(value: Any) -> str:
    """A category: trimmed free text, at most 200 characters."""
    text = _text(value)
    if len(text) > MAX_CATEGORY:
        raise FieldError(f"category is longer than {MAX_CATEGORY} characters")
    return text


def parse_description(value: Any) -> str:
    """A description: free text, trimmed."""
    return _text(value)


def parse_image_url(value: Any) -> str:
    """An image URL: empty, or an absolute ``http(s)://`` URL without spaces."""
    text = _text(value)
    if not text:
        return ""
    if not re.match(r"^https?://[^\s/]+", text, re.IGNORECASE) or any(ch.isspace() for ch in text):
        raise FieldError(f"image_url {text[:80]!r} is not an http(s) URL")
    if len(text) > MAX_IMAGE_URL:
        raise FieldError(f"image_url is longer than {MAX_IMAGE_URL} characters")
    return text


def parse_attributes(value: Any) -> dict[str, str]:
    """Free attributes: a mapping of non-empty names to text values; empty values dropped."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FieldError("attributes must be a mapping of names to values")
    clean: dict[str, str] = {}
    for key, raw in value.items():
        name = _text(key)
        if not name:
            raise FieldError("attribute names must not be empty")
        if len(name) > MAX_ATTRIBUTE_KEY:
            raise FieldError(f"attribute name {name[:40]!r}... is too long")
        text = cell_text(raw)
        if text:
            clean[name] = text
    return clean


PARSERS = {
    "sku": parse_sku,
    "name": parse_name,
    "price": parse_price,
    "stock": parse_stock,
    "description": parse_description,
    "category": parse_category,
    "image_url": parse_image_url,
    "active": parse_active,
    "attributes": parse_attributes,
}
"""Field name -> parser, for every field a caller may set."""


def cell_text(value: Any) -> str:
    """A cell as text: numbers without a spurious ``.0``, ``None`` as empty, trimmed,
    without NUL characters (a spreadsheet cell may hold them; no database text can)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("\x00", "").strip()


def _text(value: Any) -> str:
    return cell_text(value)


def _show(value: Any) -> str:
    return repr(value.strip()) if isinstance(value, str) else str(value)
