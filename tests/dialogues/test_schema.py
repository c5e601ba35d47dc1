"""The dialogue format: a malformed file fails with a message naming the file and the
field; the checks compare facts (folded text, amounts), not phrasing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.dialogues.runner import amounts, fold, language_of, same_field
from tests.dialogues.schema import DialogueError, load_dialogue

GOOD = """\
language: es
channel: whatsapp
store: {preset: demo, workflow: shipping_only}
turns:
  - say: "hola"
    expect: {all: ["Tienda Fit Roma"]}
order:
  delivery_method: shipping
  items: [{sku: TFR-CREA-300, quantity: 1}]
"""


def write(tmp_path: Path, text: str, name: str = "es-wa-prueba.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(DialogueError) as raised:
        load_dialogue(path)
    return str(raised.value)


def test_a_good_file_loads_with_its_store(tmp_path: Path) -> None:
    dialogue = load_dialogue(write(tmp_path, GOOD))
    assert dialogue.name == "es-wa-prueba"  # the file name when not given
    assert dialogue.workflow == "shipping_only"
    assert dialogue.document is not None and dialogue.document.company.name == "Tienda Fit Roma"
    assert [o.delivery_method for o in dialogue.orders] == ["shipping"]
    assert dialogue.databases == ["sqlite"]


@pytest.mark.parametrize(
    ("change", "where", "what"),
    [
        (("channel: whatsapp", "channel: telegram"), "channel", "whatsapp"),
        (('- say: "hola"', '- sayy: "hola"'), "turns[0].sayy", "Extra inputs"),
        (('- say: "hola"', '- say: "hola"\n    tap: 1'), "turns[0]", "exactly one of"),
        (("all: [", "asks: [postal, "), "turns[0].expect.asks", "unknown question"),
        (("quantity: 1", "quantity: 0"), "orders[0].items[0].quantity", "greater than"),
        (("delivery_method: shipping", "delivery_method: courier"), "orders[0]", "pickup"),
        (("workflow: shipping_only", "workflow: shipping_onyl"), "store: workflow", "pickup"),
        (("preset: demo", "preset: nowhere"), "store", "unknown store preset"),
    ],
)
def test_a_malformed_file_names_the_file_and_the_field(
    tmp_path: Path, change: tuple[str, str], where: str, what: str
) -> None:
    message = error_of(write(tmp_path, GOOD.replace(*change)))
    assert "es-wa-prueba.yaml" in message
    assert where in message and what in message, message


def test_a_store_that_cannot_be_published_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace("workflow: shipping_only", "workflow: pickup_only, locations: []")
    message = error_of(write(tmp_path, text))
    assert "store" in message and "location" in message


def test_placeholders_and_yaml_errors(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, GOOD.replace("Tienda Fit Roma", "{pedido}")))
    assert "turns[0].expect" in message and "{pedido}" in message
    assert "not valid YAML" in error_of(write(tmp_path, "turns: [\n"))


def test_facts_are_compared_folded_and_amounts_parsed() -> None:
    assert fold("  Proteína  CAFÉ ") == "proteina cafe"
    assert amounts("Total: $1,797.00 · MX$49.45 · USD54.99 · quedan 9") == [
        Decimal("1797.00"),
        Decimal("49.45"),
        Decimal("54.99"),
        Decimal("9"),
    ]
    assert same_field("street", "Juarez", "Av. Juárez")
    assert not same_field("postal_code", "03940", "3940")
    assert language_of("Here's your cart: 2 × Whey Gold", ["whey gold"]) == "en"
    assert language_of("Esto es lo que encontré para ti", []) == "es"
