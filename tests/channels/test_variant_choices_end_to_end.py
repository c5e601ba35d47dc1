"""Variants of one product offered as choices, end to end on each Meta channel: the real
app on a socket, a turn that offers four sizes of one shoe, the fake Graph API as the
customer's phone. The sizes must show apart in what reaches the phone (WhatsApp: a
list whose row titles are cut to 24 characters; Messenger and Instagram: quick replies
cut to 20), and tapping one must bring back that product's id (issue: two sizes both
shown as "Tenis Running Negro 2…")."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tendero.conversations.turns import Choice, Reply, TurnContext
from tendero.settings import Settings

from tests.channels.e2e import Channel, meta_channel, until
from tests.fakes import graph_whatsapp as wa
from tests.fakes import webhooks as wh
from tests.fakes.graph import SentRequest

SIZES = ("24", "25", "25.5", "26")
SHOES = tuple(
    Choice(f"product:{100 + n}", f"Tenis Running Negro Talla {size}", "$1,299.00")
    for n, size in enumerate(SIZES)
)


class ShoeSizesRunner:
    """Offers the four sizes to a customer's message; records the id of what they tap."""

    def __init__(self) -> None:
        self.taps: list[str] = []

    async def __call__(self, ctx: TurnContext) -> list[Reply]:
        if ctx.event.payload:
            self.taps.append(ctx.event.payload)
            return [Reply(text="¡Listo! Lo agrego a tu pedido.")]
        return [Reply(text="Tenemos estas tallas:", choices=SHOES)]


@pytest.fixture(params=["whatsapp", "facebook", "instagram"])
async def channel(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Channel]:
    async with meta_channel(request.param, settings) as meta:
        yield meta


def shown_choices(channel: Channel, reply: SentRequest) -> list[dict[str, Any]]:
    """The choices on the customer's phone: WhatsApp list rows or quick replies, as
    ``{"id", "title", "description"}``."""
    if channel.whatsapp is not None:
        interactive = reply.json["interactive"]
        assert interactive["type"] == "list"
        return [row for section in interactive["action"]["sections"] for row in section["rows"]]
    return [
        {"id": q["payload"], "title": q["title"]} for q in reply.json["message"]["quick_replies"]
    ]


def tap(channel: Channel, customer: str, reply: SentRequest, row: dict[str, Any]) -> dict:
    """The customer taps ``row`` on ``reply``: the platform's own event for it."""
    if channel.whatsapp is None:
        return wh.text_event(customer, channel.account, row["title"], quick_reply=row["id"])
    assert channel.number is not None
    message = {
        "from": customer,
        "id": wa.new_wamid(),
        "timestamp": str(int(time.time())),
        "type": "interactive",
        "context": {
            "from": channel.number.display_phone_number,
            "id": channel.reply_id(reply),
        },
        "interactive": {"type": "list_reply", "list_reply": row},
    }
    channel.whatsapp.inbound(channel.account, customer, message["id"])
    return message


async def test_sizes_of_one_shoe_show_apart_and_a_tap_picks_that_size(channel: Channel) -> None:
    ana = channel.customer(1)
    runner = ShoeSizesRunner()
    async with channel.running(runner) as live:
        hello = channel.delivery([channel.text(ana, "Hola, ¿tienen los tenis running negros?")])
        assert (await live.emitter.send(hello))[0] == 200
        await until(lambda: channel.replies_to(ana), what="the sizes")
        offer = channel.replies_to(ana)[-1]
        rows = shown_choices(channel, offer)

        # Every size shows, in its own title, within the platform's limit.
        limit = 24 if channel.whatsapp is not None else 20
        titles = [row["title"] for row in rows]
        assert [row["id"] for row in rows] == [c.id for c in SHOES]
        assert len(set(titles)) == len(SHOES) and all(len(t) <= limit for t in titles)
        for title, size in zip(titles, SIZES, strict=True):
            assert title.startswith("Tenis") and title.endswith(f" {size}"), titles
        if channel.whatsapp is not None:
            # The row description still has the whole name, and the price.
            assert [row["description"] for row in rows] == [f"{c.title} · $1,299.00" for c in SHOES]

        # Tapping "25" (not "25.5") orders product 101.
        [row] = [r for r in rows if r["title"].endswith(" 25")]
        assert (await live.emitter.send(channel.delivery([tap(channel, ana, offer, row)])))[
            0
        ] == 200
        await until(lambda: runner.taps, what="the tap reaching the turn")
        await until(live.settled, what="inbox and outbox settled")
    assert runner.taps == ["product:101"]
    assert "Listo" in channel.reply_text(channel.replies_to(ana)[-1])
