"""A faithful local fake of Meta's Graph API (meta-platforms.md §6.2).

A real aiohttp server on 127.0.0.1. One instance plays one host:

* ``FakeGraph(host="facebook")``: graph.facebook.com, with the Messenger Send API
  (``/{v}/me/messages``, ``/{v}/{page_id}/messages``). The WhatsApp fake
  (``tests/fakes/graph_whatsapp.py``) adds its routes to the same instance.
* ``FakeGraph(host="instagram")``: graph.instagram.com, with the Instagram Login Send
  API (``/{v}/{ig_id|me}/messages``) and Instagram's rules (text under 1000 bytes,
  text-only quick replies, only the ``HUMAN_AGENT`` tag).

It checks what breaks in production: versioned paths only, unknown ids (error 100),
tokens (``Authorization: Bearer`` or ``access_token``; wrong → 190 OAuthException),
body shapes and every limit, the 24-hour window (400, code 10, subcode 2018278), and it
answers with Meta's response and error shapes and fresh ids. ``fail_next`` injects
429/5xx/rate-limit errors or a hang (timeout) into the next calls of any route.
Every accepted call is kept in ``sent``; ``counters`` counts what matters.

Extending it (other fakes): add routes to ``fake.app`` before ``start()``, use
``fake.check_auth``, ``fake.graph_error``, ``fake.record`` and ``fake.new_id``; the
failure injection applies to every versioned path automatically.

Usage::

    async with FakeGraph() as graph:
        graph.add_account("PAGE1", token="page-token")
        graph.add_user("PAGE1", "PSID1")          # the customer wrote just now
        ...  # point TENDERO_GRAPH_API_URL at graph.url
        assert graph.sent[0].json["message"]["text"] == "Hola"
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from tests.fakes.server import LoopbackServer

VERSION_PATTERN = r"v\d+\.\d+"
VERSIONED_PATH = re.compile(rf"^/{VERSION_PATTERN}/")
WINDOW_MS = 24 * 60 * 60 * 1000

MESSAGING_TYPES = {"RESPONSE", "UPDATE", "MESSAGE_TAG"}
MESSENGER_TAGS = {
    "HUMAN_AGENT",
    "ACCOUNT_UPDATE",
    "CONFIRMED_EVENT_UPDATE",
    "POST_PURCHASE_UPDATE",
}
INSTAGRAM_TAGS = {"HUMAN_AGENT"}
HUMAN_AGENT_WINDOW_MS = 7 * WINDOW_MS
SENDER_ACTIONS = {"typing_on", "typing_off", "mark_seen"}
ATTACHMENT_TYPES = {"image", "video", "audio", "file", "template"}
QUICK_REPLY_TYPES = {"text", "user_phone_number", "user_email"}
MESSENGER_TEXT_CHARS = 2000
INSTAGRAM_TEXT_BYTES = 1000  # must be *under* this many UTF-8 bytes


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class SentRequest:
    """One accepted Graph call: what the customer "saw"."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    json: Any
    response: Any = None
    at: float = field(default_factory=time.time)

    @property
    def recipient_id(self) -> str | None:
        if isinstance(self.json, dict):
            recipient = self.json.get("recipient")
            if isinstance(recipient, dict):
                return recipient.get("id")
            return self.json.get("to") or (recipient if isinstance(recipient, str) else None)
        return None


@dataclass
class Failure:
    """An injected failure for the next matching call."""

    status: int = 429
    code: int | None = 4
    subcode: int | None = None
    message: str = "(#4) Application request limit reached"
    timeout: bool = False
    path_contains: str | None = None


@dataclass
class Account:
    """A business account the fake knows: a Page or an Instagram professional account."""

    account_id: str
    token: str
    # customer id → ms timestamp of the customer's last message (opens the 24 h window)
    users: dict[str, int] = field(default_factory=dict)
    unavailable: set[str] = field(default_factory=set)  # turned off messages: 551


class FakeGraph(LoopbackServer):
    """The fake Graph host. See the module docstring."""

    def __init__(
        self,
        host: Literal["facebook", "instagram"] = "facebook",
        *,
        hang_seconds: float = 10.0,
    ) -> None:
        self.host = host
        self.hang_seconds = hang_seconds
        super().__init__(web.Application(middlewares=[self._failure_middleware]))
        self.sent: list[SentRequest] = []
        self.attempts: list[tuple[str, str]] = []  # (method, path) of every versioned call
        self.counters: Counter[str] = Counter()
        self.accounts: dict[str, Account] = {}
        self.media: dict[str, tuple[bytes, str]] = {}
        self.failures: list[Failure] = []
        self.app.router.add_get("/cdn/{name}", self._serve_media)
        self.app.router.add_post(
            "/{version:" + VERSION_PATTERN + "}/{node}/messages", self._messenger_send
        )

    # --- lifecycle ---------------------------------------------------------------------

    def before_start(self) -> None:
        # Last of all: anything else is an unknown path (unversioned paths included).
        self.app.router.add_route("*", "/{tail:.*}", self._unknown_path)

    @property
    def url(self) -> str:
        """Base URL to put in ``TENDERO_GRAPH_API_URL`` / ``TENDERO_INSTAGRAM_GRAPH_API_URL``."""
        return self.base_url

    # --- set-up ------------------------------------------------------------------------

    def add_account(self, account_id: str, token: str) -> Account:
        """A Page (facebook host) or Instagram account (instagram host) and its token."""
        account = Account(account_id, token)
        self.accounts[account_id] = account
        return account

    def add_user(
        self, account_id: str, user_id: str, *, last_message_ms: int | None = None
    ) -> None:
        """A customer who wrote to ``account_id`` (at ``last_message_ms``, default now):
        the 24-hour window runs from there."""
        self.accounts[account_id].users[user_id] = (
            now_ms() if last_message_ms is None else last_message_ms
        )

    def make_unavailable(self, account_id: str, user_id: str) -> None:
        """The customer turned off messages from the business (→ 551 / 1545041)."""
        self.accounts[account_id].unavailable.add(user_id)

    def add_media(self, content: bytes, content_type: str, *, name: str | None = None) -> str:
        """Serve ``content`` like Meta's CDN (no auth) and return its URL."""
        name = name or secrets.token_hex(8)
        self.media[name] = (content, content_type)
        return f"{self.url}/cdn/{name}?oh=00_{secrets.token_urlsafe(12)}&oe=6700AB12"

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 429,
        code: int | None = 4,
        subcode: int | None = None,
        message: str | None = None,
        timeout: bool = False,
        path_contains: str | None = None,
    ) -> None:
        """Make the next ``count`` versioned calls (whose path contains
        ``path_contains``, if given) fail: an error envelope with ``status``/``code``
        (``code=None``: a bare status, e.g. a 502 from a proxy), or with
        ``timeout=True`` no answer for ``hang_seconds``."""
        default = {
            4: "(#4) Application request limit reached",
            613: "(#613) Calls to this api have exceeded the rate limit.",
            2: "An unexpected error has occurred. Please retry your request later.",
            80007: "(#80007) There have been too many messages sent from this account.",
            130429: "(#130429) Rate limit hit",
            131056: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        }
        failure = Failure(
            status=status,
            code=code,
            subcode=subcode,
            message=message or default.get(code or 0, "Service temporarily unavailable"),
            timeout=timeout,
            path_contains=path_contains,
        )
        self.failures.extend([failure] * count)

    # --- helpers for routes (also used by other fakes) ----------------------------------

    @staticmethod
    def new_id(prefix: str = "m_") -> str:
        """A fresh, never-reused message id."""
        return prefix + secrets.token_urlsafe(24)

    @staticmethod
    def graph_error(
        status: int,
        code: int,
        message: str,
        subcode: int | None = None,
        *,
        error_type: str = "OAuthException",
        details: str | None = None,
        extra_data: dict[str, Any] | None = None,
    ) -> web.Response:
        """Meta's error envelope (meta-platforms.md §5.1)."""
        error: dict[str, Any] = {
            "message": message,
            "type": error_type,
            "code": code,
            "fbtrace_id": "A" + secrets.token_urlsafe(16),
        }
        if subcode is not None:
            error["error_subcode"] = subcode
        if details is not None or extra_data:
            error["error_data"] = dict(extra_data or {})
            if details is not None:
                error["error_data"]["details"] = details
        return web.json_response({"error": error}, status=status)

    @staticmethod
    def request_token(request: web.Request) -> str | None:
        """The token of a call: ``Authorization: Bearer`` or the ``access_token`` query."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[len("Bearer ") :].strip()
        return request.query.get("access_token")

    def check_auth(
        self, request: web.Request, expected_token: str, *, bearer_only: bool = False
    ) -> web.Response | None:
        """``None`` when the call carries ``expected_token``; else the error to return
        (missing token → 2500, wrong one → 190 OAuthException)."""
        if bearer_only:
            header = request.headers.get("Authorization", "")
            token = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else None
        else:
            token = self.request_token(request)
        if not token:
            self.counters["auth_errors"] += 1
            return self.graph_error(
                400, 2500, "An active access token must be used to query information."
            )
        if not secrets.compare_digest(token, expected_token):
            self.counters["auth_errors"] += 1
            return self.graph_error(
                401, 190, "Invalid OAuth access token - Cannot parse access token"
            )
        return None

    def record(self, request: web.Request, body: Any, response: Any = None) -> SentRequest:
        """Keep an accepted call for assertions."""
        sent = SentRequest(
            method=request.method,
            path=request.path,
            headers=dict(request.headers),
            query=dict(request.query),
            json=body,
            response=response,
        )
        self.sent.append(sent)
        self.counters["accepted"] += 1
        return sent

    async def read_json(self, request: web.Request) -> tuple[Any, web.Response | None]:
        """The JSON body of a call, or the error Meta gives for a bad one."""
        if request.content_type != "application/json":
            return None, self.graph_error(
                400, 100, "(#100) The parameter body must be JSON", error_type="OAuthException"
            )
        try:
            return json.loads(await request.read()), None
        except ValueError:
            return None, self.graph_error(400, 100, "(#100) Invalid JSON for postcard body")

    def sent_to(self, user_id: str) -> list[SentRequest]:
        """Accepted calls addressed to ``user_id``."""
        return [s for s in self.sent if s.recipient_id == user_id]

    # --- middleware and fixed routes -----------------------------------------------------

    @web.middleware
    async def _failure_middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if not VERSIONED_PATH.match(request.path):
            return await handler(request)
        self.counters["requests"] += 1
        self.attempts.append((request.method, request.path))
        for index, failure in enumerate(self.failures):
            if failure.path_contains is None or failure.path_contains in request.path:
                del self.failures[index]
                self.counters["injected_failures"] += 1
                if failure.timeout:
                    try:
                        await asyncio.wait_for(self._closing.wait(), self.hang_seconds)
                    except TimeoutError:
                        pass
                    return web.Response(status=504, text="hung")
                if failure.code is None:
                    return web.Response(status=failure.status, text="Bad gateway")
                return self.graph_error(
                    failure.status, failure.code, failure.message, failure.subcode
                )
        response = await handler(request)
        if response.status >= 400:
            self.counters["rejected"] += 1
        return response

    async def _unknown_path(self, request: web.Request) -> web.Response:
        if not VERSIONED_PATH.match(request.path):
            return self.graph_error(
                400, 2635, "(#2635) You are calling a deprecated or unversioned path."
            )
        return self.graph_error(
            400,
            100,
            f"Unsupported {request.method.lower()} request. Object does not exist or the path "
            f"{request.path} is not supported.",
            33,
            error_type="GraphMethodException",
        )

    async def _serve_media(self, request: web.Request) -> web.Response:
        item = self.media.get(request.match_info["name"])
        if item is None:
            return web.Response(status=404, text="URL signature expired")
        content, content_type = item
        self.counters["media_downloads"] += 1
        return web.Response(body=content, content_type=content_type)

    # --- the Messenger / Instagram Send API ---------------------------------------------

    def _account_for(self, request: web.Request) -> tuple[Account | None, web.Response | None]:
        node = request.match_info["node"]
        if node == "me":
            token = self.request_token(request)
            account = next((a for a in self.accounts.values() if a.token == token), None)
            if account is None:
                return None, self.check_auth(request, secrets.token_hex(8))
            return account, None
        account = self.accounts.get(node)
        if account is None:
            return None, self.graph_error(
                400,
                100,
                f"Unsupported post request. Object with ID '{node}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                33,
                error_type="GraphMethodException",
            )
        denied = self.check_auth(request, account.token)
        return (None, denied) if denied else (account, None)

    async def _messenger_send(self, request: web.Request) -> web.Response:
        account, problem = self._account_for(request)
        if problem is not None or account is None:
            return problem or self.graph_error(400, 100, "unknown account")
        body, problem = await self.read_json(request)
        if problem is not None:
            return problem
        problem = self._check_send_body(account, body)
        if problem is not None:
            return problem
        recipient_id = body["recipient"]["id"]
        if "sender_action" in body:
            response: dict[str, Any] = {"recipient_id": recipient_id}
        else:
            message_id = self.new_id("m_") if self.host == "facebook" else ig_style_id()
            response = {"recipient_id": recipient_id, "message_id": message_id}
        self.record(request, body, response)
        return web.json_response(response)

    def _invalid(self, message: str, subcode: int | None = None) -> web.Response:
        return self.graph_error(400, 100, f"(#100) {message}", subcode)

    def _check_send_body(self, account: Account, body: Any) -> web.Response | None:
        instagram = self.host == "instagram"
        if not isinstance(body, dict):
            return self._invalid("The request body must be a JSON object")
        recipient = body.get("recipient")
        if not isinstance(recipient, dict) or not recipient.get("id"):
            return self._invalid("param recipient must be non-empty.")
        user_id = str(recipient["id"])
        if user_id not in account.users:
            return self._invalid("No matching user found", 2018001)
        if user_id in account.unavailable:
            return self.graph_error(400, 551, "This person isn't available right now.", 1545041)
        if "sender_action" in body:
            if "message" in body:
                return self._invalid("sender_action cannot be sent with message")
            if body["sender_action"] not in SENDER_ACTIONS:
                return self._invalid(
                    "param sender_action must be one of {typing_on, typing_off, mark_seen}"
                )
            return None
        messaging_type = body.get("messaging_type")
        if messaging_type not in MESSAGING_TYPES:
            return self._invalid(
                "param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}"
            )
        tag = body.get("tag")
        if messaging_type == "MESSAGE_TAG":
            allowed_tags = INSTAGRAM_TAGS if instagram else MESSENGER_TAGS
            if tag not in allowed_tags:
                return self._invalid(f"param tag must be one of {sorted(allowed_tags)}")
        elif tag is not None:
            return self._invalid("param tag is only allowed with messaging_type MESSAGE_TAG")
        message = body.get("message")
        if not isinstance(message, dict):
            return self._invalid("param message must be non-empty.")
        problem = self._check_message(message, instagram=instagram)
        if problem is not None:
            return problem
        # The standard messaging window (or 7 days with the HUMAN_AGENT tag).
        age = now_ms() - account.users[user_id]
        window = HUMAN_AGENT_WINDOW_MS if tag == "HUMAN_AGENT" else WINDOW_MS
        if age > window and not (tag is not None and tag != "HUMAN_AGENT" and not instagram):
            self.counters["outside_window"] += 1
            return self.graph_error(
                400,
                10,
                "(#10) This message is sent outside of allowed window.",
                2018278,
                error_type="OAuthException",
            )
        return None

    def _check_message(self, message: dict[str, Any], *, instagram: bool) -> web.Response | None:
        has_text = "text" in message
        has_attachment = "attachment" in message
        if has_text == has_attachment:
            return self._invalid("Exactly one of message[text] or message[attachment] is required")
        if has_text:
            text = message["text"]
            if not isinstance(text, str) or not text:
                return self._invalid("param message[text] must be a non-empty UTF-8 string")
            if instagram and len(text.encode("utf-8")) >= INSTAGRAM_TEXT_BYTES:
                return self._invalid("Length of param message[text] must be less than 1000 bytes")
            if not instagram and len(text) > MESSENGER_TEXT_CHARS:
                return self._invalid(
                    "Length of param message[text] must be less than or equal to 2000"
                )
        else:
            problem = self._check_attachment(message["attachment"], instagram=instagram)
            if problem is not None:
                return problem
        quick_replies = message.get("quick_replies")
        if quick_replies is not None:
            if not isinstance(quick_replies, list) or not quick_replies:
                return self._invalid("param message[quick_replies] must be a non-empty array")
            if len(quick_replies) > 13:
                return self._invalid("param message[quick_replies] must have at most 13 elements")
            for reply in quick_replies:
                if not isinstance(reply, dict):
                    return self._invalid("quick reply must be an object")
                content_type = reply.get("content_type")
                if content_type not in QUICK_REPLY_TYPES or (instagram and content_type != "text"):
                    return self._invalid("param quick_replies[content_type] is invalid")
                if content_type == "text":
                    title = reply.get("title")
                    if not isinstance(title, str) or not title or len(title) > 20:
                        return self._invalid("quick reply title must have 1-20 characters")
                    payload = reply.get("payload")
                    if not isinstance(payload, str | int) or len(str(payload)) > 1000:
                        return self._invalid(
                            "quick reply payload must have at most 1000 characters"
                        )
        return None

    def _check_attachment(self, attachment: Any, *, instagram: bool) -> web.Response | None:
        if not isinstance(attachment, dict) or attachment.get("type") not in ATTACHMENT_TYPES:
            return self._invalid("param message[attachment][type] is invalid")
        payload = attachment.get("payload")
        if not isinstance(payload, dict):
            return self._invalid("param message[attachment][payload] must be an object")
        if attachment["type"] != "template":
            url = payload.get("url")
            if not payload.get("attachment_id") and not (
                isinstance(url, str) and url.startswith(("https://", "http://"))
            ):
                return self._invalid("param message[attachment][payload][url] must be a URL")
            return None
        kind = payload.get("template_type")
        if kind == "button":
            text = payload.get("text")
            buttons = payload.get("buttons")
            if not isinstance(text, str) or not text or len(text) > 640:
                return self._invalid("button template text must have 1-640 characters")
            if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
                return self._invalid("button template must have 1-3 buttons")
            return None
        if kind == "generic":
            elements = payload.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                return self._invalid("generic template must have 1-10 elements")
            for element in elements:
                if not isinstance(element, dict):
                    return self._invalid("template element must be an object")
                title = element.get("title")
                if not isinstance(title, str) or not title or len(title) > 80:
                    return self._invalid("element title must have 1-80 characters")
                if len(str(element.get("subtitle") or "")) > 80:
                    return self._invalid("element subtitle must have at most 80 characters")
                if len(element.get("buttons") or []) > 3:
                    return self._invalid("element must have at most 3 buttons")
                if not set(element) - {"title"}:
                    return self._invalid("element needs a property besides title")
            return None
        return self._invalid("param template_type is invalid")


def ig_style_id() -> str:
    """An Instagram-looking message id (base64 text)."""
    return base64.urlsafe_b64encode(b"ig_message_item:1:" + secrets.token_bytes(18)).decode()
