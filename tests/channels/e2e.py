"""One harness for the three Meta channels end to end: Meta-signed deliveries over a real
socket → ``/webhooks/{channel}`` → inbox → turns (the acknowledgement runner) → outbox →
the fake Graph API.

:class:`Channel` hides what differs between WhatsApp and Messenger/Instagram (payload
shapes, where sends land, how echoes and receipts look) so one test reads the same for
every channel. A customer "event" here is the platform's own JSON for one message (a
WhatsApp ``messages[]`` item or a Messenger ``messaging[]`` item).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from tendero.app import DATABASE, create_app
from tendero.channels.base import collect_channels
from tendero.conversations.inbox import record_inbound_events
from tendero.conversations.turns import AcknowledgementRunner, Reply, TurnContext, TurnRunner
from tendero.db import Database
from tendero.db.models import Conversation, InboxEvent, Message, OutboxMessage
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings

from tests.fakes import graph_whatsapp as wa
from tests.fakes import webhooks as wh
from tests.fakes.graph import FakeGraph, SentRequest

FAST = {
    "dispatcher_options": {"poll_interval": 0.05},
    "sender_options": {"poll_interval": 0.05, "base_delay": 0.01, "max_delay": 0.05},
}
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"


class SendFaults:
    """Fails the next real *message* sends (not read receipts, typing indicators or
    sender actions, which go to the same path) with a Graph error envelope.

    Installed as the outermost middleware of a :class:`FakeGraph` before it starts;
    ``FakeGraph.fail_next`` cannot tell a send from a ``mark_seen`` on the same path.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[int, int]] = []  # (HTTP status, Graph code)
        self.injected: list[Any] = []  # bodies that got the error

    def fail_next_send(self, status: int, code: int) -> None:
        self.pending.append((status, code))

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self.pending and request.method == "POST" and request.path.endswith("/messages"):
            try:
                body = await request.json()  # aiohttp keeps the bytes for the handler
            except ValueError:
                body = None
            if isinstance(body, dict) and ("type" in body or "message" in body):
                status, code = self.pending.pop(0)
                self.injected.append(body)
                return FakeGraph.graph_error(status, code, f"(#{code}) Rate limit hit")
        return await handler(request)


@dataclass
class Live:
    """The app running over a socket, with a signed emitter at its webhook."""

    app: web.Application
    emitter: wh.MetaWebhookEmitter

    @property
    def db(self) -> Database:
        return self.app[DATABASE]

    async def rows(self, model: type, *where: Any) -> list[Any]:
        async with self.db.read_session() as session:
            return list((await session.execute(sa.select(model).where(*where))).scalars())

    async def settled(self) -> bool:
        """No inbox row waits for a turn and no outbox row waits for delivery."""
        async with self.db.read_session() as session:
            inbox = await session.execute(
                sa.select(sa.func.count()).where(InboxEvent.status == "pending")
            )
            outbox = await session.execute(
                sa.select(sa.func.count()).where(OutboxMessage.status.in_(("pending", "sending")))
            )
            return inbox.scalar_one() == 0 and outbox.scalar_one() == 0


@dataclass
class Channel:
    """One Meta channel, its fake Graph host(s) and the app settings pointing at them."""

    name: str
    settings: Settings
    graph: FakeGraph
    faults: SendFaults
    secret: str
    account: str
    whatsapp: wa.FakeWhatsApp | None = None
    number: wa.Number | None = None
    app_id: str = ""
    other_graph: FakeGraph | None = None  # Instagram: graph.facebook.com must stay unused
    profile_name: str = ""  # WhatsApp contacts' profile name (default: "Cliente NN 🌷")
    _customers: set[str] = field(default_factory=set)

    # --- customers and their events ----------------------------------------------------

    def customer(self, n: int) -> str:
        """The n-th customer id, in the channel's id format (and known to the fake)."""
        customer = f"52155{n:08d}" if self.whatsapp else f"70010000{n:08d}"
        if customer not in self._customers:
            self._customers.add(customer)
            if self.whatsapp is None:
                self.graph.add_user(self.account, customer)
        return customer

    def text(self, customer: str, text: str) -> dict[str, Any]:
        if self.whatsapp is not None:
            message = wa.text_message(customer, text)
            self.whatsapp.inbound(self.account, customer, message["id"])
            return message
        return wh.text_event(customer, self.account, text)

    def image(self, customer: str, content: bytes, mime_type: str = "image/jpeg") -> dict[str, Any]:
        """A customer's photo: WhatsApp gives a media id, Messenger/IG a CDN URL."""
        if self.whatsapp is not None:
            media_id = self.whatsapp.add_media(content, mime_type, phone_number_id=self.account)
            message = {
                "from": customer,
                "id": wa.new_wamid(),
                "timestamp": str(int(time.time())),
                "type": "image",
                "image": {
                    "id": media_id,
                    "mime_type": mime_type,
                    "sha256": hashlib.sha256(content).hexdigest(),
                },
            }
            self.whatsapp.inbound(self.account, customer, message["id"])
            return message
        return wh.attachment_event(customer, self.account, self.graph.add_media(content, mime_type))

    @staticmethod
    def event_id(event: dict[str, Any]) -> str:
        return event["id"] if "id" in event else event["message"]["mid"]

    def delivery(self, *entries: list[dict[str, Any]]) -> dict[str, Any]:
        """A webhook delivery with one ``entry[]`` item per list of events."""
        if self.whatsapp is None:
            return wh.delivery(
                "page" if self.name == "facebook" else "instagram",
                *(wh.entry(self.account, list(events)) for events in entries),
            )
        assert self.number is not None
        items = []
        for events in entries:
            messages = [e for e in events if "status" not in e]
            statuses = [e for e in events if "status" in e]
            changes = []
            if messages:
                contacts = [
                    wa.contact(m["from"], self.profile_name or f"Cliente {m['from'][-2:]} 🌷")
                    for m in messages
                ]
                changes.append(wa.change(self.number, messages=messages, contacts=contacts))
            if statuses:
                changes.append(wa.change(self.number, statuses=statuses))
            items.append({"id": "102290129340398", "changes": changes})
        return {"object": "whatsapp_business_account", "entry": items}

    # --- what the customers saw ---------------------------------------------------------

    def replies_to(self, customer: str) -> list[SentRequest]:
        """Messages (not receipts, typing or sender actions) delivered to ``customer``."""
        if self.whatsapp is not None:
            return self.whatsapp.messages_to(customer)
        return [s for s in self.graph.sent_to(customer) if "message" in s.json]

    def all_replies(self) -> list[SentRequest]:
        return [s for s in self.graph.sent if "type" in s.json or "message" in s.json]

    @staticmethod
    def reply_id(reply: SentRequest) -> str:
        if "messages" in reply.response:
            return reply.response["messages"][0]["id"]
        return reply.response["message_id"]

    @staticmethod
    def reply_text(reply: SentRequest) -> str:
        if "text" in reply.json and isinstance(reply.json["text"], dict):
            return reply.json["text"]["body"]
        return reply.json["message"].get("text", "")

    # --- what Meta sends about our replies ----------------------------------------------

    def receipts(self, reply: SentRequest) -> list[dict[str, Any]]:
        """Delivery and read receipts for ``reply`` (WhatsApp: sent → delivered → read
        statuses, out of order; Messenger/IG: delivery + read)."""
        customer = reply.recipient_id or ""
        mid = self.reply_id(reply)
        if self.whatsapp is not None:
            now = int(time.time())
            return [
                wa.status_item(mid, customer, "read", timestamp=now + 2),
                wa.status_item(mid, customer, "sent", timestamp=now),
                wa.status_item(mid, customer, "delivered", timestamp=now + 1),
            ]
        read = (
            wh.read_receipt(customer, self.account, mid=mid)
            if self.name == "instagram"
            else wh.read_receipt(customer, self.account, watermark=wh.now_ms())
        )
        return [wh.delivery_receipt(customer, self.account, [mid]), read]

    def own_echo(self, reply: SentRequest) -> dict[str, Any]:
        return wh.echo_of(reply, self.account, self.app_id)

    def human_echo(self, customer: str, text: str) -> dict[str, Any]:
        """A person answering from the platform's inbox (Instagram: the IG app's id)."""
        app_id = "1217981644879628" if self.name == "instagram" else None
        return wh.echo_event(self.account, customer, text, app_id=app_id)

    def rate_limit_next_send(self) -> None:
        if self.name == "whatsapp":
            self.faults.fail_next_send(429, 130429)
        elif self.name == "facebook":
            self.faults.fail_next_send(400, 613)
        else:
            self.faults.fail_next_send(429, 4)

    # --- the app -------------------------------------------------------------------------

    @asynccontextmanager
    async def running(
        self,
        runner: TurnRunner | None = None,
        *,
        unthrottled: bool = False,
        agent: bool = False,
    ) -> AsyncIterator[Live]:
        """The real app on a socket, fast polling; ``runner`` answers the turns (default:
        the acknowledgement runner, or with ``agent=True`` the app's own default, the real
        agent); ``unthrottled`` lifts the channel's send rate limit (many replies at once)."""
        if runner is None and not agent:
            runner = AcknowledgementRunner()
        options: dict[str, Any] = {key: dict(value) for key, value in FAST.items()}
        if unthrottled:
            options["sender_options"]["rate_limits"] = {self.name: None}
        app = create_app(
            self.settings,
            plugin_manager=create_plugin_manager(allow=["core", self.name]),
            turn_runner=runner,
            pipeline_options=options,
        )
        async with (
            wh.serve(app) as base,
            wh.MetaWebhookEmitter(f"{base}/webhooks/{self.name}", self.secret) as emitter,
        ):
            yield Live(app, emitter)

    async def record_offline(self, payload: dict[str, Any]) -> int:
        """Store ``payload``'s events in the inbox with no app running (as if the app
        died after answering the webhook); returns how many were queued."""
        channels = await collect_channels(
            create_plugin_manager(allow=["core", self.name]), self.settings
        )
        events = channels[self.name].parse(wh.encode(payload))
        db = Database(self.settings.effective_database_url)
        try:
            counts = await record_inbound_events(db, self.name, events)
        finally:
            await db.dispose()
        return counts.queued


@asynccontextmanager
async def meta_channel(name: str, base: Settings) -> AsyncIterator[Channel]:
    """Fake Graph host(s) for channel ``name`` and app settings pointing at them."""
    faults = SendFaults()
    async with AsyncExitStack() as stack:
        graph = FakeGraph("instagram" if name == "instagram" else "facebook")
        graph.app.middlewares.insert(0, faults.middleware)
        secret, verify = f"{name}-app-secret", f"{name}-verify"
        if name == "whatsapp":
            fake = wa.install_whatsapp(graph)
            await stack.enter_async_context(graph)
            account, token = "106540352242922", "EAAG-wa-" + secrets.token_hex(6)
            number = fake.add_number(account, token)
            settings = base.model_copy(
                update={
                    "graph_api_url": graph.url,
                    "whatsapp_app_secret": secret,
                    "whatsapp_verify_token": verify,
                    "whatsapp_access_token": token,
                    "whatsapp_phone_number_id": account,
                }
            )
            yield Channel(name, settings, graph, faults, secret, account, fake, number)
            return
        await stack.enter_async_context(graph)
        if name == "facebook":
            account, token, app_id = (
                "104560000001",
                "EAAG-page-" + secrets.token_hex(6),
                "3300440055",
            )
            graph.add_account(account, token)
            settings = base.model_copy(
                update={
                    "graph_api_url": graph.url,
                    "facebook_app_secret": secret,
                    "facebook_verify_token": verify,
                    "facebook_page_access_token": token,
                    "facebook_page_id": account,
                    "facebook_app_id": app_id,
                }
            )
            yield Channel(name, settings, graph, faults, secret, account, app_id=app_id)
            return
        other = await stack.enter_async_context(FakeGraph("facebook"))
        account, token, app_id = "17841400000000001", "IGAAT-" + secrets.token_hex(6), "7700880099"
        graph.add_account(account, token)
        settings = base.model_copy(
            update={
                "instagram_graph_api_url": graph.url,
                "graph_api_url": other.url,
                "instagram_app_secret": secret,
                "instagram_verify_token": verify,
                "instagram_access_token": token,
                "instagram_account_id": account,
                "instagram_app_id": app_id,
                "facebook_app_secret": "facebook-app-secret",
            }
        )
        yield Channel(
            name, settings, graph, faults, secret, account, app_id=app_id, other_graph=other
        )


class EchoRunner:
    """Answers each customer with their own words (so a reply crossing to another
    customer shows); ``hold``, when given, makes every turn wait until it is set, and
    ``log`` records when turns start and finish."""

    def __init__(self, hold: asyncio.Event | None = None) -> None:
        self.hold = hold
        self.log: list[str] = []

    async def __call__(self, ctx: TurnContext) -> list[Reply]:
        self.log.append(f"turn started: {ctx.event.text}")
        if self.hold is not None:
            await self.hold.wait()
        self.log.append(f"turn finished: {ctx.event.text}")
        return [Reply(text=f"Recibido: {ctx.event.text}")]


async def paused(live: Live, customer: str) -> bool:
    """Whether the agent is paused in ``customer``'s conversation (a person replied)."""
    from tendero.db.models import Lead

    async with live.db.read_session() as session:
        until = (
            await session.execute(
                sa.select(Conversation.agent_paused_until)
                .join(Lead, Lead.id == Conversation.lead_id)
                .where(Lead.platform_id == customer)
            )
        ).scalar_one_or_none()
    return until is not None


async def inbound_media(live: Live) -> list[Message]:
    return await live.rows(Message, Message.direction == "in", Message.media_path.is_not(None))


async def until(
    check: Callable[[], Awaitable[object] | object], within: float = 15.0, what: str = ""
) -> None:
    """Poll ``check`` (sync or async) until it holds; AssertionError after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)
