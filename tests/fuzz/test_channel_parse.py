"""Each channel's ``parse()`` called directly with hypothesis (fast, many examples).

The contract (``Channel.parse``): every event of a delivery, unknown kinds skipped or
``OTHER``, **never an error** — the body has already passed the signature check, so it
is Meta's (or an attacker's with the secret) and must not break the ingress. What comes
back must also survive the inbox: JSON-ready (``to_json``) and rebuilt by the dispatcher
(``from_json``) unchanged.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tendero.channels.base import Channel, EventKind, InboundEvent
from tendero.settings import Settings
from tendero_facebook.channel import FacebookChannel
from tendero_instagram.channel import InstagramChannel
from tendero_whatsapp.channel import WhatsAppChannel

from tests.fuzz.conftest import examples
from tests.fuzz.strategies import channel_bodies

CHANNELS: dict[str, type[Channel]] = {
    "whatsapp": WhatsAppChannel,
    "facebook": FacebookChannel,
    "instagram": InstagramChannel,
}
TEXT_FIELDS = ("channel", "message_id", "customer_id", "business_id", "text")
OPTIONAL_TEXT_FIELDS = (
    "payload",
    "customer_name",
    "customer_phone",
    "reply_to",
    "status",
    "error",
    "recipient_kind",
)


def make_channel(name: str) -> Channel:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, facebook_app_id="3300440055", instagram_app_id="7700880099"
    )
    return CHANNELS[name](settings)


def check_event(event: Any, channel: str) -> None:
    assert isinstance(event, InboundEvent)
    assert event.channel == channel
    assert isinstance(event.kind, EventKind)
    for name in TEXT_FIELDS:
        assert isinstance(getattr(event, name), str), name
    for name in OPTIONAL_TEXT_FIELDS:
        value = getattr(event, name)
        assert value is None or isinstance(value, str), name
    assert event.timestamp.tzinfo is not None
    # The inbox stores to_json() and the dispatcher rebuilds the event from it.
    stored = json.loads(json.dumps(event.to_json()))
    again = InboundEvent.from_json(stored)
    assert again == event


@pytest.mark.parametrize("name", sorted(CHANNELS))
@settings(max_examples=examples(250))
@given(data=st.data())
def test_parse_never_raises_and_gives_storable_events(name: str, data: st.DataObject) -> None:
    channel = make_channel(name)
    body = data.draw(channel_bodies(name), label="body")
    started = time.perf_counter()
    events = channel.parse(body)
    elapsed = time.perf_counter() - started
    assert isinstance(events, list)
    for event in events:
        check_event(event, name)
    # Linear work: even a 1 MB body parses in well under a second.
    assert elapsed < 1.0, f"parse took {elapsed:.2f} s for {len(body)} bytes"
