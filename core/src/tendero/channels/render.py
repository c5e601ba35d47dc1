"""Render a channel-neutral reply so it fits one channel.

Choices become reply buttons when they fit (``max_buttons``), else a list message
(``max_list_rows``), else numbered text ("1. ..."). Titles are shortened to the
channel's limits so that they stay distinct and the words that tell variants apart
stay visible (:mod:`tendero.channels.titles`); a list row whose title was shortened
carries the full name in its description. Long texts are split into several messages,
and the text always says the customer may simply type the answer instead of tapping.
"""

from __future__ import annotations

from tendero.channels.base import Button, ListRow, MessageLimits, OutboundMessage
from tendero.channels.titles import fit_buttons, fit_list_rows
from tendero.conversations.turns import Choice, Reply

HINTS = {
    "es": {
        "tap": "(o escribe tu respuesta)",
        "numbered": "Responde con el número o escribe tu respuesta.",
        "list_button": "Ver opciones",
        "choose": "Elige una opción:",
    },
    "en": {
        "tap": "(or type your answer)",
        "numbered": "Reply with the number or type your answer.",
        "list_button": "See options",
        "choose": "Pick an option:",
    },
}


def _hints(language: str) -> dict[str, str]:
    return HINTS.get(language, HINTS["es"])


def render(
    reply: Reply, channel_name: str, recipient_id: str, limits: MessageLimits
) -> list[OutboundMessage]:
    """The messages that carry ``reply`` on a channel with ``limits``, in order."""
    hints = _hints(reply.language)
    choices = list(reply.choices)
    messages: list[OutboundMessage] = []

    def text_message(text: str, **extra: object) -> OutboundMessage:
        return OutboundMessage(channel=channel_name, recipient_id=recipient_id, text=text, **extra)  # type: ignore[arg-type]

    text = reply.text.strip()
    if reply.image_url:
        caption = ""
        if text and limits.max_caption_length and len(text) <= limits.max_caption_length:
            caption, text = text, ""
        messages.append(text_message(caption, image_url=reply.image_url))

    if not choices:
        messages.extend(text_message(part) for part in limits.split_text(text) if part)
        return messages

    if len(choices) <= limits.max_buttons:
        body = _join(text or hints["choose"], hints["tap"])
        *head, last = _split_interactive(body, limits)
        messages.extend(text_message(part) for part in head)
        buttons = tuple(
            fit_buttons([Button(c.id, c.title) for c in choices], limits.max_button_title_length)
        )
        messages.append(text_message(last, buttons=buttons))
        return messages

    if len(choices) <= limits.max_list_rows:
        body = _join(text or hints["choose"], hints["tap"])
        *head, last = _split_interactive(body, limits)
        messages.extend(text_message(part) for part in head)
        rows = tuple(
            fit_list_rows(
                [ListRow(c.id, c.title, c.description) for c in choices],
                limits.max_list_row_title_length,
                limits.max_list_row_description_length,
            )
        )
        label = limits.truncate(hints["list_button"], limits.max_list_button_length)
        messages.append(text_message(last, list_rows=rows, list_button=label))
        return messages

    lines = [f"{n}. {_numbered_line(c)}" for n, c in enumerate(choices, start=1)]
    numbered = "\n".join([*([text] if text else []), "", *lines, "", hints["numbered"]]).strip()
    messages.extend(text_message(part) for part in limits.split_text(numbered) if part)
    return messages


def _join(text: str, hint: str) -> str:
    return f"{text}\n{hint}" if text else hint


def _numbered_line(choice: Choice) -> str:
    return f"{choice.title} — {choice.description}" if choice.description else choice.title


def _split_interactive(text: str, limits: MessageLimits) -> list[str]:
    """Split ``text`` so the last part fits the body of an interactive message."""
    parts = limits.split_text(text) or [""]
    limit = limits.max_interactive_text_length
    if limit and limits.text_length(parts[-1]) > limit:
        narrow = MessageLimits(max_text_length=limit, text_length_unit=limits.text_length_unit)
        parts = parts[:-1] + narrow.split_text(parts[-1])
    return parts
