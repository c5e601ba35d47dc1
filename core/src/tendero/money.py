"""Money: the one place that rounds and formats amounts.

Amounts are ``Decimal`` everywhere. Rounding is half-up to the currency's minor unit as
babel's CLDR data gives it (MXN and USD: 2 decimals, JPY: 0, KWD: 3).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import format_currency, get_currency_precision, list_currencies

ZERO = Decimal(0)


@lru_cache(maxsize=64)
def minor_unit(currency: str) -> Decimal:
    """The smallest unit of ``currency`` as a quantum: ``Decimal("0.01")`` for MXN."""
    return Decimal(1).scaleb(-get_currency_precision(currency.upper()))


def quantize(amount: Decimal | int | str, currency: str) -> Decimal:
    """Round ``amount`` half-up to the currency's minor unit."""
    return to_decimal(amount).quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def to_decimal(value: Decimal | int | str | float) -> Decimal:
    """Parse a money value; floats go through ``str`` so 0.1 stays 0.1."""
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip()) if not isinstance(value, int) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def percent_of(amount: Decimal, percent: int | Decimal, currency: str) -> Decimal:
    """``percent``% of ``amount``, rounded half-up to the minor unit."""
    return quantize(amount * Decimal(percent) / Decimal(100), currency)


def to_json(amount: Decimal, currency: str) -> str:
    """The contract's money string: a decimal with the currency's minor units."""
    return str(quantize(amount, currency))


@lru_cache(maxsize=64)
def json_writer(currency: str) -> Callable[[Decimal | int | str], str]:
    """:func:`to_json` for many amounts of one ``currency``: the minor unit is looked up
    once, not per amount (exports write millions of amounts)."""
    quantum = minor_unit(currency)

    def write(amount: Decimal | int | str) -> str:
        if not isinstance(amount, Decimal):
            amount = to_decimal(amount)
        return str(amount.quantize(quantum, rounding=ROUND_HALF_UP))

    return write


def format_money(amount: Decimal, currency: str, locale: str = "es_MX") -> str:
    """Amount for people, e.g. ``$1,249.50`` (es_MX, MXN) or ``MX$1,249.50`` (en_US)."""
    return format_currency(quantize(amount, currency), currency.upper(), locale=locale)


# ISO 4217 codes that are not money a shop can charge in: "no currency", the testing
# code, precious metals, and the IMF's and bond markets' units of account.
NOT_MONEY = frozenset(
    {"XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA"}
)


@lru_cache(maxsize=1)
def known_currencies() -> frozenset[str]:
    """ISO 4217 codes babel knows that a store may charge in."""
    return frozenset(list_currencies()) - NOT_MONEY
