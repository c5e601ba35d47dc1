"""Reply texts from gettext ``.po`` catalogs, read at runtime with Babel.

Message ids are symbolic keys (``cart.added``); each language has its own catalog under
``locale/<lang>/LC_MESSAGES/tendero.po`` in this package. A tone variant of a message is
the same id with the tone as its ``msgctxt`` (``professional``, ``casual``); the entry
without a context is the friendly text and the fallback for any tone that has no variant
of its own. Texts use ``str.format`` placeholders (``{name}``); plural entries pick their
form with the catalog's ``Plural-Forms`` rule.
"""

from __future__ import annotations

import gettext
import string
from collections.abc import Callable, Mapping
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

DOMAIN = "tendero"
LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"
FRIENDLY = "friendly"


def catalog_path(language: str) -> Traversable:
    """Where the catalog of ``language`` lives inside the installed package."""
    return files(__package__) / "locale" / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LANGUAGES))
def load_catalog(language: str) -> Catalog:
    """The parsed catalog of ``language`` (read once per process)."""
    if language not in LANGUAGES:
        raise ValueError(f"no reply catalog for language {language!r}")
    with catalog_path(language).open("rb") as fileobj:
        return read_po(fileobj, locale=language, domain=DOMAIN)


@lru_cache(maxsize=len(LANGUAGES))
def _plural_rule(language: str) -> Callable[[int], int]:
    return gettext.c2py(load_catalog(language).plural_expr)


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a catalog text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class Texts:
    """Lookup of one language's texts for one tone, with the friendly fallback."""

    def __init__(self, language: str, tone: str = FRIENDLY) -> None:
        self.language = language
        self.tone = tone
        self.catalog = load_catalog(language)

    def _message(self, key: str) -> Any:
        message = None
        if self.tone != FRIENDLY:
            message = self.catalog.get(key, context=self.tone)
        if message is None or not message.string:
            message = self.catalog.get(key)
        if message is None or not message.string:
            raise KeyError(f"{key!r} is missing from the {self.language} reply catalog")
        return message

    def has_variant(self, key: str, tone: str) -> bool:
        """Whether ``key`` has its own text for ``tone`` (friendly: the plain entry)."""
        message = self.catalog.get(key, context=None if tone == FRIENDLY else tone)
        return message is not None and bool(message.string)

    def text(self, key: str, /, **values: Any) -> str:
        """The text of ``key`` with its placeholders filled from ``values``."""
        message = self._message(key)
        raw = message.string
        if isinstance(raw, tuple):
            raw = raw[-1]
        return raw.format_map(_Strict(values, key))

    def plural(self, key: str, count: int, /, **values: Any) -> str:
        """The plural form of ``key`` for ``count`` (also passed as ``{count}``)."""
        message = self._message(key)
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        index = min(_plural_rule(self.language)(count), len(forms) - 1)
        return forms[index].format_map(_Strict({"count": count, **values}, key))


class _Strict(dict[str, Any]):
    """Format values that name the message when a placeholder has no value."""

    def __init__(self, values: Mapping[str, Any], key: str) -> None:
        super().__init__(values)
        self.key = key

    def __missing__(self, name: str) -> Any:
        raise KeyError(f"no value for {{{name}}} in reply {self.key!r}")
