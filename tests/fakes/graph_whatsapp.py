"""The WhatsApp Cloud API half of the fake Graph API (meta-platforms.md §6.2, 1–7, 10–11).

:func:`install_whatsapp` adds the WhatsApp endpoints to a :class:`~tests.fakes.graph.FakeGraph`
(before ``start()``) and returns a :class:`FakeWhatsApp` to set up and inspect:

* ``POST /{v}/{phone_number_id}/messages`` for known numbers: the Bearer token of the
  number (missing → 2500, wrong → 190), ``messaging_product``, exactly one recipient
  field (``to`` digits, or ``recipient`` + ``recipient_type: individual``), ``type`` equal
  to the one content key present, every text/media/interactive limit (→ 131009 or 100
  with ``error_data.details``), templates by known name + language + parameter count
  (132001 / 132000), an optional allow-list (131030), read receipts of a known **inbound**
  wamid with an optional typing indicator (``{"success": true}``).
* The silent failures, as Meta does them: a BSUID in ``to`` answers 200 and a wamid and
  is never delivered (:attr:`FakeWhatsApp.dropped`); a free-form send more than 24 hours
  after the customer's last message (or to someone who never wrote) answers 200 and
  queues a ``failed`` status with 131047 (:meth:`FakeWhatsApp.take_statuses` gives the
  webhook delivery to emit).
* ``GET /{v}/{media_id}`` → ``url``, ``mime_type``, ``sha256``, ``file_size`` (a string),
  ``id``; the URL (``/whatsapp_business/attachments/?mid=…``) needs the Bearer header
  (401 without) and expires after :attr:`FakeWhatsApp.media_url_ttl` seconds; media ids
  older than 7 days are gone.

Unknown phone number ids fall through to FakeGraph (error 100), and FakeGraph's
``fail_next`` injection (429/130429, 5xx, timeouts) applies to every versioned call.
Accepted, delivered calls go to ``graph.sent`` (what the customer saw).

The module also builds WhatsApp webhook deliveries (:func:`text_message`,
:func:`delivery`, …); :meth:`FakeWhatsApp.inbound` registers what a test emits, so read
receipts and the window know about it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.graph import VERSION_PATTERN, FakeGraph, SentRequest

WINDOW_SECONDS = 24 * 60 * 60
MEDIA_ID_LIFETIME = 7 * 24 * 60 * 60
SEND_PATH = re.compile(rf"^/(?P<version>{VERSION_PATTERN})/(?P<node>[^/]+)/messages$")
NODE_PATH = re.compile(rf"^/(?P<version>{VERSION_PATTERN})/(?P<node>[^/]+)$")
MEDIA_URL_PATH = "/whatsapp_business/attachments/"
BSUID = re.compile(r"^[A-Z]{2}\.[A-Za-z0-9.]+$")

CONTENT_TYPES = {
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "template",
    "reaction",
}
MEDIA_TYPES = {"image", "video", "audio", "document", "sticker"}
CAPTIONED = {"image", "video", "document"}


@dataclass
class Number:
    """A business phone number the fake knows."""

    phone_number_id: str
    token: str
    display_phone_number: str = "15550001111"
    # customer id (wa_id digits or BSUID) → epoch seconds of their last message
    last_inbound: dict[str, float] = field(default_factory=dict)
    inbound_wamids: set[str] = field(default_factory=set)


@dataclass
class Media:
    media_id: str
    content: bytes
    mime_type: str
    sha256: str
    created_at: float
    phone_number_id: str


class FakeWhatsApp:
    """The WhatsApp endpoints of one FakeGraph. See the module docstring."""

    def __init__(self, graph: FakeGraph) -> None:
        self.graph = graph
        self.numbers: dict[str, Number] = {}
        self.media: dict[str, Media] = {}
        # media URL token → (media id, issued at)
        self._media_urls: dict[str, tuple[str, float]] = {}
        self.templates: dict[tuple[str, str], int] = {}  # (name, language) → parameters
        self.allow_list: set[str] | None = None
        self.media_url_ttl = 300.0
        self.dropped: list[SentRequest] = []  # BSUID in `to`: 200, never delivered
        self.undelivered: list[SentRequest] = []  # accepted, then failed asynchronously
        self.pending_statuses: list[tuple[str, dict[str, Any]]] = []  # (number, status)
        self.read_receipts: list[SentRequest] = []

    # --- set-up ------------------------------------------------------------------------

    def add_number(
        self, phone_number_id: str, token: str, *, display_phone_number: str = "15550001111"
    ) -> Number:
        number = Number(phone_number_id, token, display_phone_number)
        self.numbers[phone_number_id] = number
        return number

    def add_user(
        self, phone_number_id: str, customer_id: str, *, last_inbound: float | None = None
    ) -> None:
        """A customer (wa_id or BSUID) who last wrote at ``last_inbound`` (epoch seconds,
        default now): the 24-hour window runs from there."""
        self.numbers[phone_number_id].last_inbound[customer_id] = (
            time.time() if last_inbound is None else last_inbound
        )

    def inbound(
        self, phone_number_id: str, customer_id: str, wamid: str, *, at: float | None = None
    ) -> None:
        """Tell the fake a customer message was emitted: its wamid can be marked read and
        the customer's window opens at ``at`` (default now)."""
        number = self.numbers[phone_number_id]
        number.inbound_wamids.add(wamid)
        moment = time.time() if at is None else at
        number.last_inbound[customer_id] = max(moment, number.last_inbound.get(customer_id, 0))

    def add_template(self, name: str, language: str, parameters: int = 0) -> None:
        self.templates[(name, language)] = parameters

    def add_media(
        self,
        content: bytes,
        mime_type: str,
        *,
        phone_number_id: str | None = None,
        created_at: float | None = None,
        sha256: str | None = None,
    ) -> str:
        """A file a customer sent; returns its media id (``sha256`` overrides the real
        digest, to simulate corruption)."""
        media_id = str(10**15 + secrets.randbelow(10**15))
        self.media[media_id] = Media(
            media_id,
            content,
            mime_type,
            sha256 or hashlib.sha256(content).hexdigest(),
            time.time() if created_at is None else created_at,
            phone_number_id or next(iter(self.numbers), ""),
        )
        return media_id

    # --- what happened -----------------------------------------------------------------

    def messages_to(self, customer_id: str) -> list[SentRequest]:
        """Delivered messages (not receipts) addressed to ``customer_id``."""
        return [
            s
            for s in self.graph.sent
            if isinstance(s.json, dict)
            and "type" in s.json
            and customer_id in (s.json.get("to"), s.json.get("recipient"))
        ]

    def take_statuses(self) -> dict[str, Any] | None:
        """The queued asynchronous statuses (e.g. ``failed`` 131047) as one webhook
        delivery, and forget them; ``None`` when there are none."""
        if not self.pending_statuses:
            return None
        by_number: dict[str, list[dict[str, Any]]] = {}
        for number_id, status in self.pending_statuses:
            by_number.setdefault(number_id, []).append(status)
        self.pending_statuses.clear()
        return delivery(
            *(change(self.numbers[n], statuses=statuses) for n, statuses in by_number.items())
        )

    # --- routing -------------------------------------------------------------------------

    @web.middleware
    async def middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if request.path == MEDIA_URL_PATH and request.method == "GET":
            return self._download(request)
        send = SEND_PATH.match(request.path)
        if send and request.method == "POST" and send["node"] in self.numbers:
            return await self._send(request, self.numbers[send["node"]])
        node = NODE_PATH.match(request.path)
        if node and request.method == "GET" and node["node"] in self.media:
            return self._media_info(request, self.media[node["node"]])
        return await handler(request)

    # --- media ---------------------------------------------------------------------------

    def _media_info(self, request: web.Request, media: Media) -> web.Response:
        number = self.numbers.get(media.phone_number_id)
        denied = self.graph.check_auth(request, number.token if number else "", bearer_only=True)
        if denied is not None:
            return denied
        if time.time() - media.created_at > MEDIA_ID_LIFETIME:
            return self.graph.graph_error(
                400, 100, f"(#100) Media id {media.media_id} has expired", 33
            )
        url_token = secrets.token_urlsafe(16)
        self._media_urls[url_token] = (media.media_id, time.time())
        answer = {
            "messaging_product": "whatsapp",
            "url": f"{self.graph.url}{MEDIA_URL_PATH}?mid={url_token}&ext={int(time.time())}",
            "mime_type": media.mime_type,
            "sha256": media.sha256,
            "file_size": str(len(media.content)),
            "id": media.media_id,
        }
        self.graph.counters["media_lookups"] += 1
        return web.json_response(answer)

    def _download(self, request: web.Request) -> web.Response:
        issued = self._media_urls.get(request.query.get("mid", ""))
        if issued is None:
            return web.Response(status=404, text="Not found")
        media = self.media[issued[0]]
        number = self.numbers.get(media.phone_number_id)
        header = request.headers.get("Authorization", "")
        if (
            not number
            or not header.startswith("Bearer ")
            or not secrets.compare_digest(header[len("Bearer ") :], number.token)
        ):
            self.graph.counters["media_unauthorized"] += 1
            return web.Response(status=401, text="Unauthorized")
        if time.time() - issued[1] > self.media_url_ttl:
            return web.Response(status=404, text="URL signature expired")
        self.graph.counters["media_downloads"] += 1
        return web.Response(body=media.content, content_type=media.mime_type)

    # --- sends ---------------------------------------------------------------------------

    async def _send(self, request: web.Request, number: Number) -> web.Response:
        denied = self.graph.check_auth(request, number.token, bearer_only=True)
        if denied is not None:
            return denied
        body, problem = await self.graph.read_json(request)
        if problem is not None:
            return problem
        if not isinstance(body, dict):
            return _invalid(100, "The request body must be a JSON object")
        if body.get("messaging_product") != "whatsapp":
            return _invalid(100, "param messaging_product must be 'whatsapp'")
        if "status" in body or "typing_indicator" in body:
            return self._read_receipt(request, number, body)
        return self._message(request, number, body)

    def _read_receipt(
        self, request: web.Request, number: Number, body: dict[str, Any]
    ) -> web.Response:
        if body.get("status") != "read":
            return _invalid(100, "typing_indicator is only valid with status 'read'")
        if set(body) - {"messaging_product", "status", "message_id", "typing_indicator"}:
            return _invalid(100, "a read receipt carries no recipient or content")
        if body.get("message_id") not in number.inbound_wamids:
            return _invalid(100, "message_id must be a message this number received")
        indicator = body.get("typing_indicator")
        if indicator is not None and indicator != {"type": "text"}:
            return _invalid(131009, "typing_indicator must be {'type': 'text'}")
        answer = {"success": True}
        self.read_receipts.append(self.graph.record(request, body, answer))
        return web.json_response(answer)

    def _message(self, request: web.Request, number: Number, body: dict[str, Any]) -> web.Response:
        has_to, has_recipient = "to" in body, "recipient" in body
        if has_to == has_recipient:
            return _invalid(100, "exactly one of 'to' and 'recipient' is required")
        if body.get("recipient_type", "individual") != "individual":
            return _invalid(100, "param recipient_type must be 'individual'")
        if has_recipient and body.get("recipient_type") != "individual":
            return _invalid(100, "'recipient' needs recipient_type 'individual'")
        address = str(body["to"] if has_to else body["recipient"])
        if not address:
            return _invalid(131008, "the recipient is empty")
        problem = _check_content(body)
        if problem is not None:
            return problem
        msg_type = body["type"]
        if msg_type == "template":
            problem = self._check_template(body["template"])
            if problem is not None:
                return problem
        bsuid_in_to = has_to and BSUID.match(address) is not None
        customer = address.removeprefix("+") if has_to else address
        if has_to and not bsuid_in_to and not customer.isdigit():
            return _invalid(131009, f"'to' must be a phone number, not {address!r}")
        if self.allow_list is not None and customer not in self.allow_list:
            return self.graph.graph_error(
                400,
                131030,
                "(#131030) Recipient phone number not in allowed list",
                details="Recipient phone number not in allowed list",
                extra_data={"messaging_product": "whatsapp"},
            )
        wamid = "wamid." + base64.b64encode(secrets.token_bytes(30)).decode()
        contact = {"input": address, ("wa_id" if has_to else "user_id"): customer}
        answer = {
            "messaging_product": "whatsapp",
            "contacts": [contact],
            "messages": [{"id": wamid}],
        }
        sent = SentRequest(request.method, request.path, dict(request.headers), {}, body, answer)
        if bsuid_in_to:
            # Meta's silent drop: a BSUID is not a phone number, nothing is delivered.
            self.dropped.append(sent)
            self.graph.counters["dropped"] += 1
            return web.json_response(answer)
        last = number.last_inbound.get(customer)
        if msg_type != "template" and (last is None or time.time() - last > WINDOW_SECONDS):
            self.undelivered.append(sent)
            self.graph.counters["sent_outside_window"] += 1
            self.pending_statuses.append(
                (number.phone_number_id, failed_status(wamid, customer, has_to))
            )
            return web.json_response(answer)
        self.graph.record(request, body, answer)
        return web.json_response(answer)

    def _check_template(self, template: dict[str, Any]) -> web.Response | None:
        language = template.get("language")
        code = language.get("code") if isinstance(language, dict) else None
        key = (template.get("name"), code)
        if key not in self.templates:
            return self.graph.graph_error(
                404, 132001, "(#132001) Template name does not exist in the translation"
            )
        given = sum(
            len(c.get("parameters") or [])
            for c in template.get("components") or []
            if isinstance(c, dict)
        )
        if given != self.templates[key]:  # type: ignore[index]
            return self.graph.graph_error(
                400, 132000, "(#132000) Number of parameters does not match the expected number"
            )
        return None


def install_whatsapp(graph: FakeGraph) -> FakeWhatsApp:
    """Add the WhatsApp endpoints to ``graph`` (call before ``graph.start()``)."""
    fake = FakeWhatsApp(graph)
    graph.app.middlewares.append(fake.middleware)
    graph.whatsapp = fake  # type: ignore[attr-defined]
    return fake


# --- body checks --------------------------------------------------------------------------


def _invalid(code: int, details: str) -> web.Response:
    """Meta's answer to a bad parameter: 131009 (invalid value), 131008 (missing) or 100."""
    titles = {
        131009: "(#131009) Parameter value is not valid",
        131008: "(#131008) Required parameter is missing",
        100: "(#100) Invalid parameter",
    }
    return FakeGraph.graph_error(
        400,
        code,
        titles.get(code, f"(#{code}) Invalid request"),
        details=details,
        extra_data={"messaging_product": "whatsapp"},
    )


def _length_ok(value: Any, low: int, high: int) -> bool:
    return isinstance(value, str) and low <= len(value) <= high


def _check_content(body: dict[str, Any]) -> web.Response | None:
    msg_type = body.get("type", "text")
    if "type" not in body and "text" not in body:
        return _invalid(131008, "param type is required")
    present = [key for key in CONTENT_TYPES if key in body]
    if msg_type not in CONTENT_TYPES:
        return _invalid(131009, f"type {msg_type!r} is not supported")
    if present != [msg_type]:
        return _invalid(131009, f"type is {msg_type!r} but the content keys are {sorted(present)}")
    context = body.get("context")
    if context is not None and not (
        isinstance(context, dict) and isinstance(context.get("message_id"), str)
    ):
        return _invalid(131009, "context must be {'message_id': <wamid>}")
    content = body[msg_type]
    if msg_type != "contacts" and not isinstance(content, dict):
        return _invalid(131009, f"param {msg_type} must be an object")
    if msg_type == "text":
        if not _length_ok(content.get("body"), 1, 4096):
            return _invalid(131009, "text.body must have 1-4096 characters")
        return None
    if msg_type in MEDIA_TYPES:
        return _check_media(msg_type, content)
    if msg_type == "interactive":
        return _check_interactive(content)
    return None


def _check_media(kind: str, media: dict[str, Any]) -> web.Response | None:
    if ("id" in media) == ("link" in media):
        return _invalid(131009, f"{kind} needs exactly one of 'id' and 'link'")
    link = media.get("link")
    if link is not None and not (isinstance(link, str) and link.startswith("https://")):
        return _invalid(131009, f"{kind}.link must be an https URL")
    caption = media.get("caption")
    if caption is not None:
        if kind not in CAPTIONED:
            return _invalid(131009, f"{kind} messages have no caption")
        if not _length_ok(caption, 0, 1024):
            return _invalid(131009, "caption must have at most 1024 characters")
    return None


def _check_interactive(interactive: dict[str, Any]) -> web.Response | None:
    kind = interactive.get("type")
    if kind not in ("button", "list"):
        return _invalid(131009, f"interactive type {kind!r} is not supported by the fake")
    body = interactive.get("body")
    if not isinstance(body, dict) or not _length_ok(body.get("text"), 1, 1024):
        return _invalid(131009, "interactive.body.text must have 1-1024 characters")
    footer = interactive.get("footer")
    if footer is not None and not (
        isinstance(footer, dict) and _length_ok(footer.get("text"), 1, 60)
    ):
        return _invalid(131009, "interactive.footer.text must have 1-60 characters")
    header = interactive.get("header")
    if header is not None:
        allowed = {"text"} if kind == "list" else {"text", "image", "video", "document"}
        if not isinstance(header, dict) or header.get("type") not in allowed:
            return _invalid(131009, f"a {kind} message header must be one of {sorted(allowed)}")
        if header["type"] == "text" and not _length_ok(header.get("text"), 1, 60):
            return _invalid(131009, "header.text must have 1-60 characters")
    action = interactive.get("action")
    if not isinstance(action, dict):
        return _invalid(131008, "interactive.action is required")
    return _check_buttons(action) if kind == "button" else _check_list(action)


def _check_buttons(action: dict[str, Any]) -> web.Response | None:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return _invalid(131009, "action.buttons must have 1-3 buttons")
    ids, titles = set(), set()
    for button in buttons:
        reply = button.get("reply") if isinstance(button, dict) else None
        if button.get("type") != "reply" or not isinstance(reply, dict):
            return _invalid(131009, "each button must be {'type': 'reply', 'reply': {...}}")
        if not _length_ok(reply.get("id"), 1, 256):
            return _invalid(131009, "button reply.id must have 1-256 characters")
        if not _length_ok(reply.get("title"), 1, 20):
            return _invalid(131009, "button reply.title must have 1-20 characters")
        if reply["id"] in ids or reply["title"] in titles:
            return _invalid(131009, "button ids and titles must be unique")
        ids.add(reply["id"])
        titles.add(reply["title"])
    return None


def _check_list(action: dict[str, Any]) -> web.Response | None:
    if not _length_ok(action.get("button"), 1, 20):
        return _invalid(131009, "action.button must have 1-20 characters")
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        return _invalid(131009, "action.sections must have 1-10 sections")
    total = 0
    ids: set[str] = set()
    for section in sections:
        if not isinstance(section, dict) or not isinstance(section.get("rows"), list):
            return _invalid(131009, "each section needs rows")
        title = section.get("title")
        if (len(sections) > 1 or title is not None) and not _length_ok(title, 1, 24):
            return _invalid(
                131009, "section title must have 1-24 characters (required with >1 section)"
            )
        for row in section["rows"]:
            total += 1
            if not isinstance(row, dict):
                return _invalid(131009, "each row must be an object")
            if not _length_ok(row.get("id"), 1, 200) or row["id"] in ids:
                return _invalid(131009, "row ids must be unique with 1-200 characters")
            ids.add(row["id"])
            if not _length_ok(row.get("title"), 1, 24):
                return _invalid(131009, "row title must have 1-24 characters")
            description = row.get("description")
            if description is not None and not _length_ok(description, 0, 72):
                return _invalid(131009, "row description must have at most 72 characters")
    if not 1 <= total <= 10:
        return _invalid(131009, f"a list has 1-10 rows in total, not {total}")
    return None


# --- webhook deliveries (Meta → us) --------------------------------------------------------


def new_wamid() -> str:
    return "wamid." + base64.b64encode(secrets.token_bytes(30)).decode()


def failed_status(wamid: str, customer: str, is_phone: bool = True) -> dict[str, Any]:
    """The ``failed`` status Meta sends for a free-form message outside the window."""
    status = status_item(wamid, customer, "failed", is_phone=is_phone)
    status["errors"] = [
        {
            "code": 131047,
            "title": "Re-engagement message",
            "message": "Re-engagement message",
            "error_data": {
                "details": "Message failed to send because more than 24 hours have passed "
                "since the customer last replied to this number."
            },
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }
    ]
    return status


def status_item(
    wamid: str,
    customer: str,
    status: str,
    *,
    timestamp: int | None = None,
    is_phone: bool = True,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(timestamp or int(time.time())),
        ("recipient_id" if is_phone else "recipient_user_id"): customer,
    }
    if status != "failed":
        item["pricing"] = {
            "billable": False,
            "pricing_model": "PMP",
            "category": "service",
            "type": "free_customer_service",
        }
    return item


def text_message(
    customer: str,
    text: str,
    *,
    wamid: str | None = None,
    timestamp: int | None = None,
    bsuid: bool = False,
) -> dict[str, Any]:
    """A customer's text message (``bsuid``: the customer has no wa_id)."""
    item: dict[str, Any] = {
        "id": wamid or new_wamid(),
        "timestamp": str(timestamp or int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    item["from_user_id" if bsuid else "from"] = customer
    return item


def change(
    number: Number,
    *,
    messages: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One ``changes[]`` item (field ``messages``) for ``number``."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": number.display_phone_number,
            "phone_number_id": number.phone_number_id,
        },
    }
    if messages is not None:
        value["contacts"] = contacts or []
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {"field": "messages", "value": value}


def contact(customer: str, name: str, *, bsuid: bool = False) -> dict[str, Any]:
    return {"profile": {"name": name}, ("user_id" if bsuid else "wa_id"): customer}


def delivery(*changes: dict[str, Any], waba_id: str = "102290129340398") -> dict[str, Any]:
    """A whole WhatsApp webhook delivery with one entry holding ``changes``."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": list(changes)}],
    }
