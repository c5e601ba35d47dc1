"""WhatsApp webhook parsing: pure, whole deliveries, never a crash on odd shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from tendero.channels import EventKind
from tendero_whatsapp.parse import is_phone_id, order_items, parse_webhook

PHONE_ID = "106540352242922"
OTHER_PHONE_ID = "999000111"
ANA = "5511988887777"
JOSE = "5215512345678"
BSUID = "BR.1502576394655843"


def metadata(phone_number_id: str = PHONE_ID) -> dict:
    return {"display_phone_number": "15550001111", "phone_number_id": phone_number_id}


def message(wamid: str, msg_type: str, content: dict | list, sender: str = ANA, **extra) -> dict:
    body = {"from": sender, "id": wamid, "timestamp": "1767225600", "type": msg_type}
    body[msg_type] = content
    body.update(extra)
    return body


def status(wamid: str, state: str, timestamp: str, **extra) -> dict:
    return {"id": wamid, "status": state, "timestamp": timestamp, "recipient_id": ANA, **extra}


def batched_delivery() -> dict:
    """Two entries, several changes each, messages and statuses in separate changes."""
    ana = {"profile": {"name": "Ana Lima 🌸"}, "wa_id": ANA, "user_id": "BR.77"}
    jose = {"profile": {"name": "José Núñez"}, "wa_id": JOSE}
    order = {
        "catalog_id": "354160437058781",
        "text": "¿Envían hoy?",
        "product_items": [
            {
                "product_retailer_id": "SKU-123",
                "quantity": 2,
                "item_price": 59.9,
                "currency": "BRL",
            },
            {"product_retailer_id": "SKU-9", "quantity": "1", "item_price": 10, "currency": "BRL"},
        ],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA1",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": metadata(),
                            "contacts": [ana, jose],
                            "messages": [
                                message(
                                    "wamid.t1", "text", {"body": "¿Tienen el vestido azul? 👗"}
                                ),
                                message(
                                    "wamid.i1",
                                    "image",
                                    {
                                        "id": "MEDIA1",
                                        "mime_type": "image/jpeg",
                                        "sha256": "ab",
                                        "caption": "este ✨",
                                    },
                                    sender=JOSE,
                                ),
                                message(
                                    "wamid.d1",
                                    "document",
                                    {
                                        "id": "MEDIA2",
                                        "mime_type": "application/pdf",
                                        "filename": "pago.pdf",
                                    },
                                ),
                                message(
                                    "wamid.a1",
                                    "audio",
                                    {"id": "MEDIA3", "mime_type": "audio/ogg", "voice": True},
                                ),
                                message(
                                    "wamid.v1", "video", {"id": "MEDIA4", "mime_type": "video/mp4"}
                                ),
                                message(
                                    "wamid.s1",
                                    "sticker",
                                    {"id": "MEDIA5", "mime_type": "image/webp", "animated": False},
                                ),
                            ],
                        },
                    },
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": metadata(),
                            "statuses": [
                                status("wamid.out1", "read", "1767225700"),
                                status("wamid.out1", "delivered", "1767225650"),
                                status(
                                    "wamid.out2",
                                    "failed",
                                    "1767225660",
                                    errors=[
                                        {
                                            "code": 131047,
                                            "title": "Re-engagement message",
                                            "error_data": {
                                                "details": "Message failed to send because more than 24 hours have passed"
                                            },
                                        }
                                    ],
                                ),
                                status(
                                    "wamid.out3",
                                    "failed",
                                    "1767225661",
                                    errors=[{"code": 131026, "title": "Message undeliverable"}],
                                ),
                            ],
                        },
                    },
                ],
            },
            {
                "id": "WABA2",
                "changes": [
                    {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}},
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": metadata(OTHER_PHONE_ID),
                            "contacts": [{"profile": {"name": "Zoë"}, "user_id": BSUID}],
                            "messages": [
                                {
                                    "from_user_id": BSUID,
                                    "id": "wamid.bsuid1",
                                    "timestamp": "1767225601",
                                    "type": "text",
                                    "text": {"body": "olá, ação!"},
                                },
                            ],
                        },
                    },
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": metadata(),
                            "contacts": [ana],
                            "messages": [
                                message(
                                    "wamid.b1",
                                    "interactive",
                                    {
                                        "type": "button_reply",
                                        "button_reply": {
                                            "id": "cart_add:SKU-123",
                                            "title": "Añadir",
                                        },
                                    },
                                    context={"from": "15550001111", "id": "wamid.out1"},
                                ),
                                message(
                                    "wamid.l1",
                                    "interactive",
                                    {
                                        "type": "list_reply",
                                        "list_reply": {
                                            "id": "size_M",
                                            "title": "M",
                                            "description": "Busto 92–96",
                                        },
                                    },
                                ),
                                message(
                                    "wamid.q1",
                                    "button",
                                    {"payload": "CONFIRM_ORDER", "text": "Confirmar"},
                                ),
                                message(
                                    "wamid.loc1",
                                    "location",
                                    {
                                        "latitude": -23.55,
                                        "longitude": -46.63,
                                        "name": "Loja Centro",
                                        "address": "Av. Paulista 1000",
                                    },
                                ),
                                message("wamid.o1", "order", order),
                                message(
                                    "wamid.r1",
                                    "reaction",
                                    {"message_id": "wamid.out1", "emoji": "👍"},
                                ),
                                message(
                                    "wamid.e1",
                                    "edit",
                                    {
                                        "original_message_id": "wamid.t1",
                                        "message": {
                                            "type": "text",
                                            "text": {"body": "¿y el rojo?"},
                                        },
                                    },
                                ),
                                message(
                                    "wamid.u1",
                                    "unsupported",
                                    {},
                                    errors=[{"code": 131051, "title": "Message type unknown"}],
                                ),
                                message("wamid.new1", "hologram", {"x": 1}),
                                message(
                                    "wamid.old1", "interactive", None, errors=[{"code": 131051}]
                                ),
                            ],
                        },
                    },
                ],
            },
        ],
    }


def parse(payload: dict) -> list:
    # Exactly the bytes Meta sends: escaped-unicode JSON.
    return parse_webhook(json.dumps(payload, ensure_ascii=True).encode())


def test_a_batched_delivery_gives_every_event_in_order() -> None:
    events = parse(batched_delivery())
    assert [e.message_id for e in events] == [
        "wamid.t1", "wamid.i1", "wamid.d1", "wamid.a1", "wamid.v1", "wamid.s1",
        "wamid.out1", "wamid.out1", "wamid.out2", "wamid.out3",
        "wamid.bsuid1",
        "wamid.b1", "wamid.l1", "wamid.q1", "wamid.loc1", "wamid.o1", "wamid.r1",
        "wamid.e1", "wamid.u1", "wamid.new1", "wamid.old1",
    ]  # fmt: skip
    assert all(e.channel == "whatsapp" for e in events)


def test_text_with_accents_emoji_contacts_and_string_timestamps() -> None:
    by_id = {e.message_id: e for e in parse(batched_delivery()) if e.kind != EventKind.STATUS}
    text = by_id["wamid.t1"]
    assert text.kind == EventKind.MESSAGE
    assert text.text == "¿Tienen el vestido azul? 👗"
    assert (text.customer_id, text.customer_phone) == (ANA, ANA)
    assert text.customer_name == "Ana Lima 🌸"
    assert text.business_id == PHONE_ID
    assert text.timestamp == datetime(2026, 1, 1, tzinfo=UTC)
    assert text.timestamp.tzinfo is not None
    # The second message of the change is José's: contacts are matched by wa_id.
    assert by_id["wamid.i1"].customer_name == "José Núñez"
    assert by_id["wamid.i1"].customer_id == JOSE


def test_media_become_attachments_with_their_media_id() -> None:
    by_id = {e.message_id: e for e in parse(batched_delivery())}
    image = by_id["wamid.i1"]
    assert image.kind == EventKind.MESSAGE and image.text == "este ✨"
    (attachment,) = image.attachments
    assert (attachment.kind, attachment.media_id, attachment.mime_type, attachment.caption) == (
        "image",
        "MEDIA1",
        "image/jpeg",
        "este ✨",
    )
    kinds = {
        mid: (by_id[mid].attachments[0].kind, by_id[mid].attachments[0].media_id)
        for mid in ("wamid.d1", "wamid.a1", "wamid.v1", "wamid.s1")
    }
    assert kinds == {
        "wamid.d1": ("file", "MEDIA2"),
        "wamid.a1": ("audio", "MEDIA3"),
        "wamid.v1": ("video", "MEDIA4"),
        "wamid.s1": ("sticker", "MEDIA5"),
    }
    assert by_id["wamid.d1"].attachments[0].mime_type == "application/pdf"


def test_taps_on_buttons_and_list_rows_give_the_payload_and_the_title() -> None:
    by_id = {e.message_id: e for e in parse(batched_delivery())}
    button = by_id["wamid.b1"]
    assert (button.kind, button.payload, button.text) == (
        EventKind.BUTTON,
        "cart_add:SKU-123",
        "Añadir",
    )
    assert button.reply_to == "wamid.out1"
    row = by_id["wamid.l1"]
    assert (row.kind, row.payload, row.text) == (EventKind.BUTTON, "size_M", "M")
    template = by_id["wamid.q1"]
    assert (template.kind, template.payload, template.text) == (
        EventKind.BUTTON,
        "CONFIRM_ORDER",
        "Confirmar",
    )


def test_location_and_native_order() -> None:
    by_id = {e.message_id: e for e in parse(batched_delivery())}
    (place,) = by_id["wamid.loc1"].attachments
    assert (place.kind, place.latitude, place.longitude) == ("location", -23.55, -46.63)
    assert place.caption == "Loja Centro, Av. Paulista 1000"

    order = by_id["wamid.o1"]
    assert order.kind == EventKind.MESSAGE
    assert order.text == "¿Envían hoy?"
    assert [a.kind for a in order.attachments] == ["order"]
    assert order.raw["order"]["catalog_id"] == "354160437058781"
    items = order_items(order)
    assert [(i.sku, i.quantity, i.unit_price, i.currency) for i in items] == [
        ("SKU-123", 2, Decimal("59.9"), "BRL"),
        ("SKU-9", 1, Decimal("10"), "BRL"),
    ]
    # The raw order stays JSON-safe (the inbox stores it): prices are strings.
    json.dumps(order.raw)
    assert order_items(by_id["wamid.t1"]) == []


def test_reactions_edits_unsupported_and_unknown_types_never_crash() -> None:
    by_id = {e.message_id: e for e in parse(batched_delivery())}
    reaction = by_id["wamid.r1"]
    assert (reaction.kind, reaction.text, reaction.reply_to) == (
        EventKind.REACTION,
        "👍",
        "wamid.out1",
    )
    edit = by_id["wamid.e1"]
    assert (edit.kind, edit.text, edit.reply_to) == (EventKind.OTHER, "¿y el rojo?", "wamid.t1")
    unsupported = by_id["wamid.u1"]
    assert unsupported.kind == EventKind.OTHER
    assert "131051" in (unsupported.error or "")
    assert by_id["wamid.new1"].kind == EventKind.OTHER
    assert by_id["wamid.old1"].kind == EventKind.OTHER


def test_bsuid_users_are_addressed_by_their_user_id() -> None:
    (event,) = [e for e in parse(batched_delivery()) if e.message_id == "wamid.bsuid1"]
    assert event.customer_id == BSUID
    assert event.customer_phone is None
    assert event.customer_name == "Zoë"
    assert event.text == "olá, ação!"
    # Another number of the same app: parsed, and business_id says which.
    assert event.business_id == OTHER_PHONE_ID
    assert not is_phone_id(BSUID)
    assert not is_phone_id("US.ENT.13491208655302741918")
    assert is_phone_id(ANA) and is_phone_id("+" + ANA)


def test_a_bsuid_contact_without_from_on_the_message() -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "W",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "metadata": metadata(),
                            "contacts": [
                                {
                                    "profile": {"name": "Lu", "username": "@lu"},
                                    "user_id": "MX.abc123",
                                }
                            ],
                            "messages": [
                                {
                                    "id": "wamid.x",
                                    "timestamp": "1767225600",
                                    "type": "text",
                                    "text": {"body": "hola"},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    (event,) = parse(payload)
    assert (event.customer_id, event.customer_phone, event.customer_name) == (
        "MX.abc123",
        None,
        "Lu",
    )


def test_statuses_out_of_order_and_the_24_hour_window_failure() -> None:
    statuses = [e for e in parse(batched_delivery()) if e.kind == EventKind.STATUS]
    assert [(e.message_id, e.status) for e in statuses] == [
        ("wamid.out1", "read"),
        ("wamid.out1", "delivered"),
        ("wamid.out2", "failed"),
        ("wamid.out3", "failed"),
    ]
    read, delivered, outside, undeliverable = statuses
    # Out of order as Meta sends them; the timestamps tell the real order.
    assert read.timestamp > delivered.timestamp
    assert read.customer_id == ANA and read.business_id == PHONE_ID and read.error is None
    assert "24-hour" in (outside.error or "") and "131047" in (outside.error or "")
    assert undeliverable.error == "131026: Message undeliverable"


def test_odd_shapes_skip_the_bad_item_and_keep_the_rest() -> None:
    good = message("wamid.ok", "text", {"body": "sigo aquí"})
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            "not an object",
            {"id": "W", "changes": "nope"},
            {
                "id": "W",
                "changes": [
                    None,
                    {"field": "messages", "value": None},
                    {
                        "field": "messages",
                        "value": {
                            "metadata": "odd",
                            "contacts": "odd",
                            "messages": [
                                None,
                                {"type": "text"},  # no id, no sender
                                {"id": "wamid.noid"},  # no sender
                                {**good, "timestamp": "not a number"},
                                message("wamid.badtext", "text", "just a string"),
                                message("wamid.badloc", "location", {"latitude": "x"}),
                                message(
                                    "wamid.badorder",
                                    "order",
                                    {
                                        "product_items": [
                                            None,
                                            {"quantity": "two", "item_price": "abc"},
                                        ]
                                    },
                                ),
                            ],
                            "statuses": [{"status": "read"}, "x", status("wamid.s", "sent", "1")],
                            "errors": [{"code": 131000}],
                        },
                    },
                ],
            },
        ],
    }
    events = parse(payload)
    assert [e.message_id for e in events] == [
        "wamid.ok",
        "wamid.badtext",
        "wamid.badloc",
        "wamid.badorder",
        "wamid.s",
    ]
    assert events[0].text == "sigo aquí" and events[0].timestamp.tzinfo is not None
    assert events[0].business_id == ""
    assert order_items(events[3])[0].quantity == 0


def test_other_objects_and_garbage_give_nothing() -> None:
    assert parse_webhook(b"") == []
    assert parse_webhook(b"not json") == []
    assert parse_webhook(b"[]") == []
    assert parse_webhook(json.dumps({"object": "page", "entry": []}).encode()) == []
