"""Plays Meta calling our webhooks (meta-platforms.md §6.1).

:class:`MetaWebhookEmitter` signs the **exact bytes** it sends, serialised the way Meta
does (``ensure_ascii`` JSON: accents and emoji travel as ``\\uXXXX``), so a handler that
re-serialises before hashing fails. It also sends the bad cases (tampered body, missing
header, sha1 only, wrong secret) and the GET verify handshake.

The builders below compose Messenger/Instagram payloads: several entries, several
``messaging[]`` events, ``standby[]``, echoes with an ``app_id``, delivery/read receipts,
quick replies, postbacks, image attachments, reactions; timestamps are integers in ms.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import aiohttp
from aiohttp import web

Signing = Literal["both", "sha256", "sha1", "none"]


def now_ms() -> int:
    return int(time.time() * 1000)


def new_mid() -> str:
    """A fresh Messenger-style message id."""
    return "m_" + secrets.token_urlsafe(32)


def encode(payload: Any) -> bytes:
    """Meta's serialisation: escaped unicode (lowercase ``\\uXXXX``), compact."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def signature_headers(body: bytes, secret: str, signing: Signing = "both") -> dict[str, str]:
    """``X-Hub-Signature-256`` and/or the legacy ``X-Hub-Signature`` for ``body``."""
    headers: dict[str, str] = {}
    if signing in ("both", "sha256"):
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature-256"] = f"sha256={digest}"
    if signing in ("both", "sha1"):
        digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        headers["X-Hub-Signature"] = f"sha1={digest}"
    return headers


class MetaWebhookEmitter:
    """Sends signed webhook deliveries to ``base_url`` (the full webhook URL, e.g.
    ``http://127.0.0.1:8080/webhooks/facebook``).

    Use as an async context manager (it owns an HTTP session) or pass ``http``.
    Every call returns ``(status, body text)``.
    """

    def __init__(
        self, base_url: str, app_secret: str, *, http: aiohttp.ClientSession | None = None
    ) -> None:
        self.base_url = base_url
        self.app_secret = app_secret
        self._http = http
        self._owns_http = http is None
        self.delivered: list[bytes] = []  # bodies that got a 2xx

    async def __aenter__(self) -> MetaWebhookEmitter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.close()
            self._http = None

    async def post_bytes(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
        """POST ``body`` as is, with ``headers`` (plus the JSON content type)."""
        all_headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
        all_headers.update(headers)
        async with self.http.post(self.base_url, data=body, headers=all_headers) as response:
            text = await response.text()
            if 200 <= response.status < 300:
                self.delivered.append(body)
            return response.status, text

    async def send(
        self, payload: Any, *, secret: str | None = None, signing: Signing = "both"
    ) -> tuple[int, str]:
        """Deliver ``payload`` signed the way Meta signs (or with ``secret``/``signing``)."""
        body = encode(payload)
        return await self.post_bytes(
            body, signature_headers(body, secret or self.app_secret, signing)
        )

    async def send_tampered(self, payload: Any) -> tuple[int, str]:
        """Signed, then one byte of the body changed in transit."""
        body = encode(payload)
        headers = signature_headers(body, self.app_secret)
        tampered = body.replace(b'"text":"', b'"text":"X', 1)
        if tampered == body:
            tampered = body[:-1] + b" }"
        return await self.post_bytes(tampered, headers)

    async def send_unsigned(self, payload: Any) -> tuple[int, str]:
        return await self.send(payload, signing="none")

    async def send_sha1_only(self, payload: Any) -> tuple[int, str]:
        return await self.send(payload, signing="sha1")

    async def send_wrong_secret(self, payload: Any) -> tuple[int, str]:
        return await self.send(payload, secret="not-the-" + self.app_secret)

    async def send_reserialised(self, payload: Any) -> tuple[int, str]:
        """Signed over a different serialisation (raw UTF-8) than the bytes sent: the
        signature must fail for any text with accents or emoji."""
        signed = json.dumps(payload, ensure_ascii=False).encode()
        return await self.post_bytes(encode(payload), signature_headers(signed, self.app_secret))

    async def handshake(
        self, token: str, challenge: str | None = None, *, mode: str = "subscribe"
    ) -> tuple[int, str]:
        """Meta's GET verify call. Returns ``(status, body)``; a pass is 200 with the
        body equal to the challenge byte for byte (see :func:`handshake_passed`)."""
        challenge = challenge or str(secrets.randbelow(10**10))
        params = {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}
        async with self.http.get(self.base_url, params=params) as response:
            return response.status, (await response.read()).decode("utf-8", "replace")


def handshake_passed(result: tuple[int, str], challenge: str) -> bool:
    """What Meta accepts: status 200 and the body exactly the challenge."""
    return result == (200, challenge)


# --- payload builders (Messenger and Instagram) ------------------------------------------------


def delivery(object_: str, *entries: dict[str, Any]) -> dict[str, Any]:
    """A whole webhook delivery: ``object_`` is ``"page"`` or ``"instagram"``."""
    return {"object": object_, "entry": list(entries)}


def entry(
    account_id: str,
    messaging: list[dict[str, Any]] | None = None,
    *,
    standby: list[dict[str, Any]] | None = None,
    time_ms: int | None = None,
) -> dict[str, Any]:
    """One ``entry[]`` item for a Page / Instagram account."""
    item: dict[str, Any] = {"id": account_id, "time": time_ms or now_ms()}
    if messaging is not None:
        item["messaging"] = messaging
    if standby is not None:
        item["standby"] = standby
    return item


def _event(sender: str, recipient: str, timestamp: int | None, **body: Any) -> dict[str, Any]:
    return {
        "sender": {"id": sender},
        "recipient": {"id": recipient},
        "timestamp": timestamp or now_ms(),
        **body,
    }


def text_event(
    user_id: str,
    account_id: str,
    text: str,
    *,
    mid: str | None = None,
    quick_reply: str | None = None,
    reply_to: str | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """A customer's text (``quick_reply``: the payload of a tapped quick reply)."""
    message: dict[str, Any] = {"mid": mid or new_mid(), "text": text}
    if quick_reply is not None:
        message["quick_reply"] = {"payload": quick_reply}
    if reply_to is not None:
        message["reply_to"] = {"mid": reply_to}
    return _event(user_id, account_id, timestamp, message=message)


def attachment_event(
    user_id: str,
    account_id: str,
    url: str | None,
    *,
    kind: str = "image",
    text: str | None = None,
    mid: str | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """A customer's attachment (``url`` on Meta's CDN; ``None``: no payload at all)."""
    attachment: dict[str, Any] = {"type": kind}
    if url is not None:
        attachment["payload"] = {"url": url}
    message: dict[str, Any] = {"mid": mid or new_mid(), "attachments": [attachment]}
    if text is not None:
        message["text"] = text
    return _event(user_id, account_id, timestamp, message=message)


def postback_event(
    user_id: str,
    account_id: str,
    payload: str,
    *,
    title: str = "Comprar",
    mid: str | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    return _event(
        user_id,
        account_id,
        timestamp,
        postback={"mid": mid or new_mid(), "title": title, "payload": payload},
    )


def echo_event(
    account_id: str,
    user_id: str,
    text: str,
    *,
    app_id: str | None,
    mid: str | None = None,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """An echo of a message the business sent: sender = the account, recipient = the
    customer. ``app_id`` is the app that sent it (ours, another app's, or ``None`` as
    when a person answered from the inbox)."""
    message: dict[str, Any] = {"mid": mid or new_mid(), "is_echo": True, "text": text}
    if app_id is not None:
        message["app_id"] = int(app_id) if app_id.isdigit() else app_id
    return _event(account_id, user_id, timestamp, message=message)


def delivery_receipt(
    user_id: str, account_id: str, mids: list[str] | None, *, watermark: int | None = None
) -> dict[str, Any]:
    receipt: dict[str, Any] = {"watermark": watermark or now_ms()}
    if mids is not None:
        receipt["mids"] = mids
    return _event(user_id, account_id, None, delivery=receipt)


def read_receipt(
    user_id: str, account_id: str, *, watermark: int | None = None, mid: str | None = None
) -> dict[str, Any]:
    """Messenger reads carry a ``watermark``; Instagram's ``messaging_seen`` a ``mid``."""
    receipt: dict[str, Any] = {}
    if watermark is not None:
        receipt["watermark"] = watermark
    if mid is not None:
        receipt["mid"] = mid
    return _event(user_id, account_id, None, read=receipt)


def reaction_event(
    user_id: str,
    account_id: str,
    mid: str,
    *,
    emoji: str = "❤️",
    reaction: str = "love",
    action: str = "react",
) -> dict[str, Any]:
    return _event(
        user_id,
        account_id,
        None,
        reaction={"mid": mid, "action": action, "reaction": reaction, "emoji": emoji},
    )


def instagram_dashboard_test() -> dict[str, Any]:
    """What the App Dashboard "Test" button sends for Instagram: ``changes[]``,
    ``entry.id == "0"`` and a string timestamp."""
    return {
        "object": "instagram",
        "entry": [
            {
                "id": "0",
                "time": now_ms(),
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "sender": {"id": "12334"},
                            "recipient": {"id": "23245"},
                            "timestamp": "1527459824",
                            "message": {"mid": "random_mid", "text": "random_text"},
                        },
                    }
                ],
            }
        ],
    }


def echo_of(sent: Any, account_id: str, app_id: str | None) -> dict[str, Any]:
    """The echo Meta sends after one of our accepted sends (a ``SentRequest`` of
    :class:`~tests.fakes.graph.FakeGraph`)."""
    body = sent.json
    message = dict(body.get("message") or {})
    echo: dict[str, Any] = {"mid": sent.response["message_id"], "is_echo": True}
    if "text" in message:
        echo["text"] = message["text"]
    if "attachment" in message:
        echo["attachments"] = [message["attachment"]]
    if app_id is not None:
        echo["app_id"] = int(app_id) if app_id.isdigit() else app_id
    return _event(account_id, body["recipient"]["id"], None, message=echo)


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on a real socket on 127.0.0.1; yields its base URL."""
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Poll ``condition`` until it holds (AssertionError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
