"""An :class:`~tendero.channels.OutboundMessage` → WhatsApp Cloud API request bodies.

Pure functions. :func:`render` turns one channel-neutral message into the list of
``POST /{phone_number_id}/messages`` bodies that deliver it, each within WhatsApp's
limits, so the platform never rejects what the adapter builds:

* text longer than 4096 characters is split into several text messages;
* choices become reply buttons (1–3), else a list (≤ 10 rows), else numbered text the
  customer can answer by typing; titles are shortened to fit so that they stay
  distinct and keep the words that tell variants apart
  (:func:`tendero.channels.titles.distinct_titles`), a list row whose title was
  shortened carries the full name in its description, descriptions are cut to fit;
* an interactive body over 1024 characters sends its leading text first, as text;
* an image carries the text as its caption when it fits 1024 characters, otherwise the
  image goes first and the text after it;
* ``reply_to`` quotes the customer's message on the first body only.

The recipient is addressed by ``to`` when it is a ``wa_id`` (digits) and by
``recipient`` + ``recipient_type: individual`` when it is a BSUID (see
:func:`~tendero_whatsapp.parse.is_phone_id`): a BSUID in ``to`` is silently dropped.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tendero.channels import Button, ChannelError, ListRow, MessageLimits, OutboundMessage
from tendero.channels.titles import fit_buttons, fit_list_rows

from tendero_whatsapp.parse import RECIPIENT_USER_ID, is_phone_id

MAX_LIST_ROW_ID_LENGTH = 200
# The label of the button that opens a list when the message names none.
DEFAULT_LIST_BUTTON = "Ver opciones"
# An interactive message needs a body; used when the reply has choices and no text.
EMPTY_BODY = "👇"


def recipient_fields(recipient_id: str, recipient_kind: str | None = None) -> dict[str, str]:
    """How a body addresses the customer: ``to`` (phone digits) or ``recipient`` (BSUID).

    ``to`` only for an id made of digits that is not marked as a BSUID
    (``recipient_kind == "user_id"``): a BSUID in ``to`` is accepted by Meta and then
    silently never delivered, so anything else goes in ``recipient``.
    """
    if recipient_kind != RECIPIENT_USER_ID and is_phone_id(recipient_id):
        return {"recipient_type": "individual", "to": recipient_id.removeprefix("+")}
    return {"recipient_type": "individual", "recipient": recipient_id}


def render(message: OutboundMessage, limits: MessageLimits) -> list[dict[str, Any]]:
    """The request bodies that deliver ``message``, in sending order.

    Raises :class:`ChannelError` (not retryable) when the message cannot be sent at all:
    nothing to send, an image link that is not https, or a choice id over the limit
    (ids come back as payloads, so they are never cut).
    """
    if not message.recipient_id:
        raise ChannelError("WhatsApp: the message has no recipient", code="131009")
    buttons, rows, overflow = _choices(message, limits)
    text = numbered(message.text, overflow) if overflow else message.text.strip()
    bodies: list[dict[str, Any]] = []
    if message.image_url:
        if not message.image_url.startswith("https://"):
            raise ChannelError(
                f"WhatsApp: image links must be public https URLs, not {message.image_url!r}",
                code="131009",
            )
        image: dict[str, Any] = {"link": message.image_url}
        caption_fits = len(text) <= limits.max_caption_length
        if text and caption_fits and not (buttons or rows):
            image["caption"] = text
            text = ""
        bodies.append(_body("image", image))
    if buttons or rows:
        lead, body_text = _interactive_text(text, limits)
        bodies.extend(_body("text", _text(part)) for part in lead)
        if buttons:
            bodies.append(_body("interactive", _button_message(body_text, buttons)))
        else:
            label = limits.truncate(
                (message.list_button or DEFAULT_LIST_BUTTON).strip() or DEFAULT_LIST_BUTTON,
                limits.max_list_button_length,
            )
            bodies.append(_body("interactive", _list_message(body_text, label, rows)))
    elif text:
        bodies.extend(_body("text", _text(part)) for part in limits.split_text(text))
    if not bodies:
        raise ChannelError("WhatsApp: nothing to send (no text, choices or image)", code="131009")
    addressed = recipient_fields(message.recipient_id, message.recipient_kind)
    for body in bodies:
        body.update(addressed)
    if message.reply_to:
        bodies[0]["context"] = {"message_id": message.reply_to}
    return bodies


def read_receipt(message_id: str, *, typing: bool = True) -> dict[str, Any]:
    """Mark an inbound message (and the ones before it) read, with the typing indicator."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": message_id,
    }
    if typing:
        body["typing_indicator"] = {"type": "text"}
    return body


# --- choices -------------------------------------------------------------------------------


def _choices(
    message: OutboundMessage, limits: MessageLimits
) -> tuple[list[Button], list[ListRow], list[ListRow]]:
    """Reply buttons, or list rows, that fit; with more choices than a list holds, the
    third item: the choices to number in the text instead."""
    rows = list(message.list_rows) + [ListRow(b.id, b.title) for b in message.buttons]
    if not rows:
        return [], [], []
    if not message.list_rows and len(message.buttons) <= limits.max_buttons:
        for button in message.buttons:
            _check_id(button.id, limits.max_button_id_length)
        return fit_buttons(message.buttons, limits.max_button_title_length), [], []
    if len(rows) <= limits.max_list_rows:
        for row in rows:
            _check_id(row.id, MAX_LIST_ROW_ID_LENGTH)
        fitted = fit_list_rows(
            rows, limits.max_list_row_title_length, limits.max_list_row_description_length
        )
        return [], fitted, []
    return [], [], rows


def numbered(text: str, rows: list[ListRow]) -> str:
    """Choices as numbered lines under the text (the customer answers by typing)."""
    lines = [
        f"{n}. {row.title}" + (f" — {row.description}" if row.description else "")
        for n, row in enumerate(rows, start=1)
    ]
    return "\n\n".join(p for p in (text.strip(), "\n".join(lines)) if p)


def _check_id(choice_id: str, limit: int) -> None:
    if not choice_id or len(choice_id) > limit:
        raise ChannelError(
            f"WhatsApp: a choice id must have 1-{limit} characters ({choice_id[:40]!r}…)",
            code="131009",
        )


# --- bodies --------------------------------------------------------------------------------


def _interactive_text(text: str, limits: MessageLimits) -> tuple[list[str], str]:
    """Text messages to send first, and the body of the interactive message (≤ 1024)."""
    body_limit = limits.max_interactive_text_length or limits.max_text_length
    if not text:
        return [], EMPTY_BODY
    if len(text) <= body_limit:
        return [], text
    parts = dataclasses.replace(limits, max_text_length=body_limit).split_text(text)
    last = parts.pop()
    # The leading parts may be merged back into full-length text messages.
    return limits.split_text("\n\n".join(parts)) if parts else [], last


def _body(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "type": kind, kind: content}


def _text(part: str) -> dict[str, Any]:
    return {"body": part, "preview_url": False}


def _button_message(body_text: str, buttons: list[Button]) -> dict[str, Any]:
    return {
        "type": "button",
        "body": {"text": body_text},
        "action": {
            "buttons": [{"type": "reply", "reply": {"id": b.id, "title": b.title}} for b in buttons]
        },
    }


def _list_message(body_text: str, label: str, rows: list[ListRow]) -> dict[str, Any]:
    section_rows = []
    for row in rows:
        item = {"id": row.id, "title": row.title}
        if row.description:
            item["description"] = row.description
        section_rows.append(item)
    return {
        "type": "list",
        "body": {"text": body_text},
        "action": {"button": label, "sections": [{"rows": section_rows}]},
    }
