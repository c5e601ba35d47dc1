"""Every panel text shown through ``_()`` has a Spanish translation with the same
placeholders, in templates and in Python code alike."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import jinja2
import tendero_web
from jinja2 import nodes
from tendero_web import i18n

PACKAGE = Path(tendero_web.__file__).resolve().parent


def _template_texts() -> dict[str, str]:
    env = jinja2.Environment()
    texts: dict[str, str] = {}
    for path in sorted((PACKAGE / "templates").rglob("*.html")):
        tree = env.parse(path.read_text(encoding="utf-8"))
        for call in tree.find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name == "_" and call.args:
                first = call.args[0]
                if isinstance(first, nodes.Const) and isinstance(first.value, str):
                    texts.setdefault(first.value, str(path.relative_to(PACKAGE)))
    return texts


def _code_texts() -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                texts.setdefault(node.args[0].value, str(path.relative_to(PACKAGE)))
    return texts


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_panel_text_has_a_spanish_translation() -> None:
    texts = {**_code_texts(), **_template_texts()}
    assert len(texts) > 20  # the walk found the panel's texts
    spanish = i18n.catalog("es")
    missing = sorted(f"{where}: {text!r}" for text, where in texts.items() if text not in spanish)
    assert not missing, "texts without a Spanish translation:\n" + "\n".join(missing)
    mismatched = sorted(
        text
        for text in texts
        if text in spanish and _placeholders(text) != _placeholders(spanish[text])
    )
    assert not mismatched, f"placeholders differ in: {mismatched}"


def test_language_negotiation() -> None:
    assert i18n.pick_language(None, "en-GB,en;q=0.8,es;q=0.5", "es") == "en"
    assert i18n.pick_language(None, "fr-FR,es;q=0.4,en;q=0.3", "en") == "es"
    assert i18n.pick_language(None, "fr-FR", "en") == "en"
    assert i18n.pick_language(None, "en;q=0,es;q=0.1", "en") == "es"
    assert i18n.pick_language("en", "es-MX", "es") == "en"
    assert i18n.pick_language("xx", "", "pt") == "es"


def test_formats_follow_store_currency_timezone_and_language() -> None:
    spanish = i18n.Formats("es", "MX", "MXN", "America/Mexico_City")
    english = i18n.Formats("en", "US", "USD", "America/New_York")
    assert spanish.money("1249.5") == "$1,249.50"
    assert english.money("1249.5") == "$1,249.50"
    assert english.money("3", "EUR") == "€3.00"
    assert spanish.datetime("2026-11-27T06:30:00+00:00").startswith("27/11/26")
    assert english.date("2026-11-27T03:30:00+00:00") == "Nov 26, 2026"
    assert spanish.money(None) == "" and spanish.datetime(None) == ""
