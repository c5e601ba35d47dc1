"""Intent classifiers: Spanish and English, typos and missing accents."""

from __future__ import annotations

import pytest
from tendero.agent.nlu import (
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


@pytest.mark.parametrize(
    "text",
    ["Hola!", "hola, tienen café?", "holaa", "Buenas", "buenas tardes", "Buenos días",
     "buenos dias", "hi", "Hello there", "que onda", "hey", "Good morning", "qué tal"],
)  # fmt: skip
def test_greetings(text: str) -> None:
    assert is_greeting(text)


@pytest.mark.parametrize("text", ["quiero café", "dos", "the chocolate one", "", "la 2"])
def test_not_greetings(text: str) -> None:
    assert not is_greeting(text)


@pytest.mark.parametrize(
    "text",
    ["sí", "si", "Sí, confirmo", "claro", "claro que sí", "va", "sale", "ok", "OK!",
     "correcto", "confirmo", "confrimo", "de acuerdo", "yes", "Yep", "sure", "confirm",
     "yes please", "okey", "dale", "simón"],
)  # fmt: skip
def test_yes(text: str) -> None:
    assert yes_no(text) is True
    assert is_yes(text) and not is_no(text)


@pytest.mark.parametrize(
    "text",
    ["no", "No.", "nop", "nope", "mejor no", "no gracias", "cancel", "cancelar", "nah",
     "no, thanks"],
)  # fmt: skip
def test_no(text: str) -> None:
    assert yes_no(text) is False
    assert is_no(text) and not is_yes(text)


@pytest.mark.parametrize(
    "text",
    ["¿si tienen envíos?", "quiero café", "", "la 2",
     "hola quisiera saber si tienen proteina de chocolate y de vainilla por favor"],
)  # fmt: skip
def test_neither_yes_nor_no(text: str) -> None:
    assert yes_no(text) is None


@pytest.mark.parametrize(
    "text",
    ["eso es todo", "Eso es todo!", "ezo es todo", "es todo", "sería todo", "listo",
     "Listo!", "ya", "ya es todo", "quiero pagar", "pagar", "como pago?", "nada mas",
     "that's it", "thats it", "that's all", "thats all", "checkout", "check out",
     "I want to pay", "done", "im done"],
)  # fmt: skip
def test_checkout_triggers(text: str) -> None:
    assert is_checkout(text)


@pytest.mark.parametrize(
    "text",
    ["¿está listo mi pedido?", "quiero café", "ya tienen la proteína de fresa en stock",
     "no quiero pagar todavía", "hola", "listo?"],
)  # fmt: skip
def test_not_checkout(text: str) -> None:
    assert not is_checkout(text)


@pytest.mark.parametrize(
    "text",
    ["mi carrito", "¿qué llevo?", "que llevo", "ver carrito", "show my cart",
     "what's in my cart?", "whats in my cart", "my cart pls", "mi carito"],
)  # fmt: skip
def test_show_cart(text: str) -> None:
    assert is_show_cart(text)


@pytest.mark.parametrize("text", ["quiero café", "hola", "two caps", "listo"])
def test_not_show_cart(text: str) -> None:
    assert not is_show_cart(text)


@pytest.mark.parametrize(
    "text",
    ["quiero hablar con una persona", "quiero hablar con una perzona", "un humano",
     "me pasas con un asesor?", "agente", "talk to a person", "human please",
     "can I talk to a representative", "I want a real person"],
)  # fmt: skip
def test_human_request(text: str) -> None:
    assert is_human_request(text)


@pytest.mark.parametrize("text", ["quiero proteina", "hola", "two caps please", "sí"])
def test_not_human_request(text: str) -> None:
    assert not is_human_request(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("envío", "shipping"),
        ("envio por favor", "shipping"),
        ("a domicilio", "shipping"),
        ("que me lo manden", "shipping"),
        ("shipping", "shipping"),
        ("please deliver it", "shipping"),
        ("delivery", "shipping"),
        ("recoger", "pickup"),
        ("recojer en tienda", "pickup"),
        ("paso por él", "pickup"),
        ("paso por el", "pickup"),
        ("en tienda", "pickup"),
        ("pickup", "pickup"),
        ("pick up", "pickup"),
        ("I'll pick it up", "pickup"),
        ("no, mejor recoger", "pickup"),
        ("no quiero envío, mejor recoger", "pickup"),
        ("mejor envío a domicilio", "shipping"),
        ("actually ship it instead of pickup", "shipping"),
        ("recoger en vez de envío", "pickup"),
        ("quiero café", None),
        ("hola", None),
    ],
)
def test_delivery_choice(text: str, expected: str | None) -> None:
    assert delivery_choice(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quita el café", CartEdit("remove", "cafe")),
        ("quita el cafe", CartEdit("remove", "cafe")),
        ("quitale la gorra roja", CartEdit("remove", "gorra roja")),
        ("sin el café", CartEdit("remove", "cafe")),
        ("ya no quiero las gorras", CartEdit("remove", "gorras")),
        ("quita 1 café", CartEdit("remove", "cafe", 1)),
        ("remove the caps", CartEdit("remove", "caps")),
        ("remvoe the caps", CartEdit("remove", "caps")),
        ("please take out the coffee", CartEdit("remove", "coffee")),
        ("mejor solo 1", CartEdit("set", None, 1)),
        ("mejor sólo una", CartEdit("set", None, 1)),
        ("make it 3", CartEdit("set", None, 3)),
        ("make it three", CartEdit("set", None, 3)),
        ("cambia a 2", CartEdit("set", None, 2)),
        ("cambia a 2 las gorras", CartEdit("set", "gorras", 2)),
        ("que sean cinco cafés", CartEdit("set", "cafes", 5)),
        ("just 2 of the caps", CartEdit("set", "caps", 2)),
    ],
)
def test_cart_edits(text: str, expected: CartEdit) -> None:
    assert parse_cart_edit(text) == expected


@pytest.mark.parametrize("text", ["quiero café", "hola", "mejor envío", "make it blue", ""])
def test_not_cart_edits(text: str) -> None:
    assert parse_cart_edit(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("la 2", ListReference(index=2)),
        ("quiero la 3 por favor", ListReference(index=3)),
        ("el segundo", ListReference(index=2)),
        ("la primera", ListReference(index=1)),
        ("la ultima", ListReference(index=-1)),
        ("the second one", ListReference(index=2)),
        ("the last one", ListReference(index=-1)),
        ("number 3", ListReference(index=3)),
        ("opción 2", ListReference(index=2)),
        ("#2", ListReference(index=2)),
        ("2nd", ListReference(index=2)),
        ("dame 2 de la 3", ListReference(index=3)),
        ("2", ListReference(index=2, bare=True)),
        ("el de chocolate", ListReference(descriptor="chocolate")),
        ("la de vainilla porfa", ListReference(descriptor="vainilla")),
        ("el que es de fresa", ListReference(descriptor="fresa")),
        ("the large one", ListReference(descriptor="large")),
        ("the chocolate ones", ListReference(descriptor="chocolate")),
        ("the one with vanilla", ListReference(descriptor="vanilla")),
        ("la grande", ListReference(descriptor="grande")),
    ],
)
def test_list_references(text: str, expected: ListReference) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize("text", ["quiero café", "hola", "Creatina 300 g", "", "the one"])
def test_not_list_references(text: str) -> None:
    assert parse_reference(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("¿cuál es su horario?", SideQuestion("hours")),
        ("a que hora abren", SideQuestion("hours")),
        ("what are your hours?", SideQuestion("hours")),
        ("dónde están?", SideQuestion("location")),
        ("donde estan ubicados", SideQuestion("location")),
        ("where are you located?", SideQuestion("location")),
        ("aceptan devoluciones?", SideQuestion("returns")),
        ("what is your return policy", SideQuestion("returns")),
        ("¿es original?", SideQuestion("originality")),
        ("son originales?", SideQuestion("originality")),
        ("is it original?", SideQuestion("originality")),
        ("¿cuánto es en dólares?", SideQuestion("currency", "USD")),
        ("cuanto es en dolares", SideQuestion("currency", "USD")),
        ("how much in dollars?", SideQuestion("currency", "USD")),
        ("price in euros", SideQuestion("currency", "EUR")),
    ],
)
def test_side_questions(text: str, expected: SideQuestion) -> None:
    assert side_question(text) == expected


@pytest.mark.parametrize("text", ["quiero café", "hola", "dos gorras", "", "listo"])
def test_not_side_questions(text: str) -> None:
    assert side_question(text) is None


def test_mentioned_currency() -> None:
    assert mentioned_currency("en dolares porfa") == "USD"
    assert mentioned_currency("USD") == "USD"
    assert mentioned_currency("quiero café") is None
