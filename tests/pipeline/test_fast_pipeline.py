"""The pipeline's fast paths, over a real socket on SQLite and PostgreSQL: work handed
over instead of scanned for, a turn's replies taken and marked sent together, and what
must still hold (order, one answer per message, retries) when they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from tendero.channels.base import ChannelError, OutboundMessage
from tendero.conversations.outbox import Sender
from tendero.conversations.turns import Reply, TurnContext
from tendero.db import Database
from tendero.db.models import Message, OutboxMessage
from tendero.settings import Settings
from tendero_whatsapp.channel import WhatsAppChannel
from tendero_whatsapp.parse import parse_webhook

from tests.pipeline.conftest import message, running_app, settled, wait_until

# Scans only every minute: whatever happens within a test was handed over, not scanned.
NO_POLLS = {
    "dispatcher_options": {"poll_interval": 60.0},
    "sender_options": {"poll_interval": 60.0, "base_delay": 0.01, "max_delay": 0.05},
}


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement the app's engines run inside the block."""
    seen: list[str] = []
    engines = {db.engine.sync_engine, db.read_engine.sync_engine}

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", record)


async def outbox_rows(db: Database) -> list[tuple[str, str, int]]:
    """(text, status, attempts) of every outbox row, in queue order."""
    async with db.read_session() as session:
        rows = await session.execute(
            sa.select(Message.text, OutboxMessage.status, OutboxMessage.attempts)
            .join(Message, Message.id == OutboxMessage.message_id)
            .order_by(OutboxMessage.id)
        )
        return [tuple(row) for row in rows]


async def test_turns_and_sends_start_without_waiting_for_a_scan(settings: Settings) -> None:
    async with running_app(settings, pipeline_options=NO_POLLS) as app:
        await asyncio.sleep(0.2)  # the scans at start are over; the next is a minute away
        with statements(app.db) as seen:
            assert await app.post(message("m1", "u1", "hola")) == 200
            await wait_until(lambda: len(app.channel.sent) == 1, within=10, what="the reply")
            await wait_until(lambda: settled(app.db), within=10)
        scans = [s for s in seen if "GROUP BY" in s.upper()]
        assert scans == []
        # The drain ended without an empty look for more work.
        loads = [s for s in seen if "FROM inbox_events JOIN conversations" in s]
        assert len(loads) == 1, loads


async def test_messages_that_arrive_during_a_turn_are_answered_in_order_once(
    settings: Settings,
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def runner(ctx: TurnContext) -> list[Reply]:
        if ctx.event.message_id == "m1":
            started.set()
            await release.wait()
        return [Reply(text=f"re {ctx.event.text}")]

    async with running_app(settings, runner=runner, pipeline_options=NO_POLLS) as app:
        await asyncio.sleep(0.2)
        assert await app.post(message("m1", "u1", "uno")) == 200
        await asyncio.wait_for(started.wait(), 10)
        # The conversation's drain is busy with m1: these are handed over meanwhile.
        assert await app.post(message("m2", "u1", "dos")) == 200
        assert await app.post(message("m3", "u1", "tres")) == 200
        release.set()
        await wait_until(lambda: len(app.channel.sent) == 3, within=10, what="three replies")
        await wait_until(lambda: settled(app.db), within=10)
        await asyncio.sleep(0.2)
        assert [m.text for m in app.channel.sent] == ["re uno", "re dos", "re tres"]


async def test_a_turns_replies_are_taken_in_one_statement_and_each_marked_sent_at_once(
    settings: Settings,
) -> None:
    async def runner(ctx: TurnContext) -> list[Reply]:
        return [Reply(text="uno"), Reply(text="dos"), Reply(text="tres")]

    async with running_app(settings, runner=runner, pipeline_options=NO_POLLS) as app:
        await asyncio.sleep(0.2)
        with statements(app.db) as seen:
            assert await app.post(message("m1", "u1", "hola")) == 200
            await wait_until(lambda: settled(app.db), within=10)
        assert [m.text for m in app.channel.sent] == ["uno", "dos", "tres"]
        updates = [s for s in seen if s.upper().startswith("UPDATE OUTBOX_MESSAGES")]
        # One to take all three ("sending"), then each is marked sent as soon as the
        # channel took it (a crash repeats at most the one message in flight).
        assert len(updates) == 4, updates
        assert "RETURNING" in updates[0].upper()
        assert all("sent_at=" in u.replace(" ", "") for u in updates[1:]), updates
        assert await outbox_rows(app.db) == [
            ("uno", "sent", 1),
            ("dos", "sent", 1),
            ("tres", "sent", 1),
        ]
        async with app.db.read_session() as session:
            sent = (
                await session.execute(
                    sa.select(Message.delivery_status, Message.platform_message_id).where(
                        Message.direction == "out"
                    )
                )
            ).all()
        assert len(sent) == 3
        assert all(status == "sent" and pid.startswith("sample-") for status, pid in sent)


async def test_a_retry_inside_a_batch_keeps_order_and_counts_only_real_attempts(
    settings: Settings,
) -> None:
    async def runner(ctx: TurnContext) -> list[Reply]:
        return [Reply(text="uno"), Reply(text="dos"), Reply(text="tres")]

    async with running_app(settings, runner=runner) as app:
        channel = app.channel
        original_send = channel.send
        calls: list[str] = []

        async def second_call_fails_once(outbound: OutboundMessage) -> str:
            calls.append(outbound.text)
            if len(calls) == 2:
                raise ChannelError("HTTP 503", retryable=True)
            return await original_send(outbound)

        channel.send = second_call_fails_once  # type: ignore[method-assign]
        assert await app.post(message("m1", "u1", "hola")) == 200
        await wait_until(lambda: settled(app.db), within=10)
        assert calls == ["uno", "dos", "dos", "tres"]
        assert [m.text for m in channel.sent] == ["uno", "dos", "tres"]
        # "tres" was taken with the others but given back when "dos" failed: its one
        # attempt is the one that sent it.
        assert await outbox_rows(app.db) == [
            ("uno", "sent", 1),
            ("dos", "sent", 2),
            ("tres", "sent", 1),
        ]


async def test_the_whatsapp_send_rate_setting_reaches_the_outbox(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    assert WhatsAppChannel(settings).send_rate_per_second == 20.0  # the default
    monkeypatch.setenv("TENDERO_WHATSAPP_SEND_RATE", "80")
    fast = Settings(data_dir=settings.data_dir, _env_file=None)  # type: ignore[call-arg]
    assert fast.whatsapp_send_rate == 80.0
    channel = WhatsAppChannel(fast)
    db = Database(settings.effective_database_url)
    try:
        sender = Sender(db, {"whatsapp": channel})
        assert sender._buckets["whatsapp"].rate == 80.0
    finally:
        await db.dispose()
    for bad in ("0", "-5", "fast", "5000"):
        monkeypatch.setenv("TENDERO_WHATSAPP_SEND_RATE", bad)
        with pytest.raises(ValidationError, match="whatsapp_send_rate"):
            Settings(_env_file=None)  # type: ignore[call-arg]


def test_the_whatsapp_parser_reads_what_orjson_refuses() -> None:
    def delivery(text_json: str) -> bytes:
        return (
            '{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{'
            '"field": "messages", "value": {"messaging_product": "whatsapp", '
            '"metadata": {"phone_number_id": "106540352242922"}, '
            '"contacts": [{"wa_id": "5215512345678", "profile": {"name": "Ana"}}], '
            '"messages": [{"from": "5215512345678", "id": "wamid.A1", '
            '"timestamp": "1700000000", "type": "text", "text": {"body": ' + text_json + "}}]}}]}]}"
        ).encode()

    [event] = parse_webhook(delivery('"hola \\u00e1"'))
    assert event.text == "hola á"
    # A lone surrogate escape: orjson refuses the body, the stdlib reads it.
    [event] = parse_webhook(delivery('"hola \\ud83d"'))
    assert event.text.startswith("hola") and event.message_id == "wamid.A1"
    assert parse_webhook(b"not json") == []
