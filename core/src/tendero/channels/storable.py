"""Fitting parsed webhook events to what the inbox can store.

A signed webhook body is whatever the platform (or anyone holding the app secret) sent;
the database has limits: NUL characters and lone UTF-16 surrogates are refused by
PostgreSQL (``text`` and ``jsonb``) and by the UTF-8 codec, ``jsonb`` refuses NaN and
infinities, and ids, names and statuses have column widths. An event that breaks one of
them would fail the whole delivery's write with a 500, and Meta would redeliver it for
days. :func:`storable_events` returns the events as the inbox can keep them:

* text anywhere (``raw`` included): NUL removed, a lone surrogate replaced by U+FFFD;
  non-finite numbers in ``raw`` become null, and ``raw`` nested too deep to encode is
  cut at :data:`MAX_RAW_DEPTH` levels;
* a platform message id longer than its column becomes ``sha256:<hex digest>`` (stable,
  so redeliveries stay no-ops); a customer name is cut, a phone that does not fit
  dropped, a status or attachment kind cut to its column;
* an event whose customer id does not fit is dropped (logged): no platform issues such
  ids, and no reply could reach it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import structlog

from tendero.channels.base import Attachment, InboundEvent

log = structlog.get_logger(__name__)

# Column widths (tendero.db.models): platform_message_id, leads.platform_id, leads.name,
# leads.phone, early_statuses.status, messages.kind.
MAX_MESSAGE_ID = 300
MAX_CUSTOMER_ID = 200
MAX_NAME = 300
MAX_PHONE = 40
MAX_STATUS = 20
MAX_KIND = 40
MAX_RAW_DEPTH = 64

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_events(channel: str, events: Iterable[InboundEvent]) -> list[InboundEvent]:
    """``events`` as the inbox can store them (see the module docstring)."""
    kept: list[InboundEvent] = []
    for event in events:
        fitted = storable_event(event)
        if fitted is None:
            log.warning(
                "webhook event dropped: customer id too long",
                channel=channel,
                length=len(event.customer_id),
            )
            continue
        kept.append(fitted)
    return kept


def storable_event(event: InboundEvent) -> InboundEvent | None:
    """One event made storable, or None when its customer id cannot be stored."""
    if _fits(event):
        return event  # nearly always: a few checks, no copy
    customer_id = clean_text(event.customer_id)
    if len(customer_id) > MAX_CUSTOMER_ID:
        return None
    message_id = clean_text(event.message_id)
    if len(message_id) > MAX_MESSAGE_ID:
        message_id = "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    reply_to = _optional(event.reply_to)
    if reply_to is not None and len(reply_to) > MAX_MESSAGE_ID:
        reply_to = "sha256:" + hashlib.sha256(reply_to.encode()).hexdigest()
    phone = _optional(event.customer_phone)
    name = _optional(event.customer_name)
    status = _optional(event.status)
    return replace(
        event,
        message_id=message_id,
        customer_id=customer_id,
        business_id=clean_text(event.business_id),
        text=clean_text(event.text),
        payload=_optional(event.payload),
        customer_name=name[:MAX_NAME] if name is not None else None,
        customer_phone=phone if phone is not None and len(phone) <= MAX_PHONE else None,
        attachments=tuple(_attachment(a) for a in event.attachments),
        reply_to=reply_to,
        status=status[:MAX_STATUS] if status is not None else None,
        error=_optional(event.error),
        raw=clean_json(event.raw) if isinstance(event.raw, Mapping) else {},
    )


def _fits(event: InboundEvent) -> bool:
    """Whether ``event`` can be stored as it is (the fast path of every delivery)."""
    if (
        len(event.message_id) > MAX_MESSAGE_ID
        or len(event.customer_id) > MAX_CUSTOMER_ID
        or len(event.reply_to or "") > MAX_MESSAGE_ID
        or len(event.customer_name or "") > MAX_NAME
        or len(event.customer_phone or "") > MAX_PHONE
        or len(event.status or "") > MAX_STATUS
        or any(len(a.kind) > MAX_KIND for a in event.attachments)
    ):
        return False
    texts = [
        event.message_id,
        event.customer_id,
        event.business_id,
        event.text,
        event.payload or "",
        event.customer_name or "",
        event.customer_phone or "",
        event.reply_to or "",
        event.status or "",
        event.error or "",
    ]
    for a in event.attachments:
        texts += (a.kind, a.url or "", a.media_id or "", a.mime_type or "", a.caption or "")
        if not _finite_or_none(a.latitude) or not _finite_or_none(a.longitude):
            return False
    if any(_UNSTORABLE.search(text) for text in texts):
        return False
    try:
        # The C encoder: refuses NaN and infinities, fails on nesting too deep; a NUL
        # comes out escaped, a lone surrogate as is.
        encoded = json.dumps(event.raw, allow_nan=False, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        return False
    return "\\u0000" not in encoded and not _UNSTORABLE.search(encoded)


def _finite_or_none(number: float | None) -> bool:
    return number is None or math.isfinite(number)


def clean_text(text: str) -> str:
    """``text`` without NUL characters, lone surrogates replaced by U+FFFD."""
    if not _UNSTORABLE.search(text):
        return text
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def clean_json(value: Any, depth: int = 0) -> Any:
    """A JSON value every database stores: clean texts (keys too), finite numbers, at
    most :data:`MAX_RAW_DEPTH` levels."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping | list | tuple) and depth >= MAX_RAW_DEPTH:
        return "(nested too deep)"
    if isinstance(value, Mapping):
        return {clean_text(str(k)): clean_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v, depth + 1) for v in value]
    return value


def _optional(text: str | None) -> str | None:
    return clean_text(text) if text is not None else None


def _attachment(attachment: Attachment) -> Attachment:
    return replace(
        attachment,
        kind=clean_text(attachment.kind)[:MAX_KIND],
        url=_optional(attachment.url),
        media_id=_optional(attachment.media_id),
        mime_type=_optional(attachment.mime_type),
        caption=_optional(attachment.caption),
        latitude=_finite(attachment.latitude),
        longitude=_finite(attachment.longitude),
    )


def _finite(number: float | None) -> float | None:
    return number if number is not None and math.isfinite(number) else None
