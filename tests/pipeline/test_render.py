"""render(): choices become buttons, a list or numbered text within each channel's limits."""

from __future__ import annotations

import pytest
from tendero.channels.base import MessageLimits
from tendero.channels.render import render
from tendero.conversations.turns import Choice, Reply

WHATSAPP_LIKE = MessageLimits(
    max_text_length=4096,
    max_buttons=3,
    max_button_title_length=20,
    max_interactive_text_length=1024,
    max_list_rows=10,
    max_list_row_title_length=24,
    max_list_row_description_length=72,
    max_caption_length=1024,
)
MESSENGER_LIKE = MessageLimits(
    max_text_length=2000, max_buttons=13, max_button_title_length=20, max_list_rows=0
)
INSTAGRAM_LIKE = MessageLimits(
    max_text_length=1000, text_length_unit="bytes", max_buttons=13, max_list_rows=0
)


def choices(n: int) -> list[Choice]:
    return [
        Choice(id=f"p{i}", title=f"Camiseta de algodón orgánico talla {i}", description="x" * 90)
        for i in range(1, n + 1)
    ]


def reply(n: int) -> Reply:
    return Reply(text="¿Cuál te interesa?", choices=choices(n))


@pytest.mark.parametrize("limits", [WHATSAPP_LIKE, MESSENGER_LIKE])
def test_two_choices_are_buttons(limits: MessageLimits) -> None:
    [message] = render(reply(2), "x", "u1", limits)
    assert [b.id for b in message.buttons] == ["p1", "p2"]
    assert all(len(b.title) <= 20 for b in message.buttons)
    assert len({b.title for b in message.buttons}) == 2
    assert "escribe" in message.text  # the customer may type instead of tapping
    assert message.recipient_id == "u1" and not limits.problems(message)


def test_five_choices_are_a_list_on_whatsapp_and_buttons_on_messenger() -> None:
    [wa] = render(reply(5), "whatsapp", "u1", WHATSAPP_LIKE)
    assert len(wa.list_rows) == 5 and not wa.buttons and wa.list_button
    assert all(len(r.title) <= 24 and len(r.description) <= 72 for r in wa.list_rows)
    assert not WHATSAPP_LIKE.problems(wa)
    [fb] = render(reply(5), "facebook", "u1", MESSENGER_LIKE)
    assert len(fb.buttons) == 5 and not MESSENGER_LIKE.problems(fb)


def test_twelve_choices_are_numbered_text_on_whatsapp_and_quick_replies_on_messenger() -> None:
    messages = render(reply(12), "whatsapp", "u1", WHATSAPP_LIKE)
    text = "\n".join(m.text for m in messages)
    assert all(not m.buttons and not m.list_rows for m in messages)
    for i in range(1, 13):
        assert f"{i}. Camiseta de algodón orgánico talla {i}" in text
    assert "Responde con el número" in text
    [fb] = render(reply(12), "facebook", "u1", MESSENGER_LIKE)
    assert len(fb.buttons) == 12 and not MESSENGER_LIKE.problems(fb)


def test_more_than_thirteen_choices_are_numbered_on_messenger_in_english() -> None:
    many = Reply(text="Which one?", choices=choices(14), language="en")
    messages = render(many, "facebook", "u1", MESSENGER_LIKE)
    assert all(not m.buttons for m in messages)
    assert "14. Camiseta" in messages[-1].text and "type your answer" in messages[-1].text


def test_long_texts_are_split_to_fit_bytes_on_instagram() -> None:
    long = Reply(text=("Hola ñandú 😀. " * 200).strip())
    messages = render(long, "instagram", "u1", INSTAGRAM_LIKE)
    assert len(messages) > 1
    assert all(len(m.text.encode()) <= 1000 for m in messages)
    assert " ".join(m.text for m in messages).split() == long.text.split()


def test_an_image_carries_its_caption_where_the_channel_allows() -> None:
    wa = render(Reply(text="Mira", image_url="https://x/y.jpg"), "whatsapp", "u1", WHATSAPP_LIKE)
    assert [(m.image_url, m.text) for m in wa] == [("https://x/y.jpg", "Mira")]
    fb = render(Reply(text="Mira", image_url="https://x/y.jpg"), "facebook", "u1", MESSENGER_LIKE)
    assert [(m.image_url, m.text) for m in fb] == [("https://x/y.jpg", ""), (None, "Mira")]


def test_titles_equal_after_cutting_keep_the_words_that_differ() -> None:
    same = [Choice(id=str(i), title="Pantalón de mezclilla azul " + "x" * i) for i in range(3)]
    [message] = render(Reply(text="¿Cuál?", choices=same), "w", "u1", WHATSAPP_LIKE)
    titles = [b.title for b in message.buttons]
    assert titles == ["Pantalón de… azul", "Pantalón de… azul x", "Pantalón de… azul xx"]
    assert [b.id for b in message.buttons] == ["0", "1", "2"]
    assert not WHATSAPP_LIKE.problems(message)


def test_identical_titles_are_numbered() -> None:
    twins = [Choice(id=f"p{i}", title="Vestido largo de fiesta rojo") for i in range(2)]
    [message] = render(Reply(text="¿Cuál?", choices=twins), "w", "u1", WHATSAPP_LIKE)
    titles = [b.title for b in message.buttons]
    assert titles[0].startswith("1. ") and titles[1].startswith("2. ")
    assert not WHATSAPP_LIKE.problems(message)


def test_list_rows_of_variants_show_the_size_and_the_full_name_with_the_price() -> None:
    shoes = [
        Choice(f"product:{size}", f"Tenis Running Negro Talla {size}", "$1,299.00")
        for size in (24, 25, 26, 27)
    ]
    [message] = render(Reply(text="¿Qué talla?", choices=shoes), "w", "u1", WHATSAPP_LIKE)
    assert [(r.id, r.title, r.description) for r in message.list_rows] == [
        (f"product:{size}", f"Tenis Running Negro… {size}", f"{c.title} · $1,299.00")
        for size, c in zip((24, 25, 26, 27), shoes, strict=True)
    ]
    assert not WHATSAPP_LIKE.problems(message)


def test_quick_replies_of_flavours_differing_in_the_middle_stay_apart() -> None:
    flavours = [
        Choice(f"product:{n}", f"Proteína Whey Isolate {flavour} 2 lb", "$899.00")
        for n, flavour in enumerate(("Chocolate", "Vainilla", "Fresa", "Cookies"))
    ]
    [message] = render(Reply(text="¿Qué sabor?", choices=flavours), "f", "u1", MESSENGER_LIKE)
    titles = [b.title for b in message.buttons]
    assert [b.id for b in message.buttons] == [c.id for c in flavours]
    for title, flavour in zip(titles, ("Chocolate", "Vainilla", "Fresa", "Cookies"), strict=True):
        assert flavour in title and len(title) <= 20
    assert not MESSENGER_LIKE.problems(message)
