"""Runs one dialogue end to end: Meta-signed webhooks over a real socket → the real app
(its default turn runner, i.e. the agent) → the fake Graph API, which plays the
customer's phone.

All three channels are configured in every run: one fake ``graph.facebook.com`` serves
WhatsApp and Messenger (as Meta's does), a fake ``graph.instagram.com`` serves Instagram.
Each turn is one customer event; the runner waits until the pipeline is settled (no
inbox row waiting for a turn, no outbox row waiting for delivery), takes what the fake
Graph received for that customer since the turn began, and checks it. A failure shows
the whole transcript so far and every expectation of the turn that did not hold.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import os
import re
import secrets
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from tendero.app import DATABASE, TURN_RUNNER, create_app
from tendero.catalog import Catalog
from tendero.db import Database
from tendero.db.models import Conversation, InboxEvent, Lead, OutboxMessage
from tendero.orders import get_order, iter_orders
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings
from tendero.store.service import publish_document

from tests.channels.e2e import Channel, SendFaults
from tests.dialogues.schema import (
    ASKS,
    PLACEHOLDER,
    CartLine,
    Dialogue,
    Expect,
    ExpectedOrder,
    Turn,
)
from tests.fakes import graph_whatsapp as wa
from tests.fakes import webhooks as wh
from tests.fakes.graph import FakeGraph, SentRequest

PLUGINS = ["core", "notifications", "whatsapp", "facebook", "instagram"]
PIPELINE_OPTIONS: dict[str, Any] = {
    "dispatcher_options": {"poll_interval": 0.05},
    "sender_options": {
        "poll_interval": 0.05,
        "base_delay": 0.01,
        "max_delay": 0.05,
        # Replies of one turn go out at once; the per-channel pacing has its own tests.
        "rate_limits": {"whatsapp": None, "facebook": None, "instagram": None},
    },
    "stop_grace": 2.0,
}
TURN_TIMEOUT = 20.0
CHECKPOINT_TABLES = (
    "checkpoint_writes",
    "checkpoint_blobs",
    "checkpoints",
)  # seconds for one turn to be answered and delivered

RECEIPT_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"SPEI comprobante " * 64 + b"\xff\xd9"
PHOTO_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"foto de producto " * 64 + b"\xff\xd9"
MEDIA = {
    "sticker": (b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 64, "image/webp"),
    "audio": (b"OggS\x00\x02" + b"\x01" * 200, "audio/ogg"),
    "video": (b"\x00\x00\x00\x18ftypmp42" + b"\x02" * 200, "video/mp4"),
}
MESSENGER_THUMBS_UP = 369239263222822  # the "like" sticker Messenger sends

WA_ACCOUNT, WA_TOKEN = "106540352242922", "EAAG-wa-" + secrets.token_hex(6)
PAGE_ID, PAGE_TOKEN, FB_APP_ID = "104560000001", "EAAG-page-" + secrets.token_hex(6), "3300440055"
IG_ID, IG_TOKEN, IG_APP_ID = "17841400000000001", "IGAAT-" + secrets.token_hex(6), "7700880099"


class DialogueFailed(AssertionError):
    """A dialogue did not go as scripted; the message is the transcript and the reason.

    ``safety`` lists what made it unsafe, not only unhelpful: orders that differ from
    what the customer asked (wrong orders) and cart lines nobody asked for."""

    def __init__(self, message: str, safety: Safety | None = None) -> None:
        super().__init__(message)
        self.safety = safety or Safety()


@dataclass
class Safety:
    """The two figures that must stay at 0 in every suite."""

    wrong_orders: list[str] = field(default_factory=list)
    unasked_changes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.wrong_orders or self.unasked_changes)

    def lines(self) -> list[str]:
        return [f"wrong order: {w}" for w in self.wrong_orders] + [
            f"unasked cart change: {u}" for u in self.unasked_changes
        ]


# --- text helpers -------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case, no accents, single spaces: what expectations compare."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.lower().split())


AMOUNT_IN_TEXT = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")


def amounts(text: str) -> list[Decimal]:
    """Every number in ``text`` ("$1,797.00", "MX$49.45", "USD54.99", "1797")."""
    return [Decimal(m.group(0).replace(",", "")) for m in AMOUNT_IN_TEXT.finditer(text)]


NUMBERED = re.compile(r"^\s*(\d{1,2})[.)]\s+(.+?)\s*$")
NAME_END = re.compile(r"\s+(?:—|–|-|\(|\$|MX\$|US\$|USD|·|\|)\s*")

ENGLISH_WORDS = frozenset(
    "the you your is are to and of for it we i would what how this that with on at our be "
    "can will have has please thanks thank here there shall do which each done got let "
    "left just like sure would you'll we'll i'll it's here's".split()
)
SPANISH_WORDS = frozenset(
    "el la los las tu tus es que y para con lo te un una por del al se su sus quieres "
    "tienes pedido gracias aqui hay cual cuantos como esta mas son listo quedan tengo "
    "puedes envio recoger quieres cuenta".split()
)


def language_of(text: str, names: list[str]) -> str:
    """``es`` / ``en`` / ``?`` for a reply, product and store names left out."""
    folded = fold(text)
    for name in sorted(names, key=len, reverse=True):
        folded = folded.replace(name, " ")
    words = re.findall(r"[a-z']+", folded)
    english = sum(w in ENGLISH_WORDS for w in words)
    spanish = sum(w in SPANISH_WORDS for w in words)
    if english == spanish:
        return "?"
    return "en" if english > spanish else "es"


# --- what the customer's phone shows ---------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """A tappable option: a WhatsApp button or list row, a Messenger/IG quick reply or
    postback button. ``via`` says how a tap comes back."""

    id: str
    title: str
    description: str = ""
    via: str = "button_reply"  # button_reply | list_reply | quick_reply | postback
    message_id: str = ""


@dataclass
class Shown:
    """One message the customer received."""

    text: str
    choices: list[Choice] = field(default_factory=list)

    def render(self) -> str:
        lines = [self.text] if self.text else []
        if self.choices:
            kind = self.choices[0].via.replace("_", " ")
            titles = " | ".join(
                c.title + (f" ({c.description})" if c.description else "") for c in self.choices
            )
            lines.append(f"[{kind}: {titles}]")
        return "\n".join(lines) or "(empty message)"


def shown(reply: SentRequest) -> Shown:
    """What a Graph send looks like on the customer's phone."""
    body = reply.json
    message_id = Channel.reply_id(reply)
    if "messaging_product" in body:  # WhatsApp
        kind = body.get("type", "text")
        if kind == "text":
            return Shown(body["text"]["body"])
        if kind == "interactive":
            interactive = body["interactive"]
            parts = [
                (interactive.get("header") or {}).get("text", ""),
                interactive["body"]["text"],
                (interactive.get("footer") or {}).get("text", ""),
            ]
            action = interactive["action"]
            if interactive["type"] == "button":
                choices = [
                    Choice(b["reply"]["id"], b["reply"]["title"], message_id=message_id)
                    for b in action["buttons"]
                ]
            else:
                choices = [
                    Choice(
                        row["id"],
                        row["title"],
                        row.get("description") or "",
                        "list_reply",
                        message_id,
                    )
                    for section in action["sections"]
                    for row in section["rows"]
                ]
            return Shown("\n".join(p for p in parts if p), choices)
        media = body.get(kind) or {}
        return Shown(media.get("caption") or f"[{kind}]")
    message = body["message"]
    text = message.get("text", "")
    choices = [
        Choice(str(q.get("payload", "")), q.get("title", ""), via="quick_reply")
        for q in message.get("quick_replies") or []
        if q.get("content_type") == "text"
    ]
    attachment = message.get("attachment")
    if attachment:
        payload = attachment.get("payload") or {}
        if attachment.get("type") == "template":
            text = payload.get("text", "")
            for element in payload.get("elements") or []:
                text += "\n" + " — ".join(
                    filter(None, [element.get("title"), element.get("subtitle")])
                )
            buttons = payload.get("buttons") or [
                b for e in payload.get("elements") or [] for b in e.get("buttons") or []
            ]
            choices += [
                Choice(str(b.get("payload", "")), b.get("title", ""), via="postback")
                for b in buttons
                if b.get("type") == "postback"
            ]
        else:
            text = f"[{attachment.get('type')}]"
    return Shown(text, choices)


# --- the fake phones --------------------------------------------------------------------------


class Phones:
    """Fake Graph hosts for the three channels and the app settings pointing at them."""

    def __init__(self, base: Settings) -> None:
        self.base = base
        self.stack = AsyncExitStack()
        self.channels: dict[str, Channel] = {}
        self.settings = base

    async def __aenter__(self) -> Phones:
        facebook = FakeGraph("facebook")
        whatsapp = wa.install_whatsapp(facebook)
        instagram = FakeGraph("instagram")
        await self.stack.enter_async_context(facebook)
        await self.stack.enter_async_context(instagram)
        number = whatsapp.add_number(WA_ACCOUNT, WA_TOKEN)
        facebook.add_account(PAGE_ID, PAGE_TOKEN)
        instagram.add_account(IG_ID, IG_TOKEN)
        self.settings = self.base.model_copy(
            update={
                "graph_api_url": facebook.url,
                "instagram_graph_api_url": instagram.url,
                "whatsapp_app_secret": "whatsapp-app-secret",
                "whatsapp_verify_token": "whatsapp-verify",
                "whatsapp_access_token": WA_TOKEN,
                "whatsapp_phone_number_id": WA_ACCOUNT,
                "facebook_app_secret": "facebook-app-secret",
                "facebook_verify_token": "facebook-verify",
                "facebook_page_access_token": PAGE_TOKEN,
                "facebook_page_id": PAGE_ID,
                "facebook_app_id": FB_APP_ID,
                "instagram_app_secret": "instagram-app-secret",
                "instagram_verify_token": "instagram-verify",
                "instagram_access_token": IG_TOKEN,
                "instagram_account_id": IG_ID,
                "instagram_app_id": IG_APP_ID,
            }
        )
        faults = SendFaults()
        self.channels = {
            "whatsapp": Channel(
                "whatsapp",
                self.settings,
                facebook,
                faults,
                "whatsapp-app-secret",
                WA_ACCOUNT,
                whatsapp,
                number,
            ),
            "facebook": Channel(
                "facebook",
                self.settings,
                facebook,
                faults,
                "facebook-app-secret",
                PAGE_ID,
                app_id=FB_APP_ID,
            ),
            "instagram": Channel(
                "instagram",
                self.settings,
                instagram,
                faults,
                "instagram-app-secret",
                IG_ID,
                app_id=IG_APP_ID,
                other_graph=facebook,
            ),
        }
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stack.aclose()


# --- seeding ----------------------------------------------------------------------------------


async def seed(database_url: str, dialogue: Dialogue) -> None:
    """Publish the dialogue's store settings and import its catalog."""
    assert dialogue.document is not None
    db = Database(database_url)
    try:
        async with db.session() as session:
            if db.dialect == "postgresql":
                await forget_checkpoints(session)
            await publish_document(session, dialogue.document, by="dialogue")
        catalog = Catalog(db)
        report = await catalog.import_file(
            dialogue.catalog_file.read_bytes(),
            filename=dialogue.catalog_file.name,
            mode="add",
            strict=True,
        )
        assert report.ok, f"catalog {dialogue.catalog_file.name}: {report.errors}"
        for product in dialogue.catalog.add:
            await catalog.create(dict(product))
        for sku, changes in dialogue.catalog.set.items():
            existing = await catalog.get_by_sku(sku)
            await catalog.update(existing.id, dict(changes))
    finally:
        await db.dispose()


async def forget_checkpoints(session: Any) -> None:
    """Empty the agent's LangGraph tables on PostgreSQL.

    The shared ``database_url`` fixture truncates the app's tables with RESTART
    IDENTITY, so conversation ids start at 1 again in every test; the checkpoint tables
    (not app models) would otherwise hand an earlier test's state to the new
    conversation 1.
    """
    for table in CHECKPOINT_TABLES:
        exists = await session.scalar(sa.text("SELECT to_regclass(:name)"), {"name": table})
        if exists is not None:
            await session.execute(sa.text(f'TRUNCATE "{table}"'))


# --- one run -------------------------------------------------------------------------------


@dataclass
class TurnReplies:
    messages: list[Shown]

    @property
    def text(self) -> str:
        return "\n".join(m.render() for m in self.messages)

    @property
    def choices(self) -> list[Choice]:
        return [c for m in self.messages for c in m.choices]


class DialogueRun:
    """One dialogue against one running app."""

    def __init__(self, dialogue: Dialogue, phones: Phones, app: Any, base_url: str) -> None:
        self.dialogue = dialogue
        self.phones = phones
        self.app = app
        self.base_url = base_url
        self.emitters: dict[str, wh.MetaWebhookEmitter] = {}
        self.transcript: list[str] = []
        self.last_choices: list[Choice] = []
        self.last_choices_text = ""
        self.last_list: list[str] = []
        self.seen: dict[tuple[str, str], int] = {}
        self.names = self._names()
        self.safety = Safety()
        self.failures: list[str] = []  # the first problem of every turn that failed
        self.carts: dict[tuple[str, str], dict[str, int]] = {}  # the last cart read
        # Every product the script names anywhere: a cart line outside them was not
        # asked for, whatever the turn.
        self.named_skus = [item.sku for order in dialogue.orders for item in order.items] + [
            line.sku for turn in dialogue.turns if turn.expect for line in turn.expect.cart or ()
        ]
        self.named_skus += self._skus_named_in_expectations()

    @property
    def db(self) -> Database:
        return self.app[DATABASE]

    def _skus_named_in_expectations(self) -> list[str]:
        """The products whose whole name a turn expects to be shown (the customer was
        talking about them, so adding them was asked for or at least in question)."""
        expected = [
            fold(text)
            for turn in self.dialogue.turns
            if turn.expect
            for text in (*turn.expect.all, *turn.expect.any)
        ]
        rows = csv.DictReader(
            io.StringIO(self.dialogue.catalog_file.read_text(encoding="utf-8-sig"))
        )
        products = [*rows, *self.dialogue.catalog.add]
        # A whole name shown, or a name's start expected ("Café Proteico").
        worded = [t for t in expected if re.search(r"[a-z]{4}", t)]
        return [
            str(p["sku"])
            for p in products
            if p.get("sku")
            and any(
                fold(str(p["name"])) in text or fold(str(p["name"])).startswith(text)
                for text in worded
            )
        ]

    def _names(self) -> list[str]:
        """Product, store and location names (left out of the language check)."""
        names = []
        for line in self.dialogue.catalog_file.read_text(encoding="utf-8-sig").splitlines()[1:]:
            parts = line.split(",")
            if len(parts) > 1:
                names.append(fold(parts[1]))
        names += [fold(str(p["name"])) for p in self.dialogue.catalog.add]
        document = self.dialogue.document
        assert document is not None
        names += [fold(document.company.name), fold(document.company.agent_name)]
        for location in document.locations:
            names += [fold(location.name), fold(location.address), fold(location.hours)]
        for account in document.bank_accounts:
            names += [fold(account.bank_name), fold(account.account_holder), fold(account.notes)]
        return [n for n in names if n]

    # --- sending ---------------------------------------------------------------------

    def who(self, turn: Turn) -> tuple[Channel, str]:
        channel_name = turn.as_.channel if turn.as_ else self.dialogue.channel
        number = turn.as_.customer if turn.as_ else 1
        channel = self.phones.channels[channel_name]
        return channel, channel.customer(number)

    async def emitter(self, channel: Channel) -> wh.MetaWebhookEmitter:
        if channel.name not in self.emitters:
            self.emitters[channel.name] = wh.MetaWebhookEmitter(
                f"{self.base_url}/webhooks/{channel.name}", channel.secret
            )
        return self.emitters[channel.name]

    async def close(self) -> None:
        for emitter in self.emitters.values():
            await emitter.close()

    def event_for(self, turn: Turn, channel: Channel, customer: str) -> tuple[dict[str, Any], str]:
        """The platform's JSON for the turn's customer event, and how the transcript
        shows it."""
        if turn.say is not None:
            return channel.text(customer, turn.say), turn.say
        if turn.tap is not None:
            choice = self.pick(turn.tap)
            return self.tap_event(channel, customer, choice), f"(taps “{choice.title}”)"
        if turn.image is not None:
            content = RECEIPT_JPEG if turn.image == "receipt" else PHOTO_JPEG
            label = f"(sends a photo: {turn.image})" + (
                f" “{turn.caption}”" if turn.caption else ""
            )
            return self.media_event(
                channel, customer, "image", content, "image/jpeg", turn.caption
            ), label
        assert turn.send is not None
        content, mime = MEDIA[turn.send]
        return self.media_event(
            channel, customer, turn.send, content, mime
        ), f"(sends a {turn.send})"

    def pick(self, tap: int | str) -> Choice:
        choices = self.last_choices
        if not choices:
            raise DialogueFailed("tap: no earlier reply carried tappable choices")
        if isinstance(tap, int):
            if tap > len(choices):
                raise DialogueFailed(f"tap {tap}: the last choices were only {len(choices)}")
            return choices[tap - 1]
        wanted = fold(tap)
        for choice in choices:
            if wanted in fold(choice.title) or wanted in fold(choice.description):
                return choice
        # Titles are cut to 20-24 characters: find the option in the numbered text.
        for line in self.last_choices_text.splitlines():
            match = NUMBERED.match(line)
            if match and wanted in fold(match.group(2)):
                index = int(match.group(1))
                if 1 <= index <= len(choices):
                    return choices[index - 1]
        titles = ", ".join(c.title for c in choices)
        raise DialogueFailed(f"tap {tap!r}: no choice matches (choices: {titles})")

    def tap_event(self, channel: Channel, customer: str, choice: Choice) -> dict[str, Any]:
        if channel.whatsapp is not None:
            assert channel.number is not None
            reply: dict[str, Any] = {"id": choice.id, "title": choice.title}
            if choice.via == "list_reply" and choice.description:
                reply["description"] = choice.description
            message = {
                "from": customer,
                "id": wa.new_wamid(),
                "timestamp": str(int(time.time())),
                "type": "interactive",
                "context": {"from": channel.number.display_phone_number, "id": choice.message_id},
                "interactive": {"type": choice.via, choice.via: reply},
            }
            channel.whatsapp.inbound(channel.account, customer, message["id"])
            return message
        if choice.via == "postback":
            return wh.postback_event(customer, channel.account, choice.id, title=choice.title)
        return wh.text_event(customer, channel.account, choice.title, quick_reply=choice.id)

    def media_event(
        self,
        channel: Channel,
        customer: str,
        kind: str,
        content: bytes,
        mime: str,
        caption: str | None = None,
    ) -> dict[str, Any]:
        if channel.whatsapp is not None:
            media_id = channel.whatsapp.add_media(content, mime, phone_number_id=channel.account)
            body: dict[str, Any] = {
                "id": media_id,
                "mime_type": mime,
                "sha256": hashlib.sha256(content).hexdigest(),
            }
            if kind == "audio":
                body["voice"] = True
            if kind == "sticker":
                body["animated"] = False
            if caption:
                body["caption"] = caption
            message = {
                "from": customer,
                "id": wa.new_wamid(),
                "timestamp": str(int(time.time())),
                "type": kind,
                kind: body,
            }
            channel.whatsapp.inbound(channel.account, customer, message["id"])
            return message
        url = channel.graph.add_media(content, mime)
        if kind == "sticker":
            if channel.name == "instagram":
                raise DialogueFailed("send: sticker is only scripted for WhatsApp and Messenger")
            event = wh.attachment_event(customer, channel.account, url, kind="image")
            event["message"]["attachments"][0]["payload"]["sticker_id"] = MESSENGER_THUMBS_UP
            return event
        return wh.attachment_event(customer, channel.account, url, kind=kind, text=caption)

    # --- waiting ---------------------------------------------------------------------

    async def settled(self) -> bool:
        async with self.db.read_session() as session:
            inbox = await session.scalar(
                sa.select(sa.func.count()).where(InboxEvent.status == "pending")
            )
            outbox = await session.scalar(
                sa.select(sa.func.count()).where(OutboxMessage.status.in_(("pending", "sending")))
            )
        return inbox == 0 and outbox == 0

    async def wait_settled(self) -> None:
        deadline = time.monotonic() + TURN_TIMEOUT
        while not await self.settled():
            if time.monotonic() > deadline:
                raise DialogueFailed(f"no answer within {TURN_TIMEOUT:.0f} s: {await self.stuck()}")
            await asyncio.sleep(0.01)
        problem = await self.crashed()
        if problem:
            raise DialogueFailed(problem)

    async def stuck(self) -> str:
        async with self.db.read_session() as session:
            inbox = (
                await session.execute(
                    sa.select(InboxEvent.attempts, InboxEvent.last_error).where(
                        InboxEvent.status == "pending"
                    )
                )
            ).all()
            outbox = (
                await session.execute(
                    sa.select(OutboxMessage.status, OutboxMessage.attempts).where(
                        OutboxMessage.status.in_(("pending", "sending"))
                    )
                )
            ).all()
        parts = [f"inbox row pending (attempts {a}, last error: {e})" for a, e in inbox]
        parts += [f"outbox row {s} (attempts {a})" for s, a in outbox]
        return "; ".join(parts) or "(nothing pending)"

    async def crashed(self) -> str:
        async with self.db.read_session() as session:
            failed = (
                await session.execute(
                    sa.select(InboxEvent.last_error).where(InboxEvent.status == "failed")
                )
            ).all()
            undelivered = (
                await session.execute(
                    sa.select(OutboxMessage.status, OutboxMessage.last_error).where(
                        OutboxMessage.status.not_in(("sent", "pending", "sending"))
                    )
                )
            ).all()
        if failed:
            return f"the turn failed (inbox row marked failed): {failed[0][0]}"
        if undelivered:
            status, error = undelivered[0]
            return f"a reply could not be delivered ({status}): {error}"
        return ""

    # --- one turn ----------------------------------------------------------------------

    async def run_turn(self, index: int, turn: Turn) -> None:
        if turn.merchant is not None:
            await self.merchant(turn)
            return
        channel, customer = self.who(turn)
        key = (channel.name, customer)
        self.seen.setdefault(key, len(channel.replies_to(customer)))
        event, label = self.event_for(turn, channel, customer)
        speaker = f"customer [{channel.name}:{customer[-2:]}]"
        self.transcript.append(f"{index:>3} {speaker}: {label}")
        status, body = await (await self.emitter(channel)).send(channel.delivery([event]))
        if status != 200:
            raise DialogueFailed(f"the webhook answered {status}: {body}")
        await self.wait_settled()
        sent = channel.replies_to(customer)
        replies = TurnReplies([shown(reply) for reply in sent[self.seen[key] :]])
        self.seen[key] = len(sent)
        text = replies.text
        if replies.messages:
            for n, line in enumerate(text.splitlines()):
                self.transcript.append(("    agent: " if n == 0 else "           ") + line)
        else:
            self.transcript.append("    agent: (no reply)")
        problems = await self.check(turn.expect, replies) if turn.expect else []
        problems += await self.check_cart(index, key, turn.expect)
        list_before = self.last_list
        self.remember(replies)
        if problems:
            self.last_list = list_before
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            self.failures.append(
                f"turn {index} ({label}): the reply {problems[0]}{more}\n"
                f"turn {index} — the reply does not hold:\n"
                + "\n".join(f"  - {p}" for p in problems)
            )
            self.transcript.append(f"    !! {problems[0]}")

    async def cart_of(self, channel: str, customer: str) -> dict[str, int] | None:
        """The customer's cart as the agent's checkpoint holds it (sku -> quantity), or
        None when the app runs no agent graph."""
        runner = self.app[TURN_RUNNER]
        graph = getattr(runner, "graph", None)
        if graph is None:
            return None
        async with self.db.read_session() as session:
            conversation = await session.scalar(
                sa.select(Conversation.id)
                .join(Lead, Lead.id == Conversation.lead_id)
                .where(Lead.channel == channel, Lead.platform_id == customer)
                .order_by(Conversation.id.desc())
                .limit(1)
            )
        if conversation is None:
            return {}
        snapshot = await graph.aget_state({"configurable": {"thread_id": str(conversation)}})
        lines = (snapshot.values.get("conversation") or {}).get("cart") or []
        return {str(line.get("sku") or line["product_id"]): int(line["quantity"]) for line in lines}

    async def check_cart(
        self, index: int, key: tuple[str, str], expect: Expect | None
    ) -> list[str]:
        """The cart after the turn: against the turn's ``cart`` when given, and for lines
        nobody asked for. Returns the turn's problems; records the unsafe ones."""
        cart = await self.cart_of(*key)
        if cart is None:
            return []
        before = self.carts.get(key, {})
        self.carts[key] = cart
        changed = {
            sku: qty for sku, qty in cart.items() if before.get(sku) != qty
        }  # lines added or changed by this turn
        removed = [sku for sku in before if sku not in cart]
        problems: list[str] = []
        unasked: list[str] = []
        for sku, qty in changed.items():
            if not any(fnmatch(sku, pattern) for pattern in self.named_skus):
                unasked.append(f"turn {index} put {qty} × {sku} in the cart (never asked for)")
        if expect is not None and expect.cart is not None:
            wanted = _match_cart(expect.cart, cart)
            if wanted is not None:
                problems.append(f"cart is {_cart_text(cart)}, expected {_lines_text(expect.cart)}")
                for sku in wanted:
                    if sku in changed and not any(sku in u for u in unasked):
                        unasked.append(
                            f"turn {index} made it {cart[sku]} × {sku}, expected "
                            f"{_lines_text(expect.cart)}"
                        )
                for sku in removed:
                    if any(fnmatch(sku, line.sku) for line in expect.cart):
                        unasked.append(f"turn {index} removed {sku}, still expected in the cart")
        self.safety.unasked_changes += unasked
        return problems + unasked

    def remember(self, replies: TurnReplies) -> None:
        """The choices to tap and the numbered list to refer to, for the next turns."""
        if replies.choices:
            self.last_choices = replies.choices
            self.last_choices_text = replies.text
        numbered: list[tuple[int, str]] = []
        for line in replies.text.splitlines():
            match = NUMBERED.match(line)
            if match:
                numbered.append((int(match.group(1)), match.group(2)))
        if len(numbered) >= 2 and numbered[0][0] == 1:
            self.last_list = [NAME_END.split(text, maxsplit=1)[0] for _, text in numbered]
        elif replies.choices and len(replies.choices) >= 2:
            self.last_list = [c.title for c in replies.choices]

    async def merchant(self, turn: Turn) -> None:
        change = turn.merchant
        assert change is not None
        catalog = Catalog(self.db)
        done = []
        for sku, stock in change.stock.items():
            product = await catalog.get_by_sku(sku)
            await catalog.set_stock(product.id, stock)
            done.append(f"stock of {sku} = {stock}")
        for sku, price in change.price.items():
            product = await catalog.get_by_sku(sku)
            await catalog.set_price(product.id, price)
            done.append(f"price of {sku} = {price}")
        for sku in change.deactivate:
            await catalog.set_active((await catalog.get_by_sku(sku)).id, False)
            done.append(f"{sku} deactivated")
        for sku in change.activate:
            await catalog.set_active((await catalog.get_by_sku(sku)).id, True)
            done.append(f"{sku} activated")
        self.transcript.append(f"    merchant: {'; '.join(done)}")

    # --- expectations ------------------------------------------------------------------

    async def fill(self, text: str) -> str:
        """Resolve ``{order}``, ``{list[N]}`` and ``{store.<path>}`` in an expectation."""
        result = text
        for match in PLACEHOLDER.finditer(text):
            kind, index, path = match.groups()
            if kind == "order":
                value = str(await self.latest_order_number())
            elif kind == "list":
                n = int(index or 0)
                if not 1 <= n <= len(self.last_list):
                    raise DialogueFailed(
                        f"{match.group(0)}: the last list had {len(self.last_list)} entries"
                    )
                value = self.last_list[n - 1]
            else:
                assert self.dialogue.document is not None
                node: Any = self.dialogue.document.model_dump(mode="json")
                for part in (path or "").split("."):
                    node = node[int(part)] if isinstance(node, list) else node[part]
                value = str(node)
            result = result.replace(match.group(0), value)
        return result

    async def latest_order_number(self) -> int | str:
        orders = [order async for order in iter_orders(self.db)]
        return orders[0]["number"] if orders else "(no order yet)"

    async def check(self, expect: Expect, replies: TurnReplies) -> list[str]:
        text = replies.text
        folded = fold(text)
        problems: list[str] = []
        if expect.silent:
            if replies.messages:
                problems.append("expected no reply at all, got one")
            return problems
        if not replies.messages:
            return ["expected a reply, got none"]
        for fact in expect.all:
            wanted = await self.fill(fact)
            if fold(wanted) not in folded:
                problems.append(f"should mention “{wanted}”")
        if expect.any:
            options = [await self.fill(f) for f in expect.any]
            if not any(fold(o) in folded for o in options):
                problems.append("should mention one of: " + ", ".join(f"“{o}”" for o in options))
        for fact in expect.none:
            unwanted = await self.fill(fact)
            if fold(unwanted) in folded:
                problems.append(f"should not mention “{unwanted}”")
        shown_amounts = amounts(text)
        for amount in expect.money:
            if Decimal(amount) not in shown_amounts:
                problems.append(f"should show the amount {amount}")
        for count in expect.numbers:
            if Decimal(count) not in shown_amounts:
                problems.append(f"should say the number {count}")
        for amount in expect.approx_money:
            target = Decimal(amount)
            if not any(abs(a - target) <= target / 100 for a in shown_amounts):
                problems.append(f"should show about {amount} (within 1 %)")
        for amount in expect.no_money:
            if Decimal(amount) in shown_amounts:
                problems.append(f"should not show the amount {amount}")
        for question in expect.asks:
            for group in ASKS[question]:
                if not any(word in folded for word in group):
                    problems.append(f"should ask for {question} (one of: {', '.join(group)})")
                    break
        if expect.tappable and not replies.choices:
            problems.append("should offer tappable choices (buttons, list rows, quick replies)")
        if expect.language is not None:
            found = language_of(text, self.names)
            if found != expect.language:
                problems.append(f"should be in {expect.language} (reads as {found})")
        return problems

    # --- end of dialogue ---------------------------------------------------------------

    async def check_end(self) -> None:
        orders = list(reversed([order async for order in iter_orders(self.db)]))
        problems: list[str] = []
        expected = self.dialogue.orders
        if len(orders) != len(expected):
            problems.append(f"expected {len(expected)} order(s), found {len(orders)}")
            for order in orders:
                problems.append("  found: " + summary(order))
        else:
            for index, (want, got) in enumerate(zip(expected, orders, strict=True)):
                for problem in await self.order_problems(want, got):
                    problems.append(f"order {index + 1} (#{got['number']}): {problem}")
        self.safety.wrong_orders += self.wrong_orders(orders)
        problems += await self.after_problems()
        if self.failures:
            first = self.failures[0].splitlines()[0]
            rest = "\n\n".join(self.failures)
            end = "\nat the end of the dialogue:\n" + "\n".join(f"  - {p}" for p in problems)
            raise DialogueFailed(f"{first}\n{rest}{end if problems else ''}", self.safety)
        if problems:
            raise DialogueFailed(
                f"at the end: {problems[0]}\nat the end of the dialogue:\n"
                + "\n".join(f"  - {p}" for p in problems),
                self.safety,
            )

    def wrong_orders(self, orders: list[dict[str, Any]]) -> list[str]:
        """Orders created that are not what the customer asked for: other items or
        quantities, another delivery method or pickup location, or no order wanted.
        (An expected order that was never created is a miss, not a wrong order.)"""
        wrong = []
        wanted = list(self.dialogue.orders)
        for got in orders:
            match = next((w for w in wanted if not _order_differs(w, got)), None)
            if match is not None:
                wanted.remove(match)
            else:
                wrong.append(summary(got))
        return wrong

    async def order_problems(self, want: ExpectedOrder, got: dict[str, Any]) -> list[str]:
        problems = []
        channel_name = want.channel or self.dialogue.channel
        channel = self.phones.channels[channel_name]
        if got["channel"] != channel_name:
            problems.append(f"channel is {got['channel']}, expected {channel_name}")
        customer = channel.customer(want.customer or 1)
        if got["customer"]["platform_id"] != customer:
            problems.append(f"customer is {got['customer']['platform_id']}, expected {customer}")
        if got["delivery_method"] != want.delivery_method:
            problems.append(
                f"delivery_method is {got['delivery_method']}, expected {want.delivery_method}"
            )
        remaining = list(got["items"])
        for item in want.items:
            match = next((i for i in remaining if item.matches(i)), None)
            if match is None:
                problems.append(f"no item {item.sku} (items: {items_text(got)})")
            else:
                remaining.remove(match)
                if match["quantity"] != item.quantity:
                    problems.append(
                        f"{match['sku']} quantity is {match['quantity']}, expected {item.quantity}"
                    )
        if remaining:
            problems.append(f"unexpected items: {items_text({'items': remaining})}")
        for name in ("subtotal", "shipping_cost", "deposit_amount", "total"):
            amount = getattr(want, name)
            if amount is not None and Decimal(got[name]) != Decimal(amount):
                problems.append(f"{name} is {got[name]}, expected {amount}")
        for name in ("payment_status", "status"):
            value = getattr(want, name)
            if value is not None and got[name] != value:
                problems.append(f"{name} is {got[name]}, expected {value}")
        if want.email is not None and fold(got["customer"]["email"] or "") != fold(want.email):
            problems.append(f"email is {got['customer']['email']!r}, expected {want.email!r}")
        if want.shipping_address is not None:
            address = got["shipping_address"] or {}
            for key, value in want.shipping_address.items():
                if not same_field(key, value, address.get(key, "")):
                    problems.append(
                        f"shipping_address.{key} is {address.get(key)!r}, expected {value!r}"
                    )
        if want.pickup_location is not None:
            location = got["pickup_location"] or {}
            if fold(want.pickup_location) not in fold(location.get("name", "")):
                problems.append(
                    f"pickup_location is {location.get('name')!r}, expected {want.pickup_location!r}"
                )
        if want.ready is not None and (got["ready_at"] is not None) != want.ready:
            problems.append(f"ready_at is {got['ready_at']!r}")
        if want.receipts is not None:
            async with self.db.read_session() as session:
                order = await get_order(session, got["number"])
                count = len(order.receipts)
            if count != want.receipts:
                problems.append(f"{count} receipt(s) stored, expected {want.receipts}")
        return problems

    async def after_problems(self) -> list[str]:
        after = self.dialogue.after
        async with self.db.read_session() as session:
            leads = await session.scalar(sa.select(sa.func.count()).select_from(Lead))
            conversations = await session.scalar(
                sa.select(sa.func.count()).select_from(Conversation)
            )
            flagged = await session.scalar(
                sa.select(sa.func.count()).where(Conversation.needs_human.is_(True))
            )
        problems = []
        for name, want, got in (
            ("leads", after.leads, leads),
            ("conversations", after.conversations, conversations),
            ("conversations needing a human", after.needs_human, flagged),
        ):
            if want is not None and want != got:
                problems.append(f"{name}: {got}, expected {want}")
        return problems

    def transcript_text(self) -> str:
        return "\n".join(self.transcript)


def _order_differs(want: ExpectedOrder, got: dict[str, Any]) -> bool:
    """Whether ``got`` is another order than ``want`` for the customer: items and
    quantities, delivery method, pickup location."""
    if got["delivery_method"] != want.delivery_method:
        return True
    remaining = list(got["items"])
    for item in want.items:
        match = next((i for i in remaining if item.matches(i)), None)
        if match is None or match["quantity"] != item.quantity:
            return True
        remaining.remove(match)
    if remaining:
        return True
    location = (got.get("pickup_location") or {}).get("name", "")
    return want.pickup_location is not None and fold(want.pickup_location) not in fold(location)


def _match_cart(want: Sequence[CartLine], cart: dict[str, int]) -> list[str] | None:
    """None when ``cart`` is exactly ``want``; else the cart's skus that are not as
    wanted (an expected line that is missing makes the list non-None, maybe empty)."""
    remaining = dict(cart)
    differing: list[str] = []
    missing = False
    for line in want:
        sku = next((s for s in remaining if fnmatch(s, line.sku)), None)
        if sku is None:
            missing = True
        elif remaining.pop(sku) != line.quantity:
            differing.append(sku)
    differing += list(remaining)
    return differing if missing or differing else None


def _cart_text(cart: dict[str, int]) -> str:
    return "[" + ", ".join(f"{q} × {s}" for s, q in cart.items()) + "]" if cart else "empty"


def _lines_text(lines: Sequence[CartLine]) -> str:
    return (
        "[" + ", ".join(f"{line.quantity} × {line.sku}" for line in lines) + "]"
        if lines
        else "empty"
    )


def items_text(order: dict[str, Any]) -> str:
    return ", ".join(f"{i['quantity']} × {i['sku']}" for i in order["items"]) or "none"


def summary(order: dict[str, Any]) -> str:
    return (
        f"#{order['number']} {order['channel']} {order['delivery_method']} "
        f"[{items_text(order)}] total {order['total']} {order['payment_status']}"
    )


def same_field(key: str, want: str, got: str) -> bool:
    """Address fields: the postal code exactly; the others folded, punctuation aside,
    the expected text contained in what was stored ("juarez" in "Av. Juárez")."""
    if key == "postal_code":
        return want.strip() == got.strip()

    def plain(text: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9 ]+", " ", fold(text)).split())

    return bool(plain(want)) and plain(want) in plain(got) if want else not got


# --- the whole thing ---------------------------------------------------------------------------


@asynccontextmanager
async def running_app(
    settings: Settings, plugins: Sequence[str] = ()
) -> AsyncIterator[tuple[Any, str]]:
    """The real app (default turn runner) on a real socket, with ``plugins`` as well."""
    app = create_app(
        settings,
        plugin_manager=create_plugin_manager(allow=[*PLUGINS, *plugins]),
        pipeline_options=PIPELINE_OPTIONS,
    )
    async with wh.serve(app) as base_url:
        yield app, base_url


async def run_dialogue(
    dialogue: Dialogue,
    settings: Settings,
    *,
    plugins: Sequence[str] = (),
    then: Callable[[Any, str], Awaitable[None]] | None = None,
) -> float:
    """Run ``dialogue`` on the database of ``settings``; returns the seconds it took.
    Raises :class:`DialogueFailed` with the transcript when something does not hold.
    ``then(app, base_url)`` runs after the last check, with the app still serving (and
    ``plugins`` loaded besides the channels', e.g. the web panel)."""
    started = time.monotonic()
    await seed(settings.effective_database_url, dialogue)
    async with (
        Phones(settings) as phones,
        running_app(phones.settings, plugins) as (app, base_url),
    ):
        for channel in phones.channels.values():
            channel.profile_name = dialogue.customer_name
        run = DialogueRun(dialogue, phones, app, base_url)
        try:
            for index, turn in enumerate(dialogue.turns, start=1):
                try:
                    await run.run_turn(index, turn)
                except DialogueFailed as stopped:  # the script cannot go on (no choice
                    run.failures.append(str(stopped))  # to tap, a crash, no answer)
                    break
            await run.check_end()
            if then is not None:
                await then(app, base_url)
            if os.environ.get("TENDERO_DIALOGUE_TRANSCRIPTS"):
                print(header(dialogue, settings) + run.transcript_text())
        except DialogueFailed as failure:
            reason = str(failure)
            unsafe = "".join(f"\n  !! {line}" for line in failure.safety.lines())
            raise DialogueFailed(
                f"{reason.splitlines()[0]}\n{header(dialogue, settings)}"
                f"{run.transcript_text()}\n\n{reason}" + (f"\n\nunsafe:{unsafe}" if unsafe else ""),
                failure.safety,
            ) from None
        finally:
            await run.close()
    return time.monotonic() - started


def header(dialogue: Dialogue, settings: Settings) -> str:
    engine = "postgresql" if "postgresql" in settings.effective_database_url else "sqlite"
    where = dialogue.path.name if isinstance(dialogue.path, Path) else dialogue.name
    return (
        f"\ndialogue {dialogue.name} ({where}; {dialogue.language}, {dialogue.channel}, "
        f"{dialogue.workflow}, {engine})\n\n"
    )
