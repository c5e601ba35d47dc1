"""The Conversations page: the list (order, filters, search, pages), the transcript
(escaped, delivery states), replying as the merchant through the channel (and the pause
that follows), the 24-hour window, and pausing / resuming the agent.

Conversations are made the real way: the customer writes to the sample channel's
webhook and the pipeline answers (the acknowledgement runner stands in for the agent).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from tendero.app import CHANNELS
from tendero.channels.base import ChannelError
from tendero.db.models import Conversation, Lead, Message, OutboxMessage
from tendero.db.types import utcnow
from tendero_web.views import conversations

from tests.pipeline.conftest import message, settled, wait_until
from tests.web.harness import Panel, csrf_of, tendero_sample_channel

XSS = "<script>alert(1)</script>"


async def customer_says(panel: Panel, *events: dict[str, Any]) -> None:
    """Post ``events`` to the sample channel's webhook, signed, and wait for the turns."""
    body = json.dumps({"events": list(events)}).encode()
    headers = {tendero_sample_channel.SIGNATURE_HEADER: tendero_sample_channel.sign(body)}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{panel.url}/webhooks/sample", data=body, headers=headers) as resp:
            assert resp.status == 200
    await wait_until(lambda: settled(panel.db), what="the pipeline to settle")


def sent_texts(panel: Panel) -> list[str]:
    return [m.text for m in panel.app[CHANNELS]["sample"].sent]


async def conversation_of(panel: Panel, customer: str) -> Conversation:
    async with panel.db.read_session() as session:
        return (
            await session.scalars(
                sa.select(Conversation)
                .join(Lead, Lead.id == Conversation.lead_id)
                .where(Lead.platform_id == customer)
            )
        ).one()


async def update_conversation(panel: Panel, conversation_id: int, **values: Any) -> None:
    async with panel.db.session() as session:
        await session.execute(
            sa.update(Conversation).where(Conversation.id == conversation_id).values(**values)
        )


async def english(panel: Panel) -> aiohttp.ClientSession:
    """A logged-in client that reads the panel in English."""
    client = await panel.logged_in()
    async with client.get("/lang?to=en&next=/conversations", allow_redirects=False) as resp:
        assert resp.status == 303
    return client


async def page(client: aiohttp.ClientSession, path: str) -> str:
    async with client.get(path, allow_redirects=False) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.text()


def listed_names(html: str) -> list[str]:
    return re.findall(r'class="lead-name">([^<]*)</a>', html)


async def test_the_list_is_newest_first_with_filters_search_and_pages(
    panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i, (customer, name) in enumerate((("u1", "Ana"), ("u2", "Beto Ruiz"), ("u3", "Carla"))):
        await customer_says(panel, message(f"m{i}", customer, "hola", name=name))
    ana, beto, carla = [await conversation_of(panel, c) for c in ("u1", "u2", "u3")]
    now = utcnow()
    await update_conversation(panel, ana.id, last_message_at=now - timedelta(minutes=1))
    await update_conversation(panel, beto.id, last_message_at=now - timedelta(minutes=30))
    await update_conversation(
        panel, carla.id, last_message_at=now - timedelta(minutes=5), needs_human=True
    )
    client = await english(panel)

    html = await page(client, "/conversations")
    assert listed_names(html) == ["Ana", "Carla", "Beto Ruiz"]
    assert "Needs a person" in html
    assert "<svg" in html and 'data-channel="sample"' in html  # the channel's icon

    assert listed_names(await page(client, "/conversations?needs_human=1")) == ["Carla"]
    assert listed_names(await page(client, "/conversations?q=ruiz")) == ["Beto Ruiz"]
    assert listed_names(await page(client, "/conversations?q=u3")) == ["Carla"]
    assert 'data-testid="no-conversations"' in await page(client, "/conversations?q=zzz")
    spanish = await panel.logged_in()  # the store's language
    assert "Necesita a una persona" in await page(spanish, "/conversations")

    monkeypatch.setattr(conversations, "PAGE_SIZE", 2)
    first = await page(client, "/conversations")
    assert listed_names(first) == ["Ana", "Carla"]
    older = re.search(r'href="([^"]+)" rel="next"', first)
    assert older
    second = await page(client, older.group(1).replace("&amp;", "&"))
    assert listed_names(second) == ["Beto Ruiz"]
    assert 'rel="next"' not in second


async def test_the_transcript_shows_customer_text_escaped_and_failed_sends(panel: Panel) -> None:
    await customer_says(panel, message("m1", "u1", XSS, name=XSS))
    conversation = await conversation_of(panel, "u1")
    client = await english(panel)

    listing = await page(client, "/conversations")
    html = await page(client, f"/conversations/{conversation.id}")
    for shown in (listing, html):
        assert XSS not in shown
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert 'data-author="customer"' in html and 'data-author="agent"' in html
    assert html.index('data-author="customer"') < html.index('data-author="agent"')

    # A reply the platform refuses is marked on the transcript.
    panel.app[CHANNELS]["sample"].failures.append(ChannelError("(#100) bad recipient"))
    response = await panel.post_form(
        client, f"/conversations/{conversation.id}/reply", {"text": "hola"}, page="/conversations"
    )
    assert response.status == 303
    await wait_until(lambda: settled(panel.db))
    html = await page(client, f"/conversations/{conversation.id}")
    assert 'data-testid="delivery-failed"' in html and "(#100) bad recipient" in html


async def test_a_merchant_reply_goes_through_the_channel_and_pauses_the_agent(
    panel: Panel,
) -> None:
    await customer_says(panel, message("m1", "u1", "hola", name="Ana"))
    conversation = await conversation_of(panel, "u1")
    assert len(sent_texts(panel)) == 1  # the agent's answer
    client = await english(panel)
    path = f"/conversations/{conversation.id}"

    response = await panel.post_form(
        client, f"{path}/reply", {"text": "  Hola Ana, soy Luis <b>de la tienda</b>  "}, page=path
    )
    assert response.status == 303 and response.headers["Location"] == path
    await wait_until(lambda: len(sent_texts(panel)) == 2, what="the reply to be sent")
    assert sent_texts(panel)[-1] == "Hola Ana, soy Luis <b>de la tienda</b>"
    assert panel.app[CHANNELS]["sample"].sent[-1].recipient_id == "u1"
    await wait_until(lambda: settled(panel.db))

    async with panel.db.read_session() as session:
        merchant = (
            await session.scalars(sa.select(Message).where(Message.author == "merchant"))
        ).one()
        paused = await session.get(Conversation, conversation.id)
    assert merchant.direction == "out" and merchant.delivery_status == "sent"
    assert merchant.platform_message_id and merchant.platform_message_id.startswith("sample-")
    assert paused is not None and paused.agent_paused_until is not None
    assert timedelta(minutes=14) < paused.agent_paused_until - utcnow() <= timedelta(minutes=15)

    html = await page(client, path)
    assert 'data-author="merchant"' in html and "&lt;b&gt;de la tienda&lt;/b&gt;" in html
    assert 'data-testid="paused"' in html

    # The customer answers while the agent is paused: recorded, not answered.
    await customer_says(panel, message("m2", "u1", "¿y el precio?"))
    assert len(sent_texts(panel)) == 2
    assert "¿y el precio?" in await page(client, path)


async def test_replies_outside_the_window_empty_or_too_long_are_refused(panel: Panel) -> None:
    await customer_says(panel, message("m1", "u1", "hola"))
    conversation = await conversation_of(panel, "u1")
    client = await english(panel)
    path = f"/conversations/{conversation.id}"
    channel = panel.app[CHANNELS]["sample"]
    attempts = channel.attempts

    for text, error in (
        ("   ", "Write a message first."),
        ("x" * 1001, "too long for Sample: 1001 of at most 1000"),
    ):
        response = await panel.post_form(client, f"{path}/reply", {"text": text}, page=path)
        assert response.status == 422
        html = await response.text()
        assert error in html and 'aria-invalid="true"' in html
        if text.strip():
            assert text in html  # the merchant's text is kept

    await update_conversation(
        panel, conversation.id, last_inbound_at=utcnow() - timedelta(hours=25)
    )
    html = await page(client, path)
    assert 'data-testid="cannot-reply"' in html and "24 hours" in html
    response = await panel.post_form(client, f"{path}/reply", {"text": "¿Sigues ahí?"}, page=path)
    assert response.status == 422
    assert "only lets you write within that time" in await response.text()

    await wait_until(lambda: settled(panel.db))
    assert channel.attempts == attempts
    async with panel.db.read_session() as session:
        assert not (
            await session.scalars(sa.select(Message).where(Message.author == "merchant"))
        ).all()
        assert len((await session.scalars(sa.select(OutboxMessage))).all()) == 1
        refreshed = await session.get(Conversation, conversation.id)
    assert refreshed is not None and refreshed.agent_paused_until is None


async def test_pause_and_resume_the_agent(panel: Panel) -> None:
    await customer_says(panel, message("m1", "u1", "hola"))
    conversation = await conversation_of(panel, "u1")
    await update_conversation(panel, conversation.id, needs_human=True)
    client = await english(panel)
    path = f"/conversations/{conversation.id}"

    response = await panel.post_form(client, f"{path}/pause", {"duration": "1h"}, page=path)
    assert response.status == 303
    paused = await conversation_of(panel, "u1")
    assert paused.agent_paused_until is not None
    assert timedelta(minutes=59) < paused.agent_paused_until - utcnow() <= timedelta(hours=1)

    response = await panel.post_form(client, f"{path}/pause", {"duration": "forever"}, page=path)
    paused = await conversation_of(panel, "u1")
    assert paused.agent_paused_until == conversations.PAUSED_INDEFINITELY
    html = await page(client, path)
    assert 'data-testid="paused"' in html and 'data-testid="needs-human"' in html

    # Paused indefinitely: a new customer message gets no answer.
    before = len(sent_texts(panel))
    await customer_says(panel, message("m2", "u1", "¿hola?"))
    assert len(sent_texts(panel)) == before

    response = await panel.post_form(client, f"{path}/resume", {}, page=path)
    assert response.status == 303
    resumed = await conversation_of(panel, "u1")
    assert resumed.agent_paused_until is None and resumed.needs_human is False
    html = await page(client, path)
    assert 'data-testid="paused"' not in html and 'data-testid="needs-human"' not in html
    await customer_says(panel, message("m3", "u1", "¿hola?"))
    assert len(sent_texts(panel)) == before + 1

    response = await panel.post_form(client, f"{path}/pause", {"duration": "1y"}, page=path)
    assert response.status == 303
    assert (await conversation_of(panel, "u1")).agent_paused_until is None


async def test_posts_without_the_csrf_token_are_refused_and_unknown_ids_are_404(
    panel: Panel,
) -> None:
    await customer_says(panel, message("m1", "u1", "hola"))
    conversation = await conversation_of(panel, "u1")
    client = await english(panel)
    for action in ("reply", "pause", "resume"):
        async with client.post(
            f"/conversations/{conversation.id}/{action}", data={"text": "hola"}
        ) as resp:
            assert resp.status == 403
    assert sent_texts(panel) == sent_texts(panel)[:1]
    async with client.get("/conversations/999999") as resp:
        assert resp.status == 404
    html = await page(client, "/conversations")
    async with client.post(
        "/conversations/999999/resume", data={"csrf_token": csrf_of(html)}
    ) as resp:
        assert resp.status == 404
