"""What Facebook Messenger and Instagram Direct share: the Messenger-platform format.

Both deliver ``{"object": ..., "entry": [{"messaging": [...], "standby": [...]}]}``
webhooks and take ``{"recipient": {"id"}, "messaging_type", "message": {...}}`` sends
with up to 13 quick replies. The two channel plugins subclass
:class:`MessengerPlatformChannel` and only set what differs (name, icon, settings
fields, text limit, Graph host and path); they never copy code between them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
import structlog

from tendero.channels.base import (
    Attachment,
    Button,
    ChannelError,
    EventKind,
    InboundEvent,
    MessageLimits,
    OutboundMessage,
)
from tendero.channels.meta import GraphClient, GraphError, MetaChannel
from tendero.channels.titles import fit_buttons

log = structlog.get_logger(__name__)

MAX_QUICK_REPLIES = 13
QUICK_REPLY_TITLE_LENGTH = 20
QUICK_REPLY_PAYLOAD_LENGTH = 1000
# Quick replies need a message to hang on; used when a reply carries choices but no text.
CHOICES_ONLY_TEXT = "👇"

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def messenger_limits(max_text_length: int, unit: str = "chars") -> MessageLimits:
    """Limits of a Messenger-platform channel: 13 quick replies (titles ≤ 20, payloads
    ≤ 1000) on a text message; no list messages; images go without caption."""
    return MessageLimits(
        max_text_length=max_text_length,
        text_length_unit=unit,  # type: ignore[arg-type]
        max_buttons=MAX_QUICK_REPLIES,
        max_button_title_length=QUICK_REPLY_TITLE_LENGTH,
        max_button_id_length=QUICK_REPLY_PAYLOAD_LENGTH,
        max_list_rows=0,
        max_caption_length=0,
    )


def split_sentences(text: str, limits: MessageLimits) -> list[str]:
    """``text`` as messages that each fit ``limits``, cut between sentences (or lines)
    where possible; a sentence too long on its own is cut between words."""
    text = text.strip()
    if not text or limits.fits_text(text):
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        if not sentence:
            continue
        candidate = f"{current} {sentence}" if current else sentence
        if limits.fits_text(candidate):
            current = candidate
            continue
        if current:
            parts.append(current)
        if limits.fits_text(sentence):
            current = sentence
        else:
            *whole, current = limits.split_text(sentence)
            parts.extend(whole)
    if current:
        parts.append(current)
    return parts


def _timestamp(value: Any) -> datetime:
    """Meta's ms timestamps (the Instagram dashboard test sends seconds, as a string);
    a missing or impossible one (not a number, NaN, out of range) is "now"."""
    return _epoch(value) or datetime.now(UTC)


def _epoch(value: Any) -> datetime | None:
    """A number of epoch milliseconds (or seconds, when small) as a time; None when it
    is not a number or names no representable time."""
    try:
        number = float(value)
        if number > 1e11:  # milliseconds
            number /= 1000
        return datetime.fromtimestamp(number, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _watermark(value: Any) -> datetime | None:
    """A receipt's ``watermark`` (ms); None when absent or not a number (never "now":
    a made-up watermark would mark messages read that were not)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return _epoch(number) if number > 0 else None


def _lenient_json(raw_body: bytes) -> Any:
    """What orjson refuses but is still JSON to the standard library (a lone surrogate
    escape, an integer past 64 bits, NaN): one odd value must not lose every message of
    the delivery. None when it does not parse at all (or is nested too deep)."""
    try:
        return json.loads(raw_body)
    except (ValueError, TypeError, RecursionError):
        return None


def _id(node: Any) -> str:
    return str(node.get("id") or "") if isinstance(node, Mapping) else ""


class MessengerPlatformChannel(MetaChannel):
    """A channel that speaks the Messenger-platform format (Facebook, Instagram).

    Subclasses set ``webhook_object`` (``page`` or ``instagram``), the settings fields
    (``verify_token_setting``, ``app_secret_settings``, ``app_id_setting``,
    ``access_token_setting``, ``account_id_setting``, ``graph_url_setting``) and may
    override :meth:`send_path`.
    """

    webhook_object: ClassVar[str]
    access_token_setting: ClassVar[str]
    account_id_setting: ClassVar[str]
    graph_url_setting: ClassVar[str] = "graph_api_url"

    # --- settings -------------------------------------------------------------------

    def _setting(self, name: str) -> str:
        return str(getattr(self.settings, name, "") or "")

    @property
    def account_id(self) -> str:
        return self._setting(self.account_id_setting)

    def send_path(self) -> str:
        """Where sends go, under ``{graph url}/{version}``."""
        return f"/{self.account_id}/messages"

    def graph(self) -> GraphClient:
        return GraphClient(
            self.require_http(),
            self._setting(self.graph_url_setting),
            self.settings.graph_api_version,
        )

    # --- ingress ----------------------------------------------------------------------

    def parse(self, raw_body: bytes) -> list[InboundEvent]:
        """Every event of a delivery: each ``entry[]``, each ``messaging[]`` and
        ``standby[]`` item, in order. A malformed item is skipped and the rest kept;
        a body that is not this channel's ``object`` gives nothing.

        Standby events (another app is the primary receiver, e.g. a person in the
        Page inbox) are never customer input for the agent: their messages become
        ``OTHER``. The Instagram dashboard's test shape (``changes[]``) is ignored.
        """
        try:
            data = orjson.loads(raw_body)
        except ValueError:
            data = _lenient_json(raw_body)
            if data is None:
                log.warning("webhook body is not JSON", channel=self.name)
                return []
        if not isinstance(data, Mapping) or data.get("object") != self.webhook_object:
            log.warning(
                "webhook for another object",
                channel=self.name,
                object=data.get("object") if isinstance(data, Mapping) else None,
            )
            return []
        events: list[InboundEvent] = []
        entries = data.get("entry")
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, Mapping):
                continue
            if entry.get("changes") and not entry.get("messaging"):
                log.info("webhook test delivery ignored", channel=self.name, entry=entry.get("id"))
            for key in ("messaging", "standby"):
                items = entry.get(key)
                if not isinstance(items, list):
                    continue
                for item in items:
                    try:
                        parsed = list(self._parse_item(item, standby=key == "standby"))
                    except Exception:  # an odd shape must never lose the other events
                        log.exception("webhook event skipped", channel=self.name)
                        continue
                    events.extend(parsed)
        return events

    def _parse_item(self, item: Any, *, standby: bool) -> Iterator[InboundEvent]:
        if not isinstance(item, Mapping):
            return
        sender, recipient = _id(item.get("sender")), _id(item.get("recipient"))
        base = {
            "channel": self.name,
            "timestamp": _timestamp(item.get("timestamp")),
            "raw": item,
        }
        message = item.get("message")
        if isinstance(message, Mapping):
            event = self._parse_message(message, sender, recipient, base)
            if standby and event.kind in (EventKind.MESSAGE, EventKind.BUTTON):
                event = _with_kind(event, EventKind.OTHER)
            yield event
            return
        if isinstance(item.get("postback"), Mapping):
            postback = item["postback"]
            payload = str(postback.get("payload") or "")
            mid = postback.get("mid") or f"postback:{sender}:{item.get('timestamp')}:{payload}"
            yield InboundEvent(
                kind=EventKind.OTHER if standby else EventKind.BUTTON,
                message_id=str(mid),
                customer_id=sender,
                business_id=recipient,
                text=str(postback.get("title") or ""),
                payload=payload,
                **base,
            )
            return
        for key, status in (("delivery", "delivered"), ("read", "read")):
            receipt = item.get(key)
            if isinstance(receipt, Mapping):
                yield from self._receipts(receipt, status, sender, recipient, base)
                return
        if isinstance(item.get("reaction"), Mapping):
            reaction = item["reaction"]
            mid = str(reaction.get("mid") or "")
            action = str(reaction.get("action") or "react")
            yield InboundEvent(
                kind=EventKind.REACTION,
                message_id=f"reaction:{mid}:{sender}:{action}:{item.get('timestamp')}",
                customer_id=sender,
                business_id=recipient,
                text=str(reaction.get("emoji") or "") if action == "react" else "",
                payload=str(reaction.get("reaction") or "") or None,
                reply_to=mid or None,
                **base,
            )
            return
        kind = next((key for key in item if key not in ("sender", "recipient", "timestamp")), "")
        yield InboundEvent(
            kind=EventKind.OTHER,
            message_id=f"{kind}:{sender}:{item.get('timestamp')}",
            customer_id=sender,
            business_id=recipient,
            **base,
        )

    def _receipts(
        self,
        receipt: Mapping[str, Any],
        status: str,
        sender: str,
        recipient: str,
        base: dict[str, Any],
    ) -> Iterator[InboundEvent]:
        """``delivery`` (``mids`` and/or a ``watermark``) and ``read`` (Messenger: a
        ``watermark``; Instagram's ``messaging_seen``: a ``mid``) as STATUS events.

        Named messages give one event each; otherwise the watermark gives one event with
        ``message_id`` "" and ``watermark`` set: every message the account sent to the
        customer at or before it was delivered (or read).
        """
        mids = receipt.get("mids")
        named = [str(m) for m in mids if m] if isinstance(mids, list) else []
        if receipt.get("mid"):
            named.append(str(receipt["mid"]))
        common = {"customer_id": sender, "business_id": recipient, "status": status, **base}
        if named:
            for mid in named:
                yield InboundEvent(kind=EventKind.STATUS, message_id=mid, **common)
            return
        yield InboundEvent(
            kind=EventKind.STATUS,
            message_id="",
            watermark=_watermark(receipt.get("watermark")),
            **common,
        )

    def _parse_message(
        self, message: Mapping[str, Any], sender: str, recipient: str, base: dict[str, Any]
    ) -> InboundEvent:
        mid = str(message.get("mid") or "")
        text = message.get("text")
        text = text if isinstance(text, str) else ""
        reply_to = message.get("reply_to")
        attachments = tuple(self._attachments(message.get("attachments")))
        if message.get("is_echo"):
            # We (or a person in the inbox, or another app) sent it: sender is the account.
            app_id = str(message.get("app_id") or "")
            return InboundEvent(
                kind=EventKind.ECHO,
                message_id=mid,
                customer_id=recipient,
                business_id=sender,
                text=text,
                attachments=attachments,
                echo_from_app=bool(app_id) and bool(self.app_id) and app_id == self.app_id,
                **base,
            )
        common = {
            "message_id": mid,
            "customer_id": sender,
            "business_id": recipient,
            "text": text,
            "attachments": attachments,
            "reply_to": str(reply_to.get("mid"))
            if isinstance(reply_to, Mapping) and reply_to.get("mid")
            else None,
            **base,
        }
        if message.get("is_deleted") or message.get("is_unsupported"):
            return InboundEvent(kind=EventKind.OTHER, **common)
        quick_reply = message.get("quick_reply")
        if isinstance(quick_reply, Mapping) and quick_reply.get("payload") is not None:
            return InboundEvent(
                kind=EventKind.BUTTON, payload=str(quick_reply["payload"]), **common
            )
        if text or attachments:
            return InboundEvent(kind=EventKind.MESSAGE, **common)
        return InboundEvent(kind=EventKind.OTHER, **common)

    @staticmethod
    def _attachments(items: Any) -> Iterator[Attachment]:
        if not isinstance(items, list):
            return
        for item in items:
            if not isinstance(item, Mapping):
                continue
            payload = item.get("payload")
            url = payload.get("url") if isinstance(payload, Mapping) else None
            yield Attachment(kind=str(item.get("type") or "file"), url=url or None)

    # --- egress -----------------------------------------------------------------------

    def render(self, message: OutboundMessage) -> list[dict[str, Any]]:
        """The Send API ``message`` objects that carry ``message``, in order: the image
        (an attachment of its own), then the text, split between sentences when it is
        too long, the quick replies on the last part."""
        bodies: list[dict[str, Any]] = []
        if message.image_url:
            bodies.append(
                {
                    "attachment": {
                        "type": "image",
                        "payload": {"url": message.image_url, "is_reusable": True},
                    }
                }
            )
        text = message.text.strip()
        choices = list(message.buttons) or [
            Button(id=row.id, title=row.title) for row in message.list_rows
        ]
        if len(choices) > MAX_QUICK_REPLIES:
            # Too many to tap: numbered text the customer answers by typing.
            descriptions = {row.id: row.description for row in message.list_rows}
            lines = []
            for number, choice in enumerate(choices, start=1):
                description = descriptions.get(choice.id)
                lines.append(
                    f"{number}. {choice.title}" + (f" — {description}" if description else "")
                )
            text = "\n".join(([text] if text else []) + lines)
            choices = []
        if choices and not text:
            text = CHOICES_ONLY_TEXT
        parts = split_sentences(text, self.limits)
        for part in parts:
            bodies.append({"text": part})
        if choices and parts:
            # Titles stay distinct when shortened, the words that differ kept visible.
            bodies[-1]["quick_replies"] = [
                {
                    "content_type": "text",
                    "title": choice.title,
                    "payload": choice.id[:QUICK_REPLY_PAYLOAD_LENGTH],
                }
                for choice in fit_buttons(choices, self.limits.max_button_title_length)
            ]
        return bodies

    async def send(self, message: OutboundMessage) -> str:
        """Send ``message`` (possibly as several Send API calls) and return the id of the
        last one. A :class:`~tendero.channels.meta.GraphError` (a
        :class:`~tendero.channels.base.ChannelError`) says whether to retry; outside the
        24-hour window it is not retryable."""
        bodies = self.render(message)
        if not bodies:
            raise ChannelError(f"{self.display_name}: nothing to send", code="empty")
        token = self._setting(self.access_token_setting)
        graph = self.graph()
        message_id = ""
        for body in bodies:
            request: dict[str, Any] = {"recipient": {"id": message.recipient_id}}
            if message.tag:
                request["messaging_type"] = "MESSAGE_TAG"
                request["tag"] = message.tag
            else:
                request["messaging_type"] = "RESPONSE"
            request["message"] = body
            answer = await graph.request(
                "POST", self.send_path(), token=token, json=request, timeout=self.graph_timeout
            )
            message_id = str(answer.get("message_id") or "")
            if not message_id:
                raise GraphError(
                    f"{self.display_name}: the Send API answered without a message_id",
                    retryable=False,
                    code="no_message_id",
                )
        return message_id

    async def sender_action(self, recipient_id: str, action: str) -> None:
        """``typing_on``, ``typing_off`` or ``mark_seen`` (sent without a message)."""
        await self.graph().request(
            "POST",
            self.send_path(),
            token=self._setting(self.access_token_setting),
            json={"recipient": {"id": recipient_id}, "sender_action": action},
            timeout=self.graph_timeout,
        )

    async def mark_read(self, event: InboundEvent) -> None:
        """When a turn starts: mark the customer's message seen and show typing."""
        if event.kind not in (EventKind.MESSAGE, EventKind.BUTTON) or not event.customer_id:
            return
        await self.sender_action(event.customer_id, "mark_seen")
        await self.sender_action(event.customer_id, "typing_on")


def _with_kind(event: InboundEvent, kind: EventKind) -> InboundEvent:
    return replace(event, kind=kind)
