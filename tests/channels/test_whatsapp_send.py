"""WhatsApp sends, read receipts and media downloads against the fake Graph API.

The fake validates like Meta does (tests/fakes/graph_whatsapp.py): the first tests prove
it rejects what Meta rejects, the rest that the channel never builds such a payload.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import pytest
from tendero.channels import (
    Attachment,
    Button,
    ChannelError,
    EventKind,
    InboundEvent,
    ListRow,
    OutboundMessage,
)
from tendero.channels.meta import GraphError
from tendero.settings import Settings
from tendero_whatsapp.channel import WhatsAppChannel

from tests.fakes.graph import FakeGraph
from tests.fakes.graph_whatsapp import FakeWhatsApp, install_whatsapp

PHONE_ID = "106540352242922"
TOKEN = "EAAG-whatsapp-system-user-token"
ANA = "5215512345678"
BSUID = "MX.1502576394655843"
VERSION = "v25.0"
JPEG = b"\xff\xd8\xff\xe0" + b"foto del comprobante" * 50


@dataclass
class Setup:
    graph: FakeGraph
    wa: FakeWhatsApp
    channel: WhatsAppChannel
    http: aiohttp.ClientSession

    async def post_raw(self, body: dict, *, token: str | None = TOKEN) -> tuple[int, dict]:
        """A body straight to the fake, bypassing the channel."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"{self.graph.url}/{VERSION}/{PHONE_ID}/messages"
        async with self.http.post(url, json=body, headers=headers) as response:
            return response.status, await response.json()


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    graph = FakeGraph()
    wa = install_whatsapp(graph)
    await graph.start()
    wa.add_number(PHONE_ID, TOKEN)
    wa.inbound(PHONE_ID, ANA, "wamid.inbound-1")
    wa.inbound(PHONE_ID, BSUID, "wamid.inbound-bsuid")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        graph_api_url=graph.url,
        graph_api_version=VERSION,
        whatsapp_app_secret="app-secret",
        whatsapp_verify_token="verify",
        whatsapp_access_token=TOKEN,
        whatsapp_phone_number_id=PHONE_ID,
    )
    channel = WhatsAppChannel(settings)
    async with aiohttp.ClientSession() as http:
        channel.attach(http)
        yield Setup(graph, wa, channel, http)
    await graph.stop()


def out(text: str = "", **fields) -> OutboundMessage:
    return OutboundMessage(
        channel="whatsapp", recipient_id=fields.pop("to", ANA), text=text, **fields
    )


def text_payload(to: str = ANA, body: str = "Hola") -> dict:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}}


def buttons_payload(titles: list[str]) -> dict:
    buttons = [
        {"type": "reply", "reply": {"id": f"b{i}", "title": t}} for i, t in enumerate(titles)
    ]
    return {
        "messaging_product": "whatsapp",
        "to": ANA,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "¿Cuál?"},
            "action": {"buttons": buttons},
        },
    }


def list_payload(rows: int, *, title: str = "Talla M", sections: list | None = None) -> dict:
    section_rows = [{"id": f"r{i}", "title": title if i == 0 else f"Fila {i}"} for i in range(rows)]
    return {
        "messaging_product": "whatsapp",
        "to": ANA,
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": "Elige la talla"},
            "action": {"button": "Ver tallas", "sections": sections or [{"rows": section_rows}]},
        },
    }


# --- the fake validates ----------------------------------------------------------------------


async def test_the_fake_accepts_a_correct_payload_with_meta_response_shape(setup: Setup) -> None:
    status, answer = await setup.post_raw(text_payload())
    assert status == 200
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": ANA, "wa_id": ANA}]
    assert answer["messages"][0]["id"].startswith("wamid.")
    _, again = await setup.post_raw(text_payload())
    assert again["messages"][0]["id"] != answer["messages"][0]["id"]
    assert len(setup.wa.messages_to(ANA)) == 2


@pytest.mark.parametrize(
    ("payload", "details"),
    [
        (buttons_payload(["Uno", "Dos", "Tres", "Cuatro"]), "1-3 buttons"),
        (buttons_payload(["x" * 21]), "1-20"),
        (buttons_payload(["Sí", "Sí"]), "unique"),
        (list_payload(11), "1-10 rows"),
        (list_payload(2, title="y" * 25), "1-24"),
        (
            list_payload(
                1,
                sections=[
                    {"rows": [{"id": "a", "title": "A"}]},
                    {"rows": [{"id": "b", "title": "B"}]},
                ],
            ),
            "section title",
        ),
        (text_payload(body="a" * 4097), "1-4096"),
        (text_payload(body=""), "1-4096"),
        ({**text_payload(), "type": "image"}, "content keys"),
        (
            {
                "messaging_product": "whatsapp",
                "to": ANA,
                "type": "image",
                "image": {"link": "http://x.example/a.jpg"},
            },
            "https",
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": ANA,
                "type": "image",
                "image": {"link": "https://x.example/a.jpg", "caption": "c" * 1025},
            },
            "1024",
        ),
        (
            {
                "messaging_product": "whatsapp",
                "to": ANA,
                "type": "image",
                "image": {"link": "https://x.example/a.jpg", "id": "1"},
            },
            "exactly one",
        ),
        ({**text_payload(), "recipient": BSUID, "recipient_type": "individual"}, "exactly one"),
        (
            {k: v for k, v in text_payload().items() if k != "messaging_product"},
            "messaging_product",
        ),
        (
            {
                "messaging_product": "whatsapp",
                "message_id": "wamid.inbound-1",
                "typing_indicator": {"type": "text"},
            },
            "status 'read'",
        ),
        (
            {
                "messaging_product": "whatsapp",
                "status": "read",
                "message_id": "wamid.never-received",
            },
            "received",
        ),
    ],
)
async def test_the_fake_rejects_what_meta_rejects(
    setup: Setup, payload: dict, details: str
) -> None:
    status, answer = await setup.post_raw(payload)
    assert status == 400
    error = answer["error"]
    assert error["code"] in (100, 131008, 131009)
    assert details in error["error_data"]["details"]
    assert setup.graph.sent == []


async def test_the_fake_checks_the_token(setup: Setup) -> None:
    status, answer = await setup.post_raw(text_payload(), token=None)
    assert status >= 400 and answer["error"]["type"] == "OAuthException"
    assert answer["error"]["code"] in (190, 2500)
    status, answer = await setup.post_raw(text_payload(), token="expired")
    assert (status, answer["error"]["code"]) == (401, 190)
    assert setup.graph.sent == []


async def test_a_bsuid_in_to_is_accepted_and_never_delivered(setup: Setup) -> None:
    status, answer = await setup.post_raw(text_payload(to=BSUID))
    assert status == 200 and answer["messages"][0]["id"].startswith("wamid.")
    assert setup.graph.sent == []
    assert len(setup.wa.dropped) == 1


async def test_versioned_paths_and_known_numbers_only(setup: Setup) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with setup.http.post(
        f"{setup.graph.url}/{PHONE_ID}/messages", json=text_payload(), headers=headers
    ) as r:
        assert r.status == 400
    async with setup.http.post(
        f"{setup.graph.url}/{VERSION}/777/messages", json=text_payload(), headers=headers
    ) as r:
        assert r.status == 400 and (await r.json())["error"]["code"] == 100


# --- the channel renders within the limits ----------------------------------------------------


async def test_text_is_sent_and_its_wamid_returned(setup: Setup) -> None:
    wamid = await setup.channel.send(out("¡Hola! ¿Qué talla buscas? 👗"))
    (sent,) = setup.graph.sent
    assert sent.path == f"/{VERSION}/{PHONE_ID}/messages"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.json["to"] == ANA and "recipient" not in sent.json
    assert sent.json["text"] == {"body": "¡Hola! ¿Qué talla buscas? 👗", "preview_url": False}
    assert wamid == sent.response["messages"][0]["id"]


async def test_long_text_is_split_and_the_last_wamid_returned(setup: Setup) -> None:
    text = " ".join(f"Palabra{i} ñandú." for i in range(1000))  # ~17 000 characters
    wamid = await setup.channel.send(out(text))
    parts = [s.json["text"]["body"] for s in setup.graph.sent]
    assert len(parts) == 5 and all(len(p) <= 4096 for p in parts)
    assert " ".join(parts).split() == text.split()
    assert wamid == setup.graph.sent[-1].response["messages"][0]["id"]


async def test_buttons_with_long_and_colliding_titles_fit(setup: Setup) -> None:
    buttons = (
        Button("add:SKU-1", "Agregar al carrito ahora mismo"),
        Button("add:SKU-2", "Agregar al carrito ahora mismo, el rojo"),
        Button("skip", "No, gracias"),
    )
    await setup.channel.send(out("¿Lo agrego?", buttons=buttons, reply_to="wamid.inbound-1"))
    (sent,) = setup.graph.sent
    interactive = sent.json["interactive"]
    titles = [b["reply"]["title"] for b in interactive["action"]["buttons"]]
    assert [b["reply"]["id"] for b in interactive["action"]["buttons"]] == [
        "add:SKU-1",
        "add:SKU-2",
        "skip",
    ]
    assert all(len(t) <= 20 for t in titles) and len(set(titles)) == 3
    assert sent.json["context"] == {"message_id": "wamid.inbound-1"}


async def test_four_choices_become_a_list_and_twelve_numbered_text(setup: Setup) -> None:
    four = tuple(Button(f"c{i}", f"Opción {i}") for i in range(4))
    await setup.channel.send(out("Elige:", buttons=four))
    assert setup.graph.sent[-1].json["interactive"]["type"] == "list"
    rows = tuple(ListRow(f"r{i}", f"Producto {i}") for i in range(12))
    await setup.channel.send(out("Elige:", list_rows=rows))
    body = setup.graph.sent[-1].json
    assert body["type"] == "text"
    assert "1. Producto 0" in body["text"]["body"] and "12. Producto 11" in body["text"]["body"]


async def test_a_list_with_long_titles_descriptions_and_label_fits(setup: Setup) -> None:
    rows = tuple(
        ListRow(f"sku-{i}", f"Vestido largo de fiesta número {i}", "Descripción muy detallada " * 5)
        for i in range(10)
    )
    long_body = "Estos son los vestidos. " * 60  # ~1440 characters: over the 1024 body limit
    await setup.channel.send(out(long_body, list_rows=rows, list_button="Ver todos los vestidos"))
    *lead, last = setup.graph.sent
    assert [s.json["type"] for s in lead] == ["text"]
    interactive = last.json["interactive"]
    assert len(interactive["body"]["text"]) <= 1024
    assert len(interactive["action"]["button"]) <= 20
    section_rows = interactive["action"]["sections"][0]["rows"]
    assert len(section_rows) == 10
    assert all(len(r["title"]) <= 24 and len(r["description"]) <= 72 for r in section_rows)


async def test_list_rows_of_variants_show_what_differs(setup: Setup) -> None:
    rows = tuple(
        ListRow(f"product:{n}", f"Base de Maquillaje HD Tono {shade}", "$459.00")
        for n, shade in enumerate(("110 Porcelana", "120 Marfil", "130 Beige", "140 Arena"))
    )
    await setup.channel.send(out("¿Qué tono?", list_rows=rows))
    (sent,) = setup.graph.sent
    [section] = sent.json["interactive"]["action"]["sections"]
    assert [r["id"] for r in section["rows"]] == [r.id for r in rows]
    for shown, row, shade in zip(section["rows"], rows, ("110", "120", "130", "140"), strict=True):
        assert shade in shown["title"] and len(shown["title"]) <= 24
        # The title was shortened: the description has the whole name, then the price.
        assert shown["description"] == f"{row.title} · $459.00"
    assert len({r["title"] for r in section["rows"]}) == 4


async def test_buttons_differing_in_the_middle_stay_apart(setup: Setup) -> None:
    buttons = tuple(
        Button(f"product:{flavour.lower()}", f"Proteína Whey Isolate {flavour} 2 lb")
        for flavour in ("Chocolate", "Vainilla", "Fresa")
    )
    await setup.channel.send(out("¿Qué sabor?", buttons=buttons))
    (sent,) = setup.graph.sent
    shown = sent.json["interactive"]["action"]["buttons"]
    assert [b["reply"]["id"] for b in shown] == [b.id for b in buttons]
    assert [b["reply"]["title"] for b in shown] == [
        "…Chocolate 2 lb",
        "…Vainilla 2 lb",
        "Proteína… Fresa 2 lb",
    ]


async def test_images_by_link_with_caption_or_followed_by_text(setup: Setup) -> None:
    link = "https://cdn.example.com/p/sku123.jpg"
    await setup.channel.send(out("Vestido azul – $1,249.50", image_url=link))
    assert setup.graph.sent[-1].json["image"] == {
        "link": link,
        "caption": "Vestido azul – $1,249.50",
    }
    long = "Detalle. " * 200  # 1800 characters: too long for a caption
    await setup.channel.send(out(long, image_url=link))
    image, text = setup.graph.sent[-2:]
    assert image.json["image"] == {"link": link} and text.json["text"]["body"] == long.strip()
    with pytest.raises(ChannelError) as refused:
        await setup.channel.send(out("x", image_url="http://cdn.example.com/a.jpg"))
    assert not refused.value.retryable


async def test_bsuid_customers_get_recipient_never_to(setup: Setup) -> None:
    await setup.channel.send(out("Hola 👋", to=BSUID))
    await setup.channel.send(out("¿Algo más?", to="1234567", recipient_kind="user_id"))
    sent = [s.json for s in setup.graph.sent]
    assert sent[0]["recipient"] == BSUID and sent[0]["recipient_type"] == "individual"
    assert "to" not in sent[0]
    assert setup.wa.dropped == []
    # A digits-only id marked as a BSUID is addressed as one too (the fake then finds no
    # open window for it: accepted, not delivered, never in `to`).
    assert all("to" not in s.json for s in setup.wa.undelivered)


async def test_outside_the_window_is_accepted_then_fails_131047(setup: Setup) -> None:
    setup.wa.add_user(PHONE_ID, "5215500000000", last_inbound=time.time() - 25 * 3600)
    wamid = await setup.channel.send(out("¿Sigues ahí?", to="5215500000000"))
    assert wamid.startswith("wamid.") and setup.graph.sent == []
    delivery = setup.wa.take_statuses()
    (event,) = setup.channel.parse(json.dumps(delivery).encode())
    assert (event.kind, event.message_id, event.status) == (EventKind.STATUS, wamid, "failed")
    assert "24-hour" in (event.error or "")
    assert setup.wa.take_statuses() is None


async def test_nothing_to_send_and_bad_ids_are_refused_before_sending(setup: Setup) -> None:
    with pytest.raises(ChannelError):
        await setup.channel.send(out(""))
    with pytest.raises(ChannelError):
        await setup.channel.send(out("x", buttons=(Button("i" * 257, "Sí"),)))
    assert setup.graph.counters["requests"] == 0


# --- failures ----------------------------------------------------------------------------------


async def test_429_then_200_raises_retryable_then_delivers_once(setup: Setup) -> None:
    setup.graph.fail_next(1, status=429, code=130429)
    with pytest.raises(GraphError) as limited:
        await setup.channel.send(out("Hola"))
    assert limited.value.retryable and limited.value.graph_code == 130429
    await setup.channel.send(out("Hola"))
    assert len(setup.wa.messages_to(ANA)) == 1


async def test_5xx_and_timeouts_are_retryable_and_bad_requests_are_not(setup: Setup) -> None:
    setup.graph.fail_next(1, status=500, code=None)
    with pytest.raises(GraphError) as server:
        await setup.channel.send(out("Hola"))
    assert server.value.retryable
    setup.graph.hang_seconds = 2.0
    setup.channel.graph_timeout = 0.3
    setup.graph.fail_next(1, timeout=True)
    with pytest.raises(GraphError) as slow:
        await setup.channel.send(out("Hola"))
    assert slow.value.retryable and slow.value.code == "timeout"
    setup.channel.settings = setup.channel.settings.model_copy(
        update={"whatsapp_access_token": "old"}
    )
    with pytest.raises(GraphError) as denied:
        await setup.channel.send(out("Hola"))
    assert not denied.value.retryable and denied.value.graph_code == 190
    assert setup.graph.sent == []


# --- read receipts and media --------------------------------------------------------------------


def inbound_event(message_id: str, kind: EventKind = EventKind.MESSAGE) -> InboundEvent:
    return InboundEvent(
        channel="whatsapp",
        kind=kind,
        message_id=message_id,
        customer_id=ANA,
        timestamp=datetime.now(UTC),
        business_id=PHONE_ID,
    )


async def test_mark_read_shows_the_typing_indicator(setup: Setup) -> None:
    await setup.channel.mark_read(inbound_event("wamid.inbound-1"))
    (receipt,) = setup.wa.read_receipts
    assert receipt.json == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.inbound-1",
        "typing_indicator": {"type": "text"},
    }
    assert receipt.response == {"success": True}
    await setup.channel.mark_read(inbound_event("wamid.out", EventKind.STATUS))
    assert len(setup.wa.read_receipts) == 1
    with pytest.raises(GraphError):
        await setup.channel.mark_read(inbound_event("wamid.unknown"))


async def test_download_media_with_the_token(setup: Setup) -> None:
    media_id = setup.wa.add_media(JPEG, "image/jpeg")
    content, mime = await setup.channel.download_media(Attachment(kind="image", media_id=media_id))
    assert (content, mime) == (JPEG, "image/jpeg")
    pdf_id = setup.wa.add_media(b"%PDF-1.7 recibo", "application/pdf")
    assert (await setup.channel.download_media(Attachment(kind="file", media_id=pdf_id)))[
        1
    ] == "application/pdf"


async def test_the_media_url_needs_the_bearer_token(setup: Setup) -> None:
    media_id = setup.wa.add_media(JPEG, "image/jpeg")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with setup.http.get(f"{setup.graph.url}/{VERSION}/{media_id}") as r:
        assert r.status >= 400  # the lookup needs the token too
    async with setup.http.get(f"{setup.graph.url}/{VERSION}/{media_id}", headers=headers) as r:
        info = await r.json()
    assert set(info) == {"messaging_product", "url", "mime_type", "sha256", "file_size", "id"}
    assert info["file_size"] == str(len(JPEG))
    async with setup.http.get(info["url"]) as r:
        assert r.status == 401
    async with setup.http.get(info["url"], headers=headers) as r:
        assert r.status == 200 and await r.read() == JPEG


async def test_media_over_the_cap_of_a_wrong_type_or_corrupt_is_refused(setup: Setup) -> None:
    setup.channel.max_media_bytes = 100
    big = setup.wa.add_media(JPEG, "image/jpeg")
    with pytest.raises(GraphError, match="bytes"):
        await setup.channel.download_media(Attachment(kind="image", media_id=big))
    setup.channel.max_media_bytes = 10_000
    voice = setup.wa.add_media(b"OggS voice", "audio/ogg")
    with pytest.raises(GraphError, match="not accepted"):
        await setup.channel.download_media(Attachment(kind="audio", media_id=voice))
    corrupt = setup.wa.add_media(JPEG, "image/jpeg", sha256="0" * 64)
    with pytest.raises(GraphError, match="sha256"):
        await setup.channel.download_media(Attachment(kind="image", media_id=corrupt))
    old = setup.wa.add_media(JPEG, "image/jpeg", created_at=time.time() - 8 * 86400)
    with pytest.raises(GraphError):
        await setup.channel.download_media(Attachment(kind="image", media_id=old))


async def test_templates_go_outside_the_window_and_the_allow_list_applies(setup: Setup) -> None:
    setup.wa.add_template("order_ready", "es_MX", parameters=1)
    stranger = "5215599999999"  # never wrote: no window open
    template = {
        "messaging_product": "whatsapp",
        "to": stranger,
        "type": "template",
        "template": {
            "name": "order_ready",
            "language": {"code": "es_MX"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "#1042"}]}],
        },
    }
    status, _ = await setup.post_raw(template)
    assert status == 200 and len(setup.wa.messages_to(stranger)) == 1
    wrong_count = {**template, "template": {**template["template"], "components": []}}
    assert (await setup.post_raw(wrong_count))[1]["error"]["code"] == 132000
    unknown = {**template, "template": {"name": "nope", "language": {"code": "es_MX"}}}
    assert (await setup.post_raw(unknown))[1]["error"]["code"] == 132001
    setup.wa.allow_list = {ANA}
    status, answer = await setup.post_raw(text_payload(to=stranger))
    assert (status, answer["error"]["code"]) == (400, 131030)


async def test_media_urls_expire(setup: Setup) -> None:
    media_id = setup.wa.add_media(JPEG, "image/jpeg")
    setup.wa.media_url_ttl = -1  # every URL is already older than its lifetime
    with pytest.raises(GraphError):
        await setup.channel.download_media(Attachment(kind="image", media_id=media_id))
