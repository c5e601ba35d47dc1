"""The Meta plumbing every channel shares: handshake, signatures, Graph errors, the client."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from tendero.channels.meta import (
    GraphClient,
    GraphError,
    check_signature,
    parse_graph_error,
    sign,
    verify_handshake,
)

from tests.fakes.graph import FakeGraph
from tests.fakes.webhooks import encode, signature_headers

SECRET = "0123456789abcdef0123456789abcdef"
PAGE, TOKEN, USER = "1100220033", "page-token-1", "2900110022"


# --- handshake -------------------------------------------------------------------------


def handshake(mode: str, token: str, challenge: str = "1158201444") -> dict[str, str]:
    return {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}


def test_handshake_with_the_right_token_echoes_the_challenge_exactly() -> None:
    response = verify_handshake(handshake("subscribe", "s3cret"), "s3cret")
    assert response.status == 200
    assert response.body == b"1158201444"
    assert response.content_type == "text/plain"


@pytest.mark.parametrize(
    ("query", "configured"),
    [
        (handshake("subscribe", "wrong"), "s3cret"),
        (handshake("unsubscribe", "s3cret"), "s3cret"),
        ({"hub.verify_token": "s3cret", "hub.challenge": "1"}, "s3cret"),
        (handshake("subscribe", ""), ""),  # an unset token never matches
    ],
)
def test_handshake_refuses_wrong_token_mode_or_unset_token(
    query: dict[str, str], configured: str
) -> None:
    assert verify_handshake(query, configured).status == 403


# --- signatures ------------------------------------------------------------------------

BODY = encode({"object": "page", "entry": [{"text": "Olá! Quanto custa? 😍 ñandú"}]})


def test_meta_bytes_are_escaped_unicode() -> None:
    assert b"\\u00e1" in BODY and b"\\ud83d\\ude0d" in BODY
    assert BODY.isascii()


def test_good_signature_over_the_raw_bytes() -> None:
    header = signature_headers(BODY, SECRET)["X-Hub-Signature-256"]
    assert header == sign(BODY, SECRET)
    assert check_signature(BODY, header, [SECRET])
    assert check_signature(BODY, header.upper().replace("SHA256=", "sha256="), [SECRET])


def test_signature_of_reserialised_json_fails_with_emoji() -> None:
    reserialised = json.dumps(json.loads(BODY), ensure_ascii=False).encode()
    assert not check_signature(BODY, sign(reserialised, SECRET), [SECRET])


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=zz",
        "md5=" + "0" * 64,
        sign(BODY, "wrong-secret"),
        "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest(),
        hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest(),  # no prefix
    ],
)
def test_bad_missing_sha1_only_or_wrong_secret_signatures_fail(header: str | None) -> None:
    assert not check_signature(BODY, header, [SECRET])


def test_tampered_body_fails() -> None:
    assert not check_signature(BODY.replace(b"Quanto", b"Quantx"), sign(BODY, SECRET), [SECRET])


def test_rotation_accepts_either_secret_and_ignores_empty_ones() -> None:
    old, new = "old-secret", "new-secret"
    assert check_signature(BODY, sign(BODY, old), [new, old])
    assert check_signature(BODY, sign(BODY, new), [new, old])
    assert not check_signature(BODY, sign(BODY, ""), ["", new])
    assert not check_signature(BODY, sign(BODY, old), [])


# --- Graph errors ----------------------------------------------------------------------


def envelope(code: int, subcode: int | None = None, **extra: object) -> bytes:
    error: dict[str, object] = {"message": "m", "type": "OAuthException", "code": code}
    if subcode:
        error["error_subcode"] = subcode
    error.update(extra)
    return json.dumps({"error": error}).encode()


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (400, envelope(4), True),
        (400, envelope(613), True),
        (400, envelope(2), True),
        (400, envelope(1), True),
        (400, envelope(80007), True),
        (400, envelope(130429), True),
        (400, envelope(131056), True),
        (500, envelope(131000), True),
        (400, envelope(190), False),
        (400, envelope(100, 2018001), False),
        (400, envelope(10, 2018278), False),
        (400, envelope(551, 1545041), False),
        (400, envelope(131047), False),
        (429, b"", True),
        (502, b"<html>Bad gateway</html>", True),
        (503, envelope(100), True),  # a 5xx is retried whatever the code
        (403, b"not json", False),
    ],
)
def test_parse_graph_error_classifies_retryable(status: int, body: bytes, retryable: bool) -> None:
    error = parse_graph_error(status, body)
    assert isinstance(error, GraphError)
    assert error.retryable is retryable
    assert error.status == status


def test_parse_graph_error_keeps_meta_fields() -> None:
    body = envelope(10, 2018278, fbtrace_id="AbC", error_data={"details": "window"})
    error = parse_graph_error(400, body)
    assert (error.graph_code, error.error_subcode, error.error_type) == (
        10,
        2018278,
        "OAuthException",
    )
    assert error.fbtrace_id == "AbC" and error.details == "window"
    assert error.code == "10/2018278"
    assert error.outside_window and not error.token_invalid
    assert parse_graph_error(400, json.loads(envelope(190))).token_invalid


# --- the client against the fake ----------------------------------------------------------


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with FakeGraph(hang_seconds=5) as fake:
        fake.add_account(PAGE, TOKEN)
        fake.add_user(PAGE, USER)
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def text_body(text: str = "Hola 👋") -> dict[str, object]:
    return {"recipient": {"id": USER}, "messaging_type": "RESPONSE", "message": {"text": text}}


async def test_client_sends_with_bearer_to_the_versioned_path(
    graph: FakeGraph, http: aiohttp.ClientSession
) -> None:
    client = GraphClient(http, graph.url + "/", "v25.0")
    answer = await client.request("POST", f"/{PAGE}/messages", token=TOKEN, json=text_body())
    assert answer["recipient_id"] == USER and answer["message_id"].startswith("m_")
    [sent] = graph.sent
    assert sent.path == f"/v25.0/{PAGE}/messages"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.json["message"]["text"] == "Hola 👋"


async def test_client_wrong_token_is_a_non_retryable_190(
    graph: FakeGraph, http: aiohttp.ClientSession
) -> None:
    client = GraphClient(http, graph.url, "v25.0")
    with pytest.raises(GraphError) as caught:
        await client.request("POST", f"/{PAGE}/messages", token="stolen", json=text_body())
    assert caught.value.graph_code == 190 and caught.value.error_type == "OAuthException"
    assert not caught.value.retryable
    assert graph.sent == []


async def test_client_429_is_retryable_then_the_retry_is_accepted(
    graph: FakeGraph, http: aiohttp.ClientSession
) -> None:
    client = GraphClient(http, graph.url, "v25.0")
    graph.fail_next(1, status=429, code=4)
    with pytest.raises(GraphError) as caught:
        await client.request("POST", f"/{PAGE}/messages", token=TOKEN, json=text_body())
    assert caught.value.retryable and caught.value.graph_code == 4
    await client.request("POST", f"/{PAGE}/messages", token=TOKEN, json=text_body())
    assert len(graph.sent) == 1
    assert graph.counters["injected_failures"] == 1


async def test_client_bare_5xx_is_retryable(graph: FakeGraph, http: aiohttp.ClientSession) -> None:
    graph.fail_next(status=502, code=None)
    with pytest.raises(GraphError) as caught:
        await GraphClient(http, graph.url, "v25.0").request(
            "POST", f"/{PAGE}/messages", token=TOKEN, json=text_body()
        )
    assert caught.value.retryable and caught.value.status == 502


async def test_client_timeout_is_retryable(graph: FakeGraph, http: aiohttp.ClientSession) -> None:
    graph.fail_next(timeout=True)
    with pytest.raises(GraphError) as caught:
        await GraphClient(http, graph.url, "v25.0").request(
            "POST", f"/{PAGE}/messages", token=TOKEN, json=text_body(), timeout=0.3
        )
    assert caught.value.retryable and caught.value.code == "timeout"
    assert graph.sent == []


async def test_client_network_failure_is_retryable(http: aiohttp.ClientSession) -> None:
    client = GraphClient(http, "http://127.0.0.1:9", "v25.0")
    with pytest.raises(GraphError) as caught:
        await client.request("POST", "/me/messages", token=TOKEN, json=text_body())
    assert caught.value.retryable and caught.value.code == "network"


# --- the fake refuses what Meta refuses ---------------------------------------------------


async def test_fake_refuses_unversioned_paths_and_unknown_ids(
    graph: FakeGraph, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"{graph.url}/{PAGE}/messages",
        json=text_body(),
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as response:
        assert response.status == 400
    client = GraphClient(http, graph.url, "v25.0")
    with pytest.raises(GraphError) as caught:
        await client.request("POST", "/999/messages", token=TOKEN, json=text_body())
    assert caught.value.graph_code == 100
    assert graph.sent == []


async def test_fake_accepts_the_access_token_query_on_me(
    graph: FakeGraph, http: aiohttp.ClientSession
) -> None:
    url = f"{graph.url}/v25.0/me/messages"
    async with http.post(url, json=text_body(), params={"access_token": TOKEN}) as response:
        assert response.status == 200
    async with http.post(url, json=text_body(), params={"access_token": "nope"}) as response:
        assert response.status >= 400
        assert (await response.json())["error"]["code"] == 190


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"recipient": {"id": USER}, "message": {"text": "x"}}, 100),  # no messaging_type
        ({**text_body(), "tag": "HUMAN_AGENT"}, 100),  # tag without MESSAGE_TAG
        ({**text_body(), "sender_action": "typing_on"}, 100),
        ({**text_body(), "message": {"text": "x", "attachment": {}}}, 100),
        ({**text_body(), "recipient": {"id": "someone-else"}}, 100),
        (text_body("x" * 2001), 100),
    ],
)
async def test_fake_validates_send_bodies(
    graph: FakeGraph, http: aiohttp.ClientSession, body: dict[str, object], code: int
) -> None:
    with pytest.raises(GraphError) as caught:
        await GraphClient(http, graph.url, "v25.0").request(
            "POST", f"/{PAGE}/messages", token=TOKEN, json=body
        )
    assert caught.value.graph_code == code
    assert graph.sent == []


async def test_download_caps_size_and_type(graph: FakeGraph, http: aiohttp.ClientSession) -> None:
    client = GraphClient(http, graph.url, "v25.0")
    url = graph.add_media(b"\x89PNG" + b"0" * 100, "image/png")
    content, content_type = await client.download(url, allowed_types=["image/"])
    assert content.startswith(b"\x89PNG") and content_type == "image/png"
    with pytest.raises(GraphError, match="larger"):
        await client.download(url, max_bytes=50)
    with pytest.raises(GraphError, match="type"):
        await client.download(url, allowed_types=["application/pdf"])
    with pytest.raises(GraphError) as caught:
        await client.download(graph.url + "/cdn/expired")
    assert not caught.value.retryable
