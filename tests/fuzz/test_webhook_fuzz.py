"""Fuzzing ``POST /webhooks/{channel}`` of the real app over a socket, with every body
correctly signed (``tendero.channels.meta.sign``): arbitrary JSON, Meta envelopes with
wrong types at any level, huge strings, 1,000+ levels of nesting, invalid UTF-8, bytes
that are not JSON.

The answer is always 200 or a 4xx (413 for a body over the limit), never a 5xx; and after
the fuzzing the same app still answers a valid customer message end to end: the
dispatcher and sender tasks are alive and the reply reaches the fake Graph API. Runs for
WhatsApp, Messenger and Instagram, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tendero.channels.meta import sign
from tendero.settings import Settings

from tests.channels.e2e import Channel, Live, meta_channel, until
from tests.fuzz.conftest import BackgroundLoop, background_loop, examples, task_alive
from tests.fuzz.strategies import channel_bodies

# The app's own tasks (retry jitter, ids) use `random` on the background loop while
# hypothesis draws an example on the test thread; they are not part of a strategy.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")


@dataclass
class Target:
    """One channel's app running on the background loop."""

    loop: BackgroundLoop
    channel: Channel
    live: Live

    def post(self, body: bytes) -> tuple[int, str]:
        headers = {"X-Hub-Signature-256": sign(body, self.channel.secret)}
        return self.loop.run(self.live.emitter.post_bytes(body, headers))


@pytest.fixture(params=["whatsapp", "facebook", "instagram"])
def target(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Target]:
    with background_loop() as loop:
        channel, leave_channel = loop.enter(meta_channel(request.param, settings))
        try:
            live, leave_app = loop.enter(channel.running(unthrottled=True))
            try:
                yield Target(loop, channel, live)
            finally:
                leave_app()
        finally:
            leave_channel()


def answers_a_customer_end_to_end(target: Target, number: int) -> None:
    """A valid message from a new customer is stored, turned and answered."""
    channel, loop = target.channel, target.loop
    customer = channel.customer(number)
    payload = channel.delivery([channel.text(customer, "Hola, ¿tienen vestidos? 👗")])
    status, _ = loop.run(target.live.emitter.send(payload, signing="sha256"))
    assert status == 200

    loop.run(until(lambda: channel.replies_to(customer), within=60, what="the reply"))
    [reply] = channel.replies_to(customer)
    assert channel.reply_text(reply)


def test_signed_garbage_never_gets_a_5xx_nor_stops_the_pipeline(target: Target) -> None:
    statuses: list[int] = []

    @settings(max_examples=examples(45))
    @given(data=st.data())
    def deliver(data: st.DataObject) -> None:
        body = data.draw(channel_bodies(target.channel.name), label="body")
        status, text = target.post(body)
        statuses.append(status)
        assert status == 200 or 400 <= status < 500, f"{status}: {text[:300]}"

    deliver()
    assert statuses and 200 in statuses
    assert task_alive(target.loop, "tendero-dispatcher")
    assert task_alive(target.loop, "tendero-sender")
    answers_a_customer_end_to_end(target, 1)
