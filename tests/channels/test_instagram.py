"""The Instagram channel (Instagram API with Instagram Login): its own app secret, sends
to the Instagram Graph host with the Instagram token as Bearer, text under 1000 bytes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from tendero.channels import Button, ChannelError, EventKind, OutboundMessage
from tendero.channels.meta import GraphClient, GraphError
from tendero.settings import Settings
from tendero_instagram.channel import InstagramChannel

from tests.fakes import webhooks as wh
from tests.fakes.graph import FakeGraph

IG, TOKEN, APP_ID = "17841400000000001", "IGAAT-user-token", "7700880099"
SECRET, FB_SECRET, VERIFY = "ig-app-secret", "fb-app-secret", "vt-ig"
CARLA = "1234567890123456"


def settings(
    ig_url: str = "https://graph.instagram.com", fb_url: str = "https://graph.facebook.com"
) -> Settings:
    return Settings(
        instagram_app_secret=SECRET,
        instagram_verify_token=VERIFY,
        instagram_access_token=TOKEN,
        instagram_account_id=IG,
        instagram_app_id=APP_ID,
        facebook_app_secret=FB_SECRET,
        instagram_graph_api_url=ig_url,
        graph_api_url=fb_url,
    )


@pytest.fixture
async def graphs() -> AsyncIterator[tuple[FakeGraph, FakeGraph]]:
    async with FakeGraph("instagram") as ig, FakeGraph("facebook") as fb:
        ig.add_account(IG, TOKEN)
        ig.add_user(IG, CARLA)
        yield ig, fb


@pytest.fixture
async def channel(graphs: tuple[FakeGraph, FakeGraph]) -> AsyncIterator[InstagramChannel]:
    ig, fb = graphs
    async with aiohttp.ClientSession() as http:
        adapter = InstagramChannel(settings(ig.url, fb.url))
        adapter.attach(http)
        yield adapter


def parse(payload: object) -> list:
    return InstagramChannel(settings()).parse(wh.encode(payload))


def out(text: str = "", **extra: object) -> OutboundMessage:
    return OutboundMessage(channel="instagram", recipient_id=CARLA, text=text, **extra)  # type: ignore[arg-type]


def test_limits_count_bytes() -> None:
    limits = InstagramChannel.limits
    assert limits.text_length_unit == "bytes" and limits.max_text_length == 999
    assert limits.max_buttons == 13


def test_webhooks_are_signed_with_the_instagram_app_secret() -> None:
    adapter = InstagramChannel(settings())
    body = wh.encode(
        wh.delivery("instagram", wh.entry(IG, [wh.text_event(CARLA, IG, "quanto custa? 😍")]))
    )
    assert adapter.authenticate(wh.signature_headers(body, SECRET), body)
    assert not adapter.authenticate(wh.signature_headers(body, FB_SECRET), body)
    assert not adapter.authenticate(wh.signature_headers(body, SECRET, "sha1"), body)


def test_batched_instagram_delivery() -> None:
    events = parse(
        wh.delivery(
            "instagram",
            wh.entry(
                IG,
                [
                    wh.text_event(CARLA, IG, "oi", mid="aW1"),
                    wh.text_event(CARLA, IG, "M", quick_reply="SIZE:M", mid="aW2"),
                ],
            ),
            wh.entry(
                IG,
                [
                    wh.postback_event(CARLA, IG, "BUY:1", mid="aW3"),
                    wh.attachment_event(
                        CARLA,
                        IG,
                        "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1",
                        mid="aW4",
                    ),
                    wh.read_receipt(CARLA, IG, mid="aWout"),
                    wh.echo_event(IG, CARLA, "nossa resposta", app_id=APP_ID, mid="aW5"),
                    wh.echo_event(
                        IG, CARLA, "resposta de uma pessoa", app_id="1217981644879628", mid="aW6"
                    ),
                ],
            ),
        )
    )
    assert [(e.kind, e.message_id) for e in events] == [
        (EventKind.MESSAGE, "aW1"),
        (EventKind.BUTTON, "aW2"),
        (EventKind.BUTTON, "aW3"),
        (EventKind.MESSAGE, "aW4"),
        (EventKind.STATUS, "aWout"),
        (EventKind.ECHO, "aW5"),
        (EventKind.ECHO, "aW6"),
    ]
    assert events[1].payload == "SIZE:M" and events[4].status == "read"
    assert [e.echo_from_app for e in events[5:]] == [True, False]
    assert {e.channel for e in events} == {"instagram"} and {e.customer_id for e in events} == {
        CARLA
    }


def test_dashboard_test_shape_and_other_objects_do_not_crash() -> None:
    assert parse(wh.instagram_dashboard_test()) == []
    assert parse(wh.delivery("page", wh.entry(IG, [wh.text_event(CARLA, IG, "x")]))) == []


async def test_send_goes_to_the_instagram_host_with_bearer(
    channel: InstagramChannel, graphs: tuple[FakeGraph, FakeGraph]
) -> None:
    ig, fb = graphs
    message_id = await channel.send(out("Olá! Temos sim 😊", buttons=(Button("SIZE:M", "M"),)))
    [sent] = ig.sent
    assert fb.sent == [] and fb.counters["requests"] == 0
    assert sent.path == f"/v25.0/{IG}/messages"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.json["messaging_type"] == "RESPONSE"
    assert sent.json["message"]["quick_replies"] == [
        {"content_type": "text", "title": "M", "payload": "SIZE:M"}
    ]
    assert message_id == sent.response["message_id"]


async def test_long_accented_text_is_split_under_1000_bytes(
    channel: InstagramChannel, graphs: tuple[FakeGraph, FakeGraph]
) -> None:
    ig, _ = graphs
    text = " ".join(f"Ação número {n}: três cores, ótimo preço! 😍" for n in range(40))
    assert len(text) < 2000 and len(text.encode()) > 2000
    await channel.send(out(text))
    parts = [s.json["message"]["text"] for s in ig.sent]
    assert len(parts) >= 3
    assert all(len(p.encode()) < 1000 for p in parts)
    assert " ".join(parts) == text


async def test_the_fake_counts_instagram_text_in_bytes(graphs: tuple[FakeGraph, FakeGraph]) -> None:
    ig, _ = graphs

    def body(text: str) -> dict[str, object]:
        return {"recipient": {"id": CARLA}, "messaging_type": "RESPONSE", "message": {"text": text}}

    async with aiohttp.ClientSession() as http:
        client = GraphClient(http, ig.url, "v25.0")
        with pytest.raises(GraphError) as caught:
            await client.request(
                "POST", f"/{IG}/messages", token=TOKEN, json=body("é" * 500)
            )  # 1000 bytes
        assert caught.value.graph_code == 100
        with pytest.raises(GraphError):  # quick replies are text-only on Instagram
            await client.request(
                "POST",
                f"/{IG}/messages",
                token=TOKEN,
                json={
                    **body("x"),
                    "message": {"text": "x", "quick_replies": [{"content_type": "user_email"}]},
                },
            )
        await client.request(
            "POST", "/me/messages", token=TOKEN, json=body("é" * 499 + "x")
        )  # 999 bytes
    assert len(ig.sent) == 1


async def test_an_instagram_token_is_refused_by_the_facebook_host(
    graphs: tuple[FakeGraph, FakeGraph],
) -> None:
    _, fb = graphs
    fb.add_account("PAGE1", "EAAG-page")
    async with aiohttp.ClientSession() as http:
        adapter = InstagramChannel(settings(fb.url, fb.url))  # misconfigured: the Facebook host
        adapter.attach(http)
        with pytest.raises(GraphError) as caught:
            await adapter.send(out("oi"))
    assert caught.value.graph_code == 100 and fb.sent == []


async def test_outside_the_window_only_human_agent(
    channel: InstagramChannel, graphs: tuple[FakeGraph, FakeGraph]
) -> None:
    ig, _ = graphs
    ig.add_user(IG, CARLA, last_message_ms=int(time.time() * 1000) - 25 * 3600 * 1000)
    with pytest.raises(ChannelError) as caught:
        await channel.send(out("Oi de novo"))
    assert not caught.value.retryable and caught.value.code == "10/2018278"
    with pytest.raises(ChannelError):
        await channel.send(out("Seu pedido saiu", tag="POST_PURCHASE_UPDATE"))
    await channel.send(out("Aqui é a Ana, da loja.", tag="HUMAN_AGENT"))
    assert len(ig.sent) == 1


async def test_server_error_then_timeout_are_retryable(
    channel: InstagramChannel, graphs: tuple[FakeGraph, FakeGraph]
) -> None:
    ig, _ = graphs
    ig.fail_next(status=500, code=2)
    with pytest.raises(ChannelError) as caught:
        await channel.send(out("oi"))
    assert caught.value.retryable
    await channel.send(out("oi"))
    assert len(ig.sent) == 1


# --- end to end: Meta → /webhooks/instagram → pipeline → graph.instagram.com ---------------


async def test_end_to_end_reply_goes_to_the_instagram_host(
    graphs: tuple[FakeGraph, FakeGraph], sqlite_url: str, tmp_path
) -> None:
    from tendero.app import create_app
    from tendero.conversations.turns import AcknowledgementRunner
    from tendero.plugins import create_plugin_manager

    ig, fb = graphs
    app_settings = settings(ig.url, fb.url).model_copy(
        update={"data_dir": tmp_path / "data", "database_url": sqlite_url}
    )
    fast = {"poll_interval": 0.1}
    app = create_app(
        app_settings,
        plugin_manager=create_plugin_manager(allow=["core", "instagram"]),
        turn_runner=AcknowledgementRunner(),
        pipeline_options={"dispatcher_options": fast, "sender_options": fast},
    )
    async with wh.serve(app) as base:
        url = f"{base}/webhooks/instagram"
        async with wh.MetaWebhookEmitter(url, SECRET) as meta:
            assert wh.handshake_passed(await meta.handshake(VERIFY, "31337"), "31337")
            payload = wh.delivery(
                "instagram",
                wh.entry(
                    IG, [wh.text_event(CARLA, IG, "Oi! Quanto custa a bolsa? 😍", mid="aWdf_e2e")]
                ),
            )
            # Signed with the Meta app secret instead of the Instagram one: refused.
            assert (await meta.send(payload, secret=FB_SECRET))[0] in (401, 403)
            assert (await meta.send_sha1_only(payload))[0] in (401, 403)
            assert (await meta.send(payload))[0] == 200
            assert (await meta.send(payload))[0] == 200
            assert (await meta.send(wh.instagram_dashboard_test()))[0] == 200

            def replies() -> list:
                return [s for s in ig.sent if "message" in s.json]

            await wh.wait_for(lambda: len(replies()) >= 1)
            await asyncio.sleep(0.3)
            [reply] = replies()
            assert reply.path == f"/v25.0/{IG}/messages"
            assert reply.headers["Authorization"] == f"Bearer {TOKEN}"
            assert (
                reply.recipient_id == CARLA and len(reply.json["message"]["text"].encode()) < 1000
            )
            assert fb.counters["requests"] == 0
