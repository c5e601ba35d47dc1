"""Pure parsing rules for product fields (prices, stock, active flags)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tendero.catalog import FieldError, parse_active, parse_price, parse_stock
from tendero.catalog.text import stem


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1249.50", "1249.50"),
        ("1,249.50", "1249.50"),
        ("$1,249.50", "1249.50"),
        ("1249,50", "1249.50"),
        ("1.249,50", "1249.50"),
        ("MX$ 1,249.50", "1249.50"),
        ("1249.50 MXN", "1249.50"),
        ("1 249,50", "1249.50"),
        ("12", "12.00"),
        ("0,750", "0.750"),
        ("1,249,000", "1249000.00"),
        (19.99, "19.99"),
        (150, "150.00"),
        (Decimal("3.5"), "3.5"),
    ],
)
def test_price_formats_are_read(raw: object, expected: str) -> None:
    assert parse_price(raw) == Decimal(expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1,249", "ambiguous"),
        ("1.249", "ambiguous"),
        ("-5", "negative"),
        ("abc", "not an amount"),
        ("12abc", "not an amount"),
        ("1,2,3", "not an amount"),
        ("12.34567", "more than 4 decimals"),
        ("", "required"),
        (True, "not true/false"),
    ],
)
def test_bad_prices_are_refused_with_a_reason(raw: object, message: str) -> None:
    with pytest.raises(FieldError, match=message):
        parse_price(raw)


def test_stock_is_a_whole_number_or_empty() -> None:
    assert parse_stock("") is None
    assert parse_stock(None) is None
    assert parse_stock("12") == 12
    assert parse_stock(12.0) == 12
    assert parse_stock("1,000") == 1000
    for bad in ("-1", "2.5", "many", 2.5):
        with pytest.raises(FieldError):
            parse_stock(bad)


def test_active_words_in_both_languages() -> None:
    for yes in ("true", "yes", "sí", "si", "1", "", None, "SI", True):
        assert parse_active(yes) is True
    for no in ("false", "no", "0", "NO", False, 0):
        assert parse_active(no) is False
    with pytest.raises(FieldError, match="yes/no"):
        parse_active("maybe")


@pytest.mark.parametrize(
    ("plural", "singular"),
    [
        ("proteinas", "proteina"),
        ("cafes", "cafe"),
        ("botellas", "botella"),
        ("shakers", "shaker"),
        ("boxes", "box"),
        ("luces", "luz"),
        ("cookies", "cookie"),
        ("berries", "berry"),
        ("pantalones", "pantalon"),
    ],
)
def test_plural_and_singular_share_a_stem(plural: str, singular: str) -> None:
    assert stem(plural) == stem(singular)


@pytest.mark.parametrize(
    ("parse", "value", "code"),
    [
        (parse_price, "-5", "negative"),
        (parse_price, "1,249", "ambiguous"),
        (parse_price, "1.23456", "decimals"),
        (parse_price, "abc", "invalid"),
        (parse_price, "99999999999999", "too_large"),
        (parse_stock, "-1", "negative"),
        (parse_stock, "2.5", "invalid"),
    ],
)
def test_field_errors_name_their_kind(parse, value, code):
    """The panel words these problems itself, in the merchant's language, by ``code``."""
    with pytest.raises(FieldError) as raised:
        parse(value)
    assert raised.value.code == code
