"""Plain regression tests for the bugs the fuzz tests found (each failed before its fix).

Webhook ones run the real app over a socket, on SQLite and PostgreSQL (PostgreSQL is
where most of them answered 500: it refuses NUL characters, lone surrogates, NaN in
``jsonb`` and over-long values that SQLite stores without a word).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from tendero.catalog import Catalog
from tendero.catalog.importer import parse_table
from tendero.channels.base import Attachment, EventKind
from tendero.channels.storable import storable_event
from tendero.db import Database
from tendero.db.models import InboxEvent, Lead, Message
from tendero.settings import Settings

from tests.channels.e2e import Channel, meta_channel, until
from tests.fakes import graph_whatsapp as wa
from tests.fakes import webhooks as wh
from tests.fuzz.test_catalog_import_fuzz import NUL_IN_A_CELL
from tests.fuzz.test_channel_parse import make_channel
from tests.web.api.conftest import Api


@pytest.fixture(params=["whatsapp", "facebook"])
async def channel(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Channel]:
    async with meta_channel(request.param, settings) as meta:
        yield meta


def text_with_id(channel: Channel, customer: str, text: str, message_id: str) -> dict:
    event = channel.text(customer, text)
    if channel.whatsapp is not None:
        event["id"] = message_id
        channel.whatsapp.inbound(channel.account, customer, message_id)
    else:
        event["message"]["mid"] = message_id
    return event


# --- the ingress: what PostgreSQL refuses is made storable, not answered 500 -----------------


async def test_nul_and_lone_surrogates_in_a_message_are_stored_and_answered(
    channel: Channel,
) -> None:
    ana = channel.customer(1)
    event = channel.text(ana, "Hola\u0000 quiero \ud83d un vestido")
    async with channel.running() as live:
        status, _ = await live.emitter.send(channel.delivery([event]))
        assert status == 200
        await until(lambda: channel.replies_to(ana), what="the reply")
        [stored] = await live.rows(Message, Message.direction == "in")
    assert stored.text == "Hola quiero \ufffd un vestido"


async def test_a_message_id_longer_than_its_column_is_kept_under_a_digest(
    channel: Channel,
) -> None:
    ana = channel.customer(1)
    long_id = "m_" + "x" * 500
    payload = channel.delivery([text_with_id(channel, ana, "Hola 👋", long_id)])
    async with channel.running() as live:
        assert (await live.emitter.send(payload))[0] == 200
        assert (await live.emitter.send(payload))[0] == 200  # Meta's redelivery
        await until(lambda: channel.replies_to(ana), what="the reply")
        await until(live.settled, what="settled")
        [row] = await live.rows(InboxEvent)
    assert row.platform_message_id.startswith("sha256:") and len(row.platform_message_id) < 300
    assert len(channel.replies_to(ana)) == 1  # the redelivery was a no-op


async def test_a_customer_id_longer_than_its_column_is_dropped_and_the_rest_kept(
    channel: Channel,
) -> None:
    ana = channel.customer(1)
    odd = "9" * 250
    if channel.whatsapp is not None:
        odd_event = wa.text_message(odd, "Hola")
    else:
        odd_event = wh.text_event(odd, channel.account, "Hola")
    payload = channel.delivery([odd_event, channel.text(ana, "Hola, ¿precio?")])
    async with channel.running() as live:
        assert (await live.emitter.send(payload))[0] == 200
        await until(lambda: channel.replies_to(ana), what="the reply to the valid customer")
        leads = await live.rows(Lead)
    assert [lead.platform_id for lead in leads] == [ana]


async def test_a_long_name_phone_and_status_do_not_fail_the_delivery(
    channel: Channel, settings: Settings
) -> None:
    ana = channel.customer(1)
    async with channel.running() as live:
        if channel.whatsapp is not None:
            assert channel.number is not None
            message = channel.text(ana, "Hola")
            payload = wa.delivery(
                wa.change(
                    channel.number,
                    messages=[message],
                    contacts=[{"profile": {"name": "Ana " * 200}, "wa_id": ana}],
                ),
                wa.change(
                    channel.number,
                    statuses=[wa.status_item("wamid.unknown", ana, "delivered" * 10)],
                ),
            )
        else:
            attachment = wh.attachment_event(ana, channel.account, None, kind="k" * 100)
            payload = channel.delivery([attachment, channel.text(ana, "Hola")])
        assert (await live.emitter.send(payload))[0] == 200
        await until(lambda: channel.replies_to(ana), what="the reply")
        [lead] = await live.rows(Lead)
    assert len(lead.name) <= 300


async def test_nan_in_a_whatsapp_body_is_stored_as_null(settings: Settings) -> None:
    async with meta_channel("whatsapp", settings) as channel:
        ana = channel.customer(1)
        message = channel.text(ana, "Hola")
        body = wh.encode(channel.delivery([message])).replace(
            b'"type":"text"', b'"type":"text","extra":NaN', 1
        )
        async with channel.running() as live:
            status, _ = await live.emitter.post_bytes(
                body, wh.signature_headers(body, channel.secret)
            )
            assert status == 200
            await until(lambda: channel.replies_to(ana), what="the reply")
            [row] = await live.rows(InboxEvent)
    assert row.payload["raw"]["message"]["extra"] is None


# --- the parsers: never an exception -----------------------------------------------------------


def test_whatsapp_parse_of_a_body_nested_too_deep_gives_nothing() -> None:
    deep = b'{"object":"whatsapp_business_account","entry":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert make_channel("whatsapp").parse(deep) == []


@pytest.mark.parametrize("entry", [4, 4.5, True, "abc", {"id": "1"}])
def test_messenger_parse_of_an_entry_that_is_not_a_list_gives_nothing(entry: object) -> None:
    body = json.dumps({"object": "page", "entry": entry}).encode()
    assert make_channel("facebook").parse(body) == []


@pytest.mark.parametrize("timestamp", [486227883995360, 1e300, "nan", "inf", -1e20])
def test_messenger_message_with_an_impossible_timestamp_is_kept(timestamp: object) -> None:
    item = wh.text_event("7001", "1045", "Hola", mid="m_1")
    item["timestamp"] = timestamp
    [event] = make_channel("facebook").parse(
        wh.encode(wh.delivery("page", wh.entry("1045", [item])))
    )
    assert (event.kind, event.message_id, event.text) == (EventKind.MESSAGE, "m_1", "Hola")


def test_messenger_watermark_out_of_range_is_no_watermark() -> None:
    item = wh.read_receipt("7001", "1045", watermark=10**30)
    [event] = make_channel("facebook").parse(
        wh.encode(wh.delivery("page", wh.entry("1045", [item])))
    )
    assert event.kind == EventKind.STATUS and event.watermark is None


# --- the catalog importer ---------------------------------------------------------------------


async def test_a_nul_in_a_spreadsheet_cell_is_dropped_not_a_database_error(db: Database) -> None:
    report = await Catalog(db).import_file(NUL_IN_A_CELL, filename="catalog.xlsx")
    assert report.applied and report.created == 1
    [product] = (await Catalog(db).list_products()).items
    assert (product.name, product.attributes) == ("Gorra azul", {"talla": "M"})


def test_a_stock_of_thousands_of_digits_is_a_row_error() -> None:
    parsed = parse_table([["name", "price", "stock"], ["Playera", "10", "1" * 5000]])
    [error] = parsed.errors
    assert error.line == 2 and "too large" in error.reason


# --- the JSON API: bad input gets a 4xx, never a database error ----------------------------


async def test_an_order_number_past_64_bits_is_not_found(api: Api) -> None:
    answer = await api.get("/api/v1/orders/42436973865170553012224")
    assert answer.status == 404 and answer.json["error"]["code"] == "not_found"
    answer = await api.post("/api/v1/orders/42436973865170553012224/status", {"status": "new"})
    assert answer.status == 404


async def test_a_nul_in_a_query_parameter_is_a_400(api: Api) -> None:
    answer = await api.get("/api/v1/orders", params={"channel": "whats\x00app"})
    assert answer.status == 400
    assert answer.json["error"]["details"][0]["field"] == "channel"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"sku": "A-1", "name": "Gorra \\u0000azul", "price": "10"}', "name"),
        (b'{"sku": "A-1", "name": "Gorra \\ud800", "price": "10"}', "name"),
        (b'{"sku": "A-1", "name": "Gorra", "price": "10", "attributes": {"t\\u0000": "M"}}', None),
        (b'{"sku": "A-1", "name": "Gorra", "price": NaN}', None),
    ],
)
async def test_unstorable_text_or_nan_in_a_json_body_is_a_400(
    api: Api, body: bytes, field: str | None
) -> None:
    answer = await api.request(
        "POST", "/api/v1/products", data=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400, answer.body
    if field is not None:
        assert answer.json["error"]["details"][0]["field"] == field


# --- fitting events to the inbox -------------------------------------------------------------


def test_an_event_that_fits_is_passed_through_untouched() -> None:
    [event] = make_channel("facebook").parse(
        wh.encode(wh.delivery("page", wh.entry("1045", [wh.text_event("7001", "1045", "Hola 👗")])))
    )
    assert storable_event(event) is event


def test_raw_too_deep_or_not_finite_is_made_storable() -> None:
    [event] = make_channel("facebook").parse(
        wh.encode(wh.delivery("page", wh.entry("1045", [wh.text_event("7001", "1045", "Hola")])))
    )
    deep: list = []
    node = deep
    for _ in range(5000):
        node.append([])
        node = node[0]
    odd = replace(
        event,
        raw={"deep": deep, "nan": float("nan"), "k\x00": "v\ud800"},
        attachments=(Attachment(kind="location", latitude=float("inf"), longitude=1.0),),
    )
    fitted = storable_event(odd)
    assert fitted is not None and fitted is not odd
    stored = json.loads(json.dumps(fitted.to_json(), allow_nan=False))
    assert stored["raw"]["nan"] is None and stored["raw"]["k"] == "v\ufffd"
    assert stored["attachments"][0]["latitude"] is None
    assert fitted.text == "Hola" and fitted.message_id == event.message_id
