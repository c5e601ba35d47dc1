"""The panel's languages (Spanish and English) and its number, money and date formats.

Panel texts are written in English in the code and the templates (``_("Orders")``); the
Spanish texts live in gettext catalogs, ``locale/es/LC_MESSAGES/*.po`` in this package,
one file per part of the panel so each page's texts sit together. Every ``.po`` file of
a language is read once and merged.

The language of a request: the one the merchant picked with the switcher (kept in the
session), else the browser's ``Accept-Language``, else the store's language. Money is
formatted with babel in the store's currency, dates in the store's time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import date as date_type
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

LANGUAGES = ("es", "en")
LANGUAGE_NAMES = {"es": "Español", "en": "English"}
DEFAULT_LANGUAGE = "es"


@cache
def catalog(language: str) -> dict[str, str]:
    """``{English text: translation}`` for ``language`` (empty for English)."""
    texts: dict[str, str] = {}
    if language == "en":
        return texts
    folder = files(__package__) / "locale" / language / "LC_MESSAGES"
    if not folder.is_dir():
        return texts
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".po"):
            continue
        with entry.open("rb") as fileobj:
            for message in read_po(fileobj, locale=language):
                if message.id and message.string and not message.fuzzy:
                    texts[str(message.id)] = str(message.string)
    return texts


def translate(language: str, text: str, **values: Any) -> str:
    """``text`` in ``language``, with ``{name}`` placeholders filled from ``values``."""
    translated = catalog(language).get(text, text)
    return translated.format(**values) if values else translated


def pick_language(chosen: str | None, accept_language: str | None, store_language: str) -> str:
    """The merchant's choice, else the browser's preference, else the store's language."""
    if chosen in LANGUAGES:
        return chosen
    for language in _accepted(accept_language or ""):
        if language in LANGUAGES:
            return language
    return store_language if store_language in LANGUAGES else DEFAULT_LANGUAGE


def _accepted(header: str) -> list[str]:
    """Primary language tags of an ``Accept-Language`` header, best first."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag.split("-")[0].lower()))
    return [tag for _, _, tag in sorted(ranked)]


@cache
def locale_for(language: str, country: str) -> Locale:
    """The babel locale for the panel's language in the store's country (``es_MX``)."""
    try:
        return Locale.parse(f"{language}_{country.upper()}")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(language)


class Formats:
    """Formatting for one request: language, store country, currency and time zone."""

    def __init__(self, language: str, country: str, currency: str, timezone: str) -> None:
        self.language = language
        self.locale = locale_for(language, country)
        self.currency = currency
        self.tz = ZoneInfo(timezone)

    def money(self, amount: Any, currency: str | None = None) -> str:
        """``$1,249.50`` — a decimal string or number in ``currency`` (default: the store's)."""
        if amount is None or amount == "":
            return ""
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            return str(amount)
        return format_currency(value, currency or self.currency, locale=self.locale)

    def number(self, value: Any) -> str:
        return format_decimal(value, locale=self.locale)

    def local(self, value: Any) -> datetime | None:
        """``value`` (a datetime or an ISO 8601 string) in the store's time zone."""
        if value is None or value == "":
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(self.tz)

    def datetime(self, value: Any, form: str = "short") -> str:
        local = self.local(value)
        return format_datetime(local, form, tzinfo=self.tz, locale=self.locale) if local else ""

    def date(self, value: Any, form: str = "medium") -> str:
        """A calendar day (a ``date``, or a moment read in the store's time zone)."""
        if isinstance(value, date_type) and not isinstance(value, datetime):
            return format_date(value, form, locale=self.locale)
        local = self.local(value)
        return format_date(local.date(), form, locale=self.locale) if local else ""
