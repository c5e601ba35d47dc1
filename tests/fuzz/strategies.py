"""Hypothesis strategies for webhook bodies: arbitrary JSON, Meta envelopes built from the
real payload shapes (``reference/meta-platforms.md`` §3) with wrong types put in at any
level, huge strings, deep nesting, invalid UTF-8 and bytes that are not JSON at all.

Every strategy yields the **bytes** of a body; the tests sign them as Meta does.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Text as customers (and broken clients) type it: every code point, lone surrogates
# included (JSON can carry them as ``\udXXX`` escapes), control characters, RTL marks.
any_text = st.text(st.characters(exclude_categories=()), max_size=40)


def huge_text(min_size: int = 10_000, max_size: int = 200_000) -> st.SearchStrategy[str]:
    """A long string made by repeating a short one (drawing 100k characters one by one
    would make hypothesis slow without finding more)."""
    return st.builds(
        lambda piece, size: (piece * (size // len(piece) + 1))[:size],
        st.text(st.characters(exclude_categories=()), min_size=1, max_size=6),
        st.integers(min_value=min_size, max_value=max_size),
    )


# Strings that look like what Meta puts in a field, and the odd cases around them.
id_text = st.one_of(
    st.from_regex(r"[A-Za-z0-9_.=-]{1,40}", fullmatch=True),
    st.sampled_from(["", " ", "0", "-1", "null", "\u0000", "wamid.", "m_"]),
    any_text,
    huge_text(250, 2_000),
)
timestamps = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from(["1767225600", "1767225600123", "", "nan", "inf", "-inf", "1e400", "x"]),
    any_text,
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), id_text), children, max_size=4),
    ),
    max_leaves=16,
)


def encode(payload: Any) -> bytes:
    """Meta's serialisation (escaped unicode, compact); a lone surrogate travels as an
    escape, as it would in any JSON."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")


# --- huge and deep ------------------------------------------------------------------------


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    """1,000 to 200,000 levels of arrays or objects, closed or left open, alone or
    inside an envelope."""
    depth = draw(st.integers(min_value=1_000, max_value=200_000))
    kind = draw(st.sampled_from(["array", "object", "mixed"]))
    if kind == "array":
        opening, closing = b"[" * depth, b"]" * depth
    elif kind == "object":
        opening, closing = b'{"a":' * depth, b"}" * depth
    else:
        opening, closing = b'[{"a":' * (depth // 2), b"}]" * (depth // 2)
    inner = opening + b"1" + (closing if draw(st.booleans()) else b"")
    obj = draw(st.sampled_from(["whatsapp_business_account", "page", "instagram"]))
    return draw(
        st.sampled_from(
            [
                inner,
                b'{"object":"' + obj.encode() + b'","entry":' + inner + b"}",
                b'{"object":"'
                + obj.encode()
                + b'","entry":[{"id":"1","messaging":[{"sender":{"id":"1"},"message":{"mid":"m","text":'
                + inner
                + b"}}]}]}",
            ]
        )
    )


# --- not JSON, not UTF-8 -------------------------------------------------------------------


@st.composite
def broken_bytes(draw: st.DrawFn) -> bytes:
    """Bytes that are not JSON, or JSON with invalid UTF-8 inside a string."""
    choice = draw(st.sampled_from(["binary", "invalid-utf8-in-string", "truncated", "bom", "nan"]))
    if choice == "binary":
        return draw(st.binary(max_size=2000))
    if choice == "invalid-utf8-in-string":
        junk = draw(
            st.sampled_from(
                [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80\x80"]
            )
        )
        obj = draw(st.sampled_from([b"whatsapp_business_account", b"page", b"instagram"]))
        return b'{"object":"' + obj + b'","entry":[{"id":"' + junk + b'","x":"a' + junk + b'"}]}'
    if choice == "truncated":
        body = draw(json_values.map(encode))
        return body[: draw(st.integers(min_value=0, max_value=max(0, len(body) - 1)))]
    if choice == "bom":
        return b"\xef\xbb\xbf" + draw(json_values.map(encode))
    # JavaScript literals Python's json accepts and strict parsers refuse.
    return draw(
        st.sampled_from(
            [
                b'{"object":"whatsapp_business_account","entry":[NaN]}',
                b'{"object":"page","entry":[Infinity]}',
                b'{"object":"instagram","entry":-Infinity}',
                b'{"object":"page","object":"instagram","entry":[]}',
            ]
        )
    )


# --- the real envelopes, then broken ---------------------------------------------------------


def _wa_message(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "text",
                "image",
                "document",
                "audio",
                "sticker",
                "location",
                "interactive",
                "button",
                "order",
                "reaction",
                "edit",
                "contacts",
                "unsupported",
                "request_welcome",
            ]
        )
    )
    text = draw(st.one_of(any_text, huge_text(5_000, 20_000)))
    message: dict[str, Any] = {
        "from": draw(id_text),
        "id": draw(id_text),
        "timestamp": draw(timestamps),
        "type": kind,
    }
    if kind == "text":
        message["text"] = {"body": text}
    elif kind in ("image", "document", "audio", "sticker"):
        message[kind] = {
            "id": draw(id_text),
            "mime_type": draw(st.sampled_from(["image/jpeg", "application/pdf", "", "x/y"])),
            "sha256": draw(id_text),
            "caption": text,
        }
    elif kind == "location":
        message["location"] = {
            "latitude": draw(st.one_of(st.floats(allow_nan=False), any_text)),
            "longitude": draw(st.one_of(st.floats(allow_nan=False), any_text)),
            "name": text,
            "address": draw(any_text),
        }
    elif kind == "interactive":
        reply_type = draw(st.sampled_from(["button_reply", "list_reply", "nfm_reply", ""]))
        message["interactive"] = {
            "type": reply_type,
            reply_type: {"id": draw(id_text), "title": text, "description": draw(any_text)},
        }
    elif kind == "button":
        message["button"] = {"payload": draw(id_text), "text": text}
    elif kind == "order":
        message["order"] = {
            "catalog_id": draw(id_text),
            "text": text,
            "product_items": [
                {
                    "product_retailer_id": draw(id_text),
                    "quantity": draw(st.one_of(st.integers(), any_text, st.floats())),
                    "item_price": draw(st.one_of(st.floats(), st.integers(), any_text)),
                    "currency": draw(any_text),
                }
                for _ in range(draw(st.integers(0, 3)))
            ],
        }
    elif kind == "reaction":
        message["reaction"] = {"message_id": draw(id_text), "emoji": draw(any_text)}
    elif kind == "edit":
        message["edit"] = {
            "original_message_id": draw(id_text),
            "message": {"type": "text", "text": {"body": text}},
        }
    elif kind == "contacts":
        message["contacts"] = [{"name": {"formatted_name": text}, "phones": []}]
    else:
        message["errors"] = [{"code": 131051, "title": text, "error_data": {"details": text}}]
    if draw(st.booleans()):
        message["context"] = {"from": draw(id_text), "id": draw(id_text)}
    return message


def _wa_status(draw: st.DrawFn) -> dict[str, Any]:
    status: dict[str, Any] = {
        "id": draw(id_text),
        "status": draw(st.sampled_from(["sent", "delivered", "read", "failed", "played", "", "?"])),
        "timestamp": draw(timestamps),
        "recipient_id": draw(id_text),
    }
    if draw(st.booleans()):
        status["errors"] = [
            {"code": draw(st.one_of(st.integers(), any_text)), "title": draw(any_text)}
        ]
    return status


@st.composite
def whatsapp_envelope(draw: st.DrawFn) -> dict[str, Any]:
    """A ``whatsapp_business_account`` delivery with messages, contacts and statuses."""
    messages = [_wa_message(draw) for _ in range(draw(st.integers(0, 3)))]
    contacts = [
        {
            "profile": {"name": draw(any_text)},
            "wa_id": draw(id_text),
            "user_id": draw(id_text),
        }
        for _ in range(draw(st.integers(0, 2)))
    ]
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": draw(id_text)},
    }
    if messages or draw(st.booleans()):
        value["contacts"] = contacts
        value["messages"] = messages
    if draw(st.booleans()):
        value["statuses"] = [_wa_status(draw) for _ in range(draw(st.integers(0, 3)))]
    field = draw(st.sampled_from(["messages", "messages", "account_update"]))
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": draw(id_text), "changes": [{"field": field, "value": value}]}],
    }


def _messenger_item(draw: st.DrawFn, echo_allowed: bool = True) -> dict[str, Any]:
    sender, recipient = draw(id_text), draw(id_text)
    item: dict[str, Any] = {
        "sender": {"id": sender},
        "recipient": {"id": recipient},
        "timestamp": draw(timestamps),
    }
    kind = draw(
        st.sampled_from(
            ["text", "attachments", "quick_reply", "postback", "delivery", "read", "reaction"]
            + (["echo"] if echo_allowed else [])
            + ["message_edit", "optin"]
        )
    )
    text = draw(st.one_of(any_text, huge_text(5_000, 20_000)))
    mid = draw(id_text)
    if kind == "text":
        item["message"] = {"mid": mid, "text": text}
    elif kind == "attachments":
        item["message"] = {
            "mid": mid,
            "attachments": [
                {
                    "type": draw(
                        st.sampled_from(["image", "file", "sticker", "fallback", "ig_reel", ""])
                    ),
                    "payload": {"url": draw(st.one_of(id_text, any_text))},
                }
                for _ in range(draw(st.integers(0, 3)))
            ],
        }
    elif kind == "quick_reply":
        item["message"] = {"mid": mid, "text": text, "quick_reply": {"payload": draw(id_text)}}
    elif kind == "postback":
        item["postback"] = {"mid": mid, "title": text, "payload": draw(id_text)}
    elif kind == "delivery":
        item["delivery"] = {
            "mids": [draw(id_text) for _ in range(draw(st.integers(0, 3)))],
            "watermark": draw(timestamps),
        }
    elif kind == "read":
        item["read"] = {"watermark": draw(timestamps), "mid": draw(id_text)}
    elif kind == "reaction":
        item["reaction"] = {
            "mid": mid,
            "action": draw(st.sampled_from(["react", "unreact", ""])),
            "reaction": draw(any_text),
            "emoji": draw(any_text),
        }
    elif kind == "echo":
        item["message"] = {
            "mid": mid,
            "is_echo": True,
            "text": text,
            "app_id": draw(st.one_of(st.integers(), id_text)),
        }
    elif kind == "message_edit":
        item["message_edit"] = {"mid": mid, "text": text, "num_edit": 1}
    else:
        item["optin"] = {"ref": draw(any_text)}
    if "message" in item and draw(st.booleans()):
        item["message"]["reply_to"] = {"mid": draw(id_text)}
    return item


@st.composite
def messenger_envelope(draw: st.DrawFn, object_: str) -> dict[str, Any]:
    """A ``page`` / ``instagram`` delivery: entries with ``messaging[]``, ``standby[]``
    and the Instagram dashboard test's ``changes[]``."""
    entries = []
    for _ in range(draw(st.integers(1, 3))):
        entry: dict[str, Any] = {"id": draw(id_text), "time": draw(timestamps)}
        entry["messaging"] = [_messenger_item(draw) for _ in range(draw(st.integers(0, 3)))]
        if draw(st.booleans()):
            entry["standby"] = [_messenger_item(draw) for _ in range(draw(st.integers(1, 2)))]
        if draw(st.booleans()):
            entry["changes"] = [{"field": "messages", "value": _messenger_item(draw)}]
        entries.append(entry)
    return {"object": object_, "entry": entries}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``node`` (the root is ``()``)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: _replace(node[head], rest, value)}
    copy = list(node)
    copy[head] = _replace(copy[head], rest, value)
    return copy


@st.composite
def mistyped(draw: st.DrawFn, envelopes: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """An envelope with one to four values anywhere in it (the root included) replaced by
    arbitrary JSON: a list where an object goes, a number for an id, null for a text..."""
    payload = draw(envelopes)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(payload)
        path = draw(st.sampled_from(paths))
        payload = _replace(payload, path, draw(json_values))
    return payload


@st.composite
def giant_message(draw: st.DrawFn, channel: str) -> dict[str, Any]:
    """One customer message whose text is 100,000 to 600,000 characters (escaped, the
    body may pass the webhook's 1 MB limit: then a 413)."""
    text = draw(huge_text(100_000, 600_000))
    if channel == "whatsapp":
        message = {"from": "5215500000099", "id": draw(id_text), "timestamp": "1767225600"}
        message.update(type="text", text={"body": text})
        value = {"messaging_product": "whatsapp", "contacts": [], "messages": [message]}
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
        }
    item = {
        "sender": {"id": "7001000000000099"},
        "recipient": {"id": "1"},
        "timestamp": 1767225600123,
        "message": {"mid": draw(id_text), "text": text},
    }
    return {
        "object": "page" if channel == "facebook" else "instagram",
        "entry": [{"id": "1", "time": 1767225600123, "messaging": [item]}],
    }


def channel_bodies(channel: str) -> st.SearchStrategy[bytes]:
    """Every kind of body for ``channel`` (``whatsapp``, ``facebook``, ``instagram``)."""
    if channel == "whatsapp":
        envelopes = whatsapp_envelope()
    else:
        envelopes = messenger_envelope("page" if channel == "facebook" else "instagram")
    return st.one_of(
        json_values.map(encode),
        envelopes.map(encode),
        mistyped(envelopes).map(encode),
        deep_nesting(),
        broken_bytes(),
        giant_message(channel).map(encode),
    )
