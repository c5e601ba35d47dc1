"""The Facebook Messenger channel: webhook parsing, signatures and the Send API, against
the fake Graph API (tests/fakes/graph.py) and Meta-shaped deliveries (tests/fakes/webhooks.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from tendero.channels import Attachment, Button, ChannelError, EventKind, ListRow, OutboundMessage
from tendero.channels.base import InboundEvent
from tendero.channels.meta import GraphClient, GraphError
from tendero.settings import Settings
from tendero_facebook.channel import FacebookChannel
from tendero_facebook.plugin import register_channels

from tests.fakes import webhooks as wh
from tests.fakes.graph import FakeGraph

PAGE, TOKEN, APP_ID, SECRET, VERIFY = (
    "104560000001",
    "EAAG-page-token",
    "3300440055",
    "fb-secret",
    "vt-fb",
)
ANA, BEA = "7001000000000001", "7001000000000002"


def settings(graph_url: str = "https://graph.facebook.com") -> Settings:
    return Settings(
        facebook_app_secret=SECRET,
        facebook_verify_token=VERIFY,
        facebook_page_access_token=TOKEN,
        facebook_page_id=PAGE,
        facebook_app_id=APP_ID,
        graph_api_url=graph_url,
    )


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph("facebook", hang_seconds=5) as fake:
        fake.add_account(PAGE, TOKEN)
        fake.add_user(PAGE, ANA)
        fake.add_user(PAGE, BEA)
        yield fake


@pytest.fixture
async def channel(graph: FakeGraph) -> AsyncIterator[FacebookChannel]:
    async with aiohttp.ClientSession() as http:
        adapter = FacebookChannel(settings(graph.url))
        adapter.attach(http)
        yield adapter


def parse(payload: object) -> list:
    return FacebookChannel(settings()).parse(wh.encode(payload))


# --- set-up ------------------------------------------------------------------------------


def test_plugin_registers_a_configured_channel() -> None:
    [adapter] = register_channels(settings=settings())
    assert adapter.name == "facebook" and adapter.configured()
    assert adapter.limits.max_text_length == 2000 and adapter.limits.max_buttons == 13
    assert not register_channels(settings=Settings())[0].configured()


async def test_handshake_uses_the_facebook_verify_token() -> None:
    adapter = FacebookChannel(settings())
    ok = make_mocked_request(
        "GET", f"/webhooks/facebook?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=42"
    )
    response = await adapter.handle_verify(ok)
    assert (response.status, response.body) == (200, b"42")
    bad = make_mocked_request(
        "GET", "/webhooks/facebook?hub.mode=subscribe&hub.verify_token=vt-ig&hub.challenge=42"
    )
    assert (await adapter.handle_verify(bad)).status == 403


def test_authenticate_checks_the_raw_bytes_with_the_app_secret() -> None:
    adapter = FacebookChannel(settings())
    body = wh.encode(
        wh.delivery("page", wh.entry(PAGE, [wh.text_event(ANA, PAGE, "¿Tienen talla M? 👗")]))
    )
    good = wh.signature_headers(body, SECRET)
    assert adapter.authenticate(good, body)
    assert adapter.authenticate({k.lower(): v for k, v in good.items()}, body)
    assert not adapter.authenticate(good, body.replace(b"talla", b"tallo"))
    assert not adapter.authenticate(wh.signature_headers(body, SECRET, "sha1"), body)
    assert not adapter.authenticate(wh.signature_headers(body, "other"), body)
    assert not adapter.authenticate({}, body)


def test_authenticate_accepts_a_rotated_secret_list() -> None:
    adapter = FacebookChannel(settings().model_copy(update={"facebook_app_secret": "new, old"}))
    body = b'{"object":"page","entry":[]}'
    assert adapter.authenticate(wh.signature_headers(body, "old"), body)
    assert adapter.authenticate(wh.signature_headers(body, "new"), body)


# --- parsing -----------------------------------------------------------------------------


def test_batched_delivery_gives_every_event_in_order() -> None:
    payload = wh.delivery(
        "page",
        wh.entry(
            PAGE,
            [
                wh.text_event(ANA, PAGE, "Hola 😊", mid="m_1"),
                wh.text_event(BEA, PAGE, "Oi, tudo bem?", mid="m_2"),
            ],
        ),
        wh.entry(
            PAGE,
            [wh.text_event(ANA, PAGE, "¿precio?", mid="m_3")],
            standby=[wh.text_event(BEA, PAGE, "en espera", mid="m_4")],
        ),
    )
    events = parse(payload)
    assert [e.message_id for e in events] == ["m_1", "m_2", "m_3", "m_4"]
    assert [e.kind for e in events] == [EventKind.MESSAGE] * 3 + [EventKind.OTHER]
    first = events[0]
    assert (first.channel, first.customer_id, first.business_id, first.text) == (
        "facebook",
        ANA,
        PAGE,
        "Hola 😊",
    )
    assert (
        first.timestamp.tzinfo is not None and abs(first.timestamp.timestamp() - time.time()) < 60
    )


def test_quick_reply_and_postback_are_buttons() -> None:
    events = parse(
        wh.delivery(
            "page",
            wh.entry(
                PAGE,
                [
                    wh.text_event(ANA, PAGE, "Talla M", quick_reply="SIZE:M", mid="m_q"),
                    wh.postback_event(ANA, PAGE, "BUY:SKU123", title="Comprar", mid="m_p"),
                ],
            ),
        )
    )
    assert [(e.kind, e.payload, e.text) for e in events] == [
        (EventKind.BUTTON, "SIZE:M", "Talla M"),
        (EventKind.BUTTON, "BUY:SKU123", "Comprar"),
    ]


def test_postback_without_mid_gets_a_stable_id() -> None:
    item = wh.postback_event(ANA, PAGE, "BUY", mid="x", timestamp=1767225600001)
    del item["postback"]["mid"]
    once, again = (
        parse(wh.delivery("page", wh.entry(PAGE, [item]))),
        parse(wh.delivery("page", wh.entry(PAGE, [item]))),
    )
    assert once[0].message_id == again[0].message_id == f"postback:{ANA}:1767225600001:BUY"


def test_image_attachment_and_reply_to() -> None:
    url = "https://scontent.xx.fbcdn.net/v/t1.15752-9/abc.jpg?oh=1&oe=2"
    events = parse(
        wh.delivery(
            "page",
            wh.entry(
                PAGE,
                [
                    wh.attachment_event(ANA, PAGE, url, mid="m_img"),
                    wh.attachment_event(ANA, PAGE, None, kind="fallback", mid="m_fb"),
                    wh.text_event(ANA, PAGE, "este", reply_to="m_old", mid="m_r"),
                ],
            ),
        )
    )
    assert events[0].kind == EventKind.MESSAGE
    assert events[0].attachments == (Attachment(kind="image", url=url),)
    assert events[1].attachments == (Attachment(kind="fallback", url=None),)
    assert events[2].reply_to == "m_old"


def test_echoes_tell_our_app_from_a_person() -> None:
    events = parse(
        wh.delivery(
            "page",
            wh.entry(
                PAGE,
                [
                    wh.echo_event(PAGE, ANA, "sent by us", app_id=APP_ID, mid="m_e1"),
                    wh.echo_event(PAGE, ANA, "a person in the inbox", app_id=None, mid="m_e2"),
                    wh.echo_event(PAGE, BEA, "another app", app_id="999", mid="m_e3"),
                ],
            ),
        )
    )
    assert all(e.kind == EventKind.ECHO for e in events)
    assert [e.echo_from_app for e in events] == [True, False, False]
    assert [e.customer_id for e in events] == [ANA, ANA, BEA]  # the customer, not the Page
    assert events[0].business_id == PAGE


def test_echo_without_configured_app_id_is_never_ours() -> None:
    adapter = FacebookChannel(settings().model_copy(update={"facebook_app_id": ""}))
    [event] = adapter.parse(
        wh.encode(
            wh.delivery("page", wh.entry(PAGE, [wh.echo_event(PAGE, ANA, "x", app_id=APP_ID)]))
        )
    )
    assert event.kind == EventKind.ECHO and not event.echo_from_app


def test_receipts_and_reactions() -> None:
    events = parse(
        wh.delivery(
            "page",
            wh.entry(
                PAGE,
                [
                    wh.delivery_receipt(ANA, PAGE, ["m_a", "m_b"], watermark=1767225600000),
                    wh.delivery_receipt(ANA, PAGE, None),
                    wh.read_receipt(ANA, PAGE, watermark=1767225600000),
                    wh.reaction_event(ANA, PAGE, "m_a"),
                ],
            ),
        )
    )
    assert [(e.kind, e.message_id, e.status) for e in events[:4]] == [
        (EventKind.STATUS, "m_a", "delivered"),
        (EventKind.STATUS, "m_b", "delivered"),
        (EventKind.STATUS, "", "delivered"),
        (EventKind.STATUS, "", "read"),
    ]
    reaction = events[4]
    assert (
        reaction.kind == EventKind.REACTION and reaction.reply_to == "m_a" and reaction.text == "❤️"
    )
    assert all(e.customer_id == ANA for e in events)
    # Named messages carry no watermark; receipts without mids carry theirs.
    watermark = datetime(2026, 1, 1, tzinfo=UTC)
    assert [e.watermark for e in events[:4]] == [None, None, events[2].watermark, watermark]
    assert events[2].watermark is not None


def test_watermark_receipts_round_trip_and_odd_watermarks_are_dropped() -> None:
    events = parse(
        wh.delivery(
            "page",
            wh.entry(
                PAGE,
                [
                    wh.read_receipt(ANA, PAGE, watermark=1767225600123),
                    wh.delivery_receipt(ANA, PAGE, [], watermark=1767225600000),
                    wh.read_receipt(ANA, PAGE),  # no watermark at all
                    wh.read_receipt(ANA, PAGE, watermark="soon"),  # type: ignore[arg-type]
                ],
            ),
        )
    )
    read, delivered, bare, odd = events
    assert (read.status, read.message_id) == ("read", "")
    assert read.watermark == datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)
    assert (delivered.status, delivered.watermark) == (
        "delivered",
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert bare.watermark is None and odd.watermark is None
    # The inbox stores events as JSON: the watermark survives the trip.
    assert InboundEvent.from_json(read.to_json()) == read
    assert InboundEvent.from_json(bare.to_json()).watermark is None


def test_odd_shapes_are_skipped_and_never_raise() -> None:
    good = wh.text_event(ANA, PAGE, "sigo aquí", mid="m_ok")
    payload = {
        "object": "page",
        "entry": [
            "not an entry",
            {"id": PAGE, "messaging": "not a list"},
            {
                "id": PAGE,
                "messaging": [None, {"sender": "x"}, {"message": {"mid": 5, "text": ["no"]}}, good],
            },
            {
                "id": PAGE,
                "messaging": [
                    {"sender": {"id": ANA}, "recipient": {"id": PAGE}, "timestamp": 1, "optin": {}}
                ],
            },
            {
                "id": PAGE,
                "messaging": [
                    {
                        "sender": {"id": ANA},
                        "recipient": {"id": PAGE},
                        "message": {
                            "mid": "m_s",
                            "attachments": [
                                {"type": "sticker", "payload": {"sticker_id": 369239263222822}}
                            ],
                            "unknown": 1,
                        },
                    }
                ],
            },
        ],
    }
    events = parse(payload)
    assert "m_ok" in [e.message_id for e in events]
    assert any(e.kind == EventKind.OTHER and e.message_id.startswith("optin:") for e in events)
    assert any(e.message_id == "m_s" and e.attachments[0].kind == "sticker" for e in events)
    adapter = FacebookChannel(settings())
    assert adapter.parse(b"not json") == []
    assert adapter.parse(b"[]") == []
    assert adapter.parse(wh.encode(wh.delivery("instagram", wh.entry(PAGE, [good])))) == []


# --- sending -----------------------------------------------------------------------------


def out(text: str = "", **extra: object) -> OutboundMessage:
    return OutboundMessage(channel="facebook", recipient_id=ANA, text=text, **extra)  # type: ignore[arg-type]


async def test_send_text(channel: FacebookChannel, graph: FakeGraph) -> None:
    message_id = await channel.send(out("¡Hola! Sí, tenemos la talla M 👗"))
    [sent] = graph.sent
    assert message_id == sent.response["message_id"] and message_id.startswith("m_")
    assert sent.path == f"/v25.0/{PAGE}/messages"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.json == {
        "recipient": {"id": ANA},
        "messaging_type": "RESPONSE",
        "message": {"text": "¡Hola! Sí, tenemos la talla M 👗"},
    }


async def test_send_quick_replies_from_buttons(channel: FacebookChannel, graph: FakeGraph) -> None:
    buttons = (
        Button("SIZE:M", "M"),
        Button("SIZE:G", "G"),
        Button("MORE", "Ver más colores y tallas disponibles"),
    )
    await channel.send(out("¿Qué talla?", buttons=buttons))
    replies = graph.sent[0].json["message"]["quick_replies"]
    assert [r["payload"] for r in replies] == ["SIZE:M", "SIZE:G", "MORE"]
    assert all(r["content_type"] == "text" and 1 <= len(r["title"]) <= 20 for r in replies)


async def test_list_rows_become_quick_replies_or_numbered_text(
    channel: FacebookChannel, graph: FakeGraph
) -> None:
    rows = tuple(ListRow(f"SKU{n}", f"Producto {n}", "desc") for n in range(1, 14))
    await channel.send(out("Elige:", list_rows=rows))
    assert len(graph.sent[0].json["message"]["quick_replies"]) == 13
    many = (*rows, ListRow("SKU14", "Producto 14"))
    await channel.send(out("Elige:", list_rows=many))
    message = graph.sent[1].json["message"]
    assert "quick_replies" not in message
    assert "1. Producto 1 — desc" in message["text"] and "14. Producto 14" in message["text"]


async def test_choices_without_text_still_carry_a_text(
    channel: FacebookChannel, graph: FakeGraph
) -> None:
    await channel.send(out(buttons=(Button("A", "A"),)))
    assert graph.sent[0].json["message"]["text"]


async def test_image_and_text_are_two_messages(channel: FacebookChannel, graph: FakeGraph) -> None:
    image = "https://shop.example.com/p/sku123.jpg"
    last = await channel.send(
        out("Vestido azul – $159.90", image_url=image, buttons=(Button("ADD", "Agregar"),))
    )
    first, second = graph.sent
    assert first.json["message"] == {
        "attachment": {"type": "image", "payload": {"url": image, "is_reusable": True}}
    }
    assert second.json["message"]["text"] == "Vestido azul – $159.90"
    assert second.json["message"]["quick_replies"][0]["payload"] == "ADD"
    assert last == second.response["message_id"]


async def test_long_text_is_split_between_sentences(
    channel: FacebookChannel, graph: FakeGraph
) -> None:
    sentence = "Este vestido es de algodón y viene en tres colores. "
    text = sentence * 90  # about 4 600 characters
    await channel.send(out(text.strip()))
    texts = [s.json["message"]["text"] for s in graph.sent]
    assert len(texts) == 3
    assert all(len(t) <= 2000 and t.endswith(".") for t in texts)
    assert " ".join(texts) == text.strip()


async def test_message_tag_outside_the_window(channel: FacebookChannel, graph: FakeGraph) -> None:
    graph.add_user(PAGE, ANA, last_message_ms=int(time.time() * 1000) - 30 * 3600 * 1000)
    with pytest.raises(ChannelError) as caught:
        await channel.send(out("¿Sigues ahí?"))
    error = caught.value
    assert isinstance(error, GraphError) and not error.retryable
    assert (error.graph_code, error.error_subcode) == (10, 2018278) and error.outside_window
    assert graph.counters["outside_window"] == 1 and graph.sent == []
    await channel.send(out("Te escribe Ana, de la tienda.", tag="HUMAN_AGENT"))
    assert (
        graph.sent[0].json["messaging_type"] == "MESSAGE_TAG"
        and graph.sent[0].json["tag"] == "HUMAN_AGENT"
    )


async def test_rate_limit_is_retryable_then_delivered_once(
    channel: FacebookChannel, graph: FakeGraph
) -> None:
    graph.fail_next(status=400, code=613)
    with pytest.raises(ChannelError) as caught:
        await channel.send(out("hola"))
    assert caught.value.retryable
    await channel.send(out("hola"))
    assert len(graph.sent) == 1


async def test_unavailable_user_is_permanent(channel: FacebookChannel, graph: FakeGraph) -> None:
    graph.make_unavailable(PAGE, ANA)
    with pytest.raises(GraphError) as caught:
        await channel.send(out("hola"))
    assert (caught.value.graph_code, caught.value.retryable) == (551, False)


async def test_wrong_page_token_is_refused(graph: FakeGraph) -> None:
    async with aiohttp.ClientSession() as http:
        adapter = FacebookChannel(
            settings(graph.url).model_copy(update={"facebook_page_access_token": "expired"})
        )
        adapter.attach(http)
        with pytest.raises(GraphError) as caught:
            await adapter.send(out("hola"))
    assert caught.value.token_invalid and not caught.value.retryable


async def test_the_fake_refuses_over_limit_sends(graph: FakeGraph) -> None:
    def body(message: dict[str, object]) -> dict[str, object]:
        return {"recipient": {"id": ANA}, "messaging_type": "RESPONSE", "message": message}

    too_many = [{"content_type": "text", "title": f"T{n}", "payload": f"P{n}"} for n in range(14)]
    bad = [
        body({"text": "x" * 2001}),
        body({"text": "x", "quick_replies": too_many}),
        body(
            {
                "text": "x",
                "quick_replies": [{"content_type": "text", "title": "x" * 21, "payload": "p"}],
            }
        ),
        body(
            {"text": "x", "quick_replies": [{"content_type": "text", "title": "", "payload": "p"}]}
        ),
        {**body({"text": "x"}), "messaging_type": "MESSAGE_TAG", "tag": "NOT_A_TAG"},
        body({"attachment": {"type": "image", "payload": {}}}),
    ]
    async with aiohttp.ClientSession() as http:
        client = GraphClient(http, graph.url, "v25.0")
        for request in bad:
            with pytest.raises(GraphError) as caught:
                await client.request("POST", f"/{PAGE}/messages", token=TOKEN, json=request)
            assert caught.value.graph_code == 100
        await client.request(
            "POST",
            f"/{PAGE}/messages",
            token=TOKEN,
            json=body({"text": "x" * 2000, "quick_replies": too_many[:13]}),
        )
    assert len(graph.sent) == 1


async def test_mark_read_sends_sender_actions(channel: FacebookChannel, graph: FakeGraph) -> None:
    [event] = parse(wh.delivery("page", wh.entry(PAGE, [wh.text_event(ANA, PAGE, "hola")])))
    await channel.mark_read(event)
    assert [s.json for s in graph.sent] == [
        {"recipient": {"id": ANA}, "sender_action": "mark_seen"},
        {"recipient": {"id": ANA}, "sender_action": "typing_on"},
    ]


async def test_download_media_from_the_cdn(channel: FacebookChannel, graph: FakeGraph) -> None:
    url = graph.add_media(b"\xff\xd8\xff" + b"1" * 500, "image/jpeg")
    [event] = parse(wh.delivery("page", wh.entry(PAGE, [wh.attachment_event(ANA, PAGE, url)])))
    content, media_type = await channel.download_media(event.attachments[0])
    assert content.startswith(b"\xff\xd8\xff") and media_type == "image/jpeg"
    html = graph.add_media(b"<html>", "text/html")
    with pytest.raises(ChannelError):
        await channel.download_media(Attachment(kind="image", url=html))


# --- end to end: Meta → /webhooks/facebook → pipeline → Graph ------------------------------


async def test_end_to_end_reply_reaches_the_fake_graph(
    graph: FakeGraph, sqlite_url: str, tmp_path
) -> None:
    from tendero.app import create_app
    from tendero.conversations.turns import AcknowledgementRunner
    from tendero.plugins import create_plugin_manager

    app_settings = settings(graph.url).model_copy(
        update={"data_dir": tmp_path / "data", "database_url": sqlite_url}
    )
    fast = {"poll_interval": 0.1}
    app = create_app(
        app_settings,
        plugin_manager=create_plugin_manager(allow=["core", "facebook"]),
        turn_runner=AcknowledgementRunner(),
        pipeline_options={"dispatcher_options": fast, "sender_options": fast},
    )
    async with (
        wh.serve(app) as base,
        wh.MetaWebhookEmitter(f"{base}/webhooks/facebook", SECRET) as meta,
    ):
        assert wh.handshake_passed(await meta.handshake(VERIFY, "8675309"), "8675309")
        assert (await meta.handshake("wrong", "1"))[0] == 403
        payload = wh.delivery(
            "page",
            wh.entry(PAGE, [wh.text_event(ANA, PAGE, "¿Tienen el vestido azul? 😍", mid="m_e2e")]),
        )
        for bad in (
            meta.send_unsigned,
            meta.send_sha1_only,
            meta.send_wrong_secret,
            meta.send_tampered,
            meta.send_reserialised,
        ):
            assert (await bad(payload))[0] in (401, 403)
        started = time.monotonic()
        assert (await meta.send(payload))[0] == 200
        assert time.monotonic() - started < 1.0
        assert (await meta.send(payload))[0] == 200  # Meta redelivers: answered once

        def replies() -> list:
            return [s for s in graph.sent if "message" in s.json]

        await wh.wait_for(lambda: len(replies()) >= 1)
        assert [s.json["sender_action"] for s in graph.sent if "sender_action" in s.json] == [
            "mark_seen",
            "typing_on",
        ]
        reply = replies()[0]
        assert reply.path == f"/v25.0/{PAGE}/messages" and reply.recipient_id == ANA
        assert reply.json["messaging_type"] == "RESPONSE" and reply.json["message"]["text"]
        # Our own echo and the read receipt never reach the agent.
        echo = wh.delivery(
            "page",
            wh.entry(
                PAGE,
                [
                    wh.echo_of(reply, PAGE, APP_ID),
                    wh.read_receipt(ANA, PAGE, watermark=wh.now_ms()),
                ],
            ),
        )
        assert (await meta.send(echo))[0] == 200
        await asyncio.sleep(0.5)
        assert len(replies()) == 1
