"""Events that parse fine but are odd — empty text, unknown message types, 10,000
characters, attachments with odd fields, any unicode — reach the dispatcher and the real
agent (rules brain, demo store). None of them may kill the dispatcher or fail its turn:
every turn ends ``done``, and afterwards a plain message is still answered.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from tendero.db.models import InboxEvent
from tendero.demo.store import load_demo_store
from tendero.settings import Settings

from tests.channels.e2e import Channel, Live, meta_channel, until
from tests.fakes import graph_whatsapp as wa
from tests.fakes import webhooks as wh
from tests.fuzz.conftest import BackgroundLoop, background_loop, examples, task_alive
from tests.fuzz.test_nlu_fuzz import WORDS

pytestmark = [
    # unidecode (the text folding) warns about each lone surrogate it drops.
    pytest.mark.filterwarnings("ignore:Surrogate character:RuntimeWarning"),
    # The app's own tasks (retry jitter, ids) use `random` on the background loop while
    # hypothesis draws an example on the test thread; they are not part of a strategy.
    pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies"),
]


@pytest.fixture(params=["whatsapp", "facebook"])
def agent_app(
    request: pytest.FixtureRequest, settings: Settings
) -> Iterator[tuple[BackgroundLoop, Channel, Live]]:
    with background_loop() as loop:
        channel, leave_channel = loop.enter(meta_channel(request.param, settings))
        try:
            live, leave_app = loop.enter(channel.running(agent=True, unthrottled=True))
            try:
                loop.run(load_demo_store(live.db))
                yield loop, channel, live
            finally:
                leave_app()
        finally:
            leave_channel()


def odd_whatsapp_events(channel: Channel, customer: str) -> list[dict[str, Any]]:
    def message(kind: str, body: Any, **extra: Any) -> dict[str, Any]:
        item = {"from": customer, "id": wa.new_wamid(), "timestamp": str(int(time.time()))}
        item.update(type=kind, **({kind: body} if body is not None else {}), **extra)
        assert channel.whatsapp is not None
        channel.whatsapp.inbound(channel.account, customer, item["id"])
        return item

    return [
        message("text", {"body": ""}),
        message("text", {"body": "vestido " * 1250}),  # 10,000 characters
        message("text", {}),
        message("image", {"id": "", "mime_type": "", "caption": "\u202e" * 50}),
        message("image", {"id": "no-such-media", "mime_type": "image/jpeg"}),
        message("document", {"id": "x" * 300, "filename": "../../etc/passwd"}),
        message("location", {"latitude": "north", "longitude": None, "name": "😀" * 500}),
        message("interactive", {"type": "button_reply", "button_reply": {"id": "", "title": ""}}),
        message("interactive", {"type": "list_reply", "list_reply": {"id": "add:NO-SUCH-SKU"}}),
        message("button", {"payload": "CONFIRM_ORDER" * 100, "text": None}),
        message("order", {"product_items": [{"product_retailer_id": "NOPE", "quantity": -3}]}),
        message("order", {"product_items": [{"quantity": "many", "item_price": "free"}]}),
        message("mystery_type_2030", {"anything": [1, 2, 3]}),
    ]


def odd_messenger_events(channel: Channel, customer: str) -> list[dict[str, Any]]:
    page = channel.account
    return [
        wh.text_event(customer, page, ""),
        wh.text_event(customer, page, "vestido " * 1250),
        wh.text_event(customer, page, "\u0000\u200f\u202e" * 100),
        wh.text_event(customer, page, "ok", quick_reply=""),
        wh.text_event(customer, page, "ok", quick_reply="add:NO-SUCH-SKU:" + "9" * 900),
        wh.attachment_event(customer, page, None, kind="fallback"),
        wh.attachment_event(customer, page, "ftp://example.invalid/a.jpg"),
        wh.attachment_event(customer, page, "http://127.0.0.1:9/refused.jpg", kind="video"),
        wh.attachment_event(customer, page, "not a url", kind="mystery", text="😀" * 300),
        wh.postback_event(customer, page, "", title=""),
        wh.postback_event(customer, page, "CHECKOUT" * 200),
    ]


async def inbox_statuses(live: Live) -> dict[str, int]:
    async with live.db.read_session() as session:
        rows = await session.execute(
            sa.select(InboxEvent.status, sa.func.count()).group_by(InboxEvent.status)
        )
        return dict(rows.all())


def test_odd_events_never_kill_the_dispatcher_nor_fail_a_turn(
    agent_app: tuple[BackgroundLoop, Channel, Live],
) -> None:
    loop, channel, live = agent_app
    ana = channel.customer(1)
    odd = (
        odd_whatsapp_events(channel, ana)
        if channel.whatsapp is not None
        else odd_messenger_events(channel, ana)
    )
    assert loop.run(live.emitter.send(channel.delivery(odd)))[0] == 200

    numbers = iter(range(100, 10_000))

    @settings(max_examples=examples(12))
    @given(
        text=st.one_of(
            st.text(st.characters(exclude_categories=()), max_size=300),
            st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join),
        )
    )
    def customer_writes(text: str) -> None:
        customer = channel.customer(next(numbers))
        status, _ = loop.run(
            live.emitter.send(channel.delivery([channel.text(customer, text)]), signing="sha256")
        )
        assert status == 200

    customer_writes()
    loop.run(until(live.settled, within=120, what="every turn taken and every reply sent"))
    statuses = loop.run(inbox_statuses(live))
    assert statuses.get("failed", 0) == 0 and statuses.get("pending", 0) == 0, statuses
    assert task_alive(loop, "tendero-dispatcher") and task_alive(loop, "tendero-sender")

    # The same app still answers a plain message end to end.
    bea = channel.customer(2)
    payload = channel.delivery([channel.text(bea, "Hola, ¿qué vestidos tienen?")])
    assert loop.run(live.emitter.send(payload))[0] == 200
    loop.run(until(lambda: channel.replies_to(bea), within=60, what="the reply"))
    assert channel.reply_text(channel.replies_to(bea)[0])
