"""A fourth channel from tests/plugins/ through the whole pipeline, over a real socket:
webhook -> inbox -> turn -> outbox -> channel.send, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from tendero.channels.base import ChannelError, EventKind, InboundEvent, OutboundMessage
from tendero.conversations.inbox import record_inbound_events
from tendero.conversations.pipeline import PIPELINE
from tendero.conversations.turns import Reply, TurnContext
from tendero.db import Database
from tendero.db.models import Conversation, InboxEvent, Message, OutboxMessage
from tendero.db.types import utcnow
from tendero.settings import Settings

from tests.pipeline.conftest import count, message, running_app, settled, wait_until


async def test_a_conversation_runs_end_to_end_through_a_fourth_channel(
    settings: Settings,
) -> None:
    async with running_app(settings) as app:
        assert await app.post(message("m1", "u1", "hola, quiero comprar", name="Ana")) == 200
        await wait_until(lambda: len(app.channel.sent) == 1, what="the reply")
        reply = app.channel.sent[0]
        assert reply.recipient_id == "u1" and reply.channel == "sample"
        assert "Gracias" in reply.text
        assert app.channel.read == ["m1"]  # mark_read called when the turn started
        await wait_until(lambda: settled(app.db))
        async with app.db.read_session() as session:
            messages = (await session.scalars(sa.select(Message).order_by(Message.id))).all()
            conversation = (await session.scalars(sa.select(Conversation))).one()
        assert [(m.direction, m.author) for m in messages] == [("in", "customer"), ("out", "agent")]
        assert messages[1].platform_message_id and messages[1].delivery_status == "sent"
        assert conversation.lead.name == "Ana" and conversation.lead.platform_id == "u1"
        assert conversation.last_inbound_at is not None
        assert await count(app.db, "inbox_events", "status = 'done'") == 1
        assert await count(app.db, "outbox_messages", "status = 'sent'") == 1

        # English gets an English acknowledgement.
        await app.post(message("m2", "u2", "hello, how much is the price?"))
        await wait_until(lambda: len(app.channel.sent) == 2)
        assert "Thanks" in app.channel.sent[1].text


async def test_redeliveries_are_answered_once(settings: Settings) -> None:
    async with running_app(settings) as app:
        for _ in range(3):
            assert await app.post(message("dup-1", "u1")) == 200
        statuses = await asyncio.gather(*(app.post(message("dup-2", "u2")) for _ in range(3)))
        assert statuses == [200, 200, 200]
        await wait_until(lambda: len(app.channel.sent) >= 2)
        await wait_until(lambda: settled(app.db))
        await asyncio.sleep(0.2)  # a second answer would have time to show up
        assert sorted(m.recipient_id for m in app.channel.sent) == ["u1", "u2"]
        assert await count(app.db, "inbox_events") == 2
        assert await count(app.db, "messages", "direction = 'in'") == 2
        assert await count(app.db, "leads") == 2


async def test_bad_or_missing_signature_is_refused_and_nothing_stored(
    settings: Settings,
) -> None:
    async with running_app(settings) as app:
        body = json.dumps({"events": [message("m1")]}).encode()
        assert await app.post_raw(body, {"X-Sample-Signature": "sha256=" + "0" * 64}) == 403
        assert await app.post_raw(body) == 403
        for table in ("inbox_events", "leads", "conversations", "messages"):
            assert await count(app.db, table) == 0, table
        # Unknown channel: 404; GET without a handshake: 405; oversized body: 413.
        async with app.client.post(f"{app.url}/webhooks/nope", data=b"{}") as resp:
            assert resp.status == 404
        async with app.client.get(f"{app.url}/webhooks/sample") as resp:
            assert resp.status == 405
        assert await app.post_raw(b"x" * (1024 * 1024 + 1)) == 413
        assert app.channel.sent == []


async def test_malformed_bodies_are_acknowledged_and_nothing_breaks(settings: Settings) -> None:
    from tests.pipeline.conftest import tendero_sample_channel as sample

    async with running_app(settings) as app:
        for body in (b"not json", b'{"events": [{"no": "id"}]}', b"[]", b""):
            assert await app.post_raw(body, {sample.SIGNATURE_HEADER: sample.sign(body)}) == 200
        assert await count(app.db, "inbox_events") == 0
        assert await app.post(message("ok-1")) == 200
        await wait_until(lambda: len(app.channel.sent) == 1)


async def test_a_human_echo_pauses_the_agent_for_15_minutes(settings: Settings) -> None:
    async with running_app(settings) as app:
        await app.post(message("m1", "u1"))
        await wait_until(lambda: len(app.channel.sent) == 1)
        # The app's own echo: not stored again, no pause.
        own = app.channel.sent[0]
        await app.post(
            {"id": "echo-own", "from": "u1", "kind": "echo", "from_app": True, "text": own.text}
        )
        # A person answered from the platform's inbox.
        await app.post({"id": "echo-1", "from": "u1", "kind": "echo", "text": "Hola, soy Luis"})
        await app.post({"id": "echo-1", "from": "u1", "kind": "echo", "text": "Hola, soy Luis"})
        await app.post(message("m2", "u1", "¿y el precio?"))
        await wait_until(lambda: settled(app.db))
        await asyncio.sleep(0.2)
        assert len(app.channel.sent) == 1  # no reply while paused
        async with app.db.read_session() as session:
            conversation = (await session.scalars(sa.select(Conversation))).one()
            merchant = (
                await session.scalars(sa.select(Message).where(Message.author == "merchant"))
            ).all()
            row = (
                await session.scalars(
                    sa.select(InboxEvent).where(InboxEvent.platform_message_id == "m2")
                )
            ).one()
        paused_for = conversation.agent_paused_until - utcnow()
        assert timedelta(minutes=14) < paused_for <= timedelta(minutes=15)
        assert [m.text for m in merchant] == ["Hola, soy Luis"]
        assert row.status == "done"
        assert await count(app.db, "inbox_events", "kind = 'echo'") == 0


async def test_statuses_update_delivery_and_never_reach_the_turn(settings: Settings) -> None:
    turns: list[str] = []

    async def runner(ctx: TurnContext) -> list[Reply]:
        turns.append(ctx.event.message_id)
        return [Reply(text=f"ok {ctx.event.text}")]

    async with running_app(settings, runner=runner) as app:
        await app.post(message("m1", "u1", "uno"), message("m2", "u2", "dos"))
        await wait_until(lambda: settled(app.db))
        async with app.db.read_session() as session:
            out = {
                m.text: m.platform_message_id
                for m in await session.scalars(sa.select(Message).where(Message.direction == "out"))
            }
        first, second = out["ok uno"], out["ok dos"]

        def status(pid: str, value: str, n: int, **extra: str) -> dict[str, str]:
            return {
                "id": f"{pid}-{value}-{n}",
                "from": "u1",
                "kind": "status",
                "status": value,
                **extra,
            } | {"id": pid}

        # Out of order: read arrives before delivered; delivered must not win.
        await app.post(status(first, "read", 1), status(first, "delivered", 2))
        await app.post(
            status(second, "failed", 3, error="(#131047) Re-engagement message"),
        )
        await app.post(status("unknown-id", "delivered", 4))
        async with app.db.read_session() as session:
            by_pid = {
                m.platform_message_id: m
                for m in await session.scalars(sa.select(Message).where(Message.direction == "out"))
            }
        assert by_pid[first].delivery_status == "read"
        assert by_pid[second].delivery_status == "failed"
        assert "131047" in by_pid[second].error and "24-hour window" in by_pid[second].error
        await asyncio.sleep(0.2)
        assert sorted(turns) == ["m1", "m2"]


async def test_pending_rows_after_a_restart_are_answered_exactly_once(
    settings: Settings, db: Database
) -> None:
    events = [
        InboundEvent(
            channel="sample",
            kind=EventKind.MESSAGE,
            message_id=f"r{i}",
            customer_id=f"u{i % 3}",
            timestamp=utcnow(),
            text=f"mensaje {i}",
        )
        for i in range(6)
    ]
    counts = await record_inbound_events(db, "sample", events)
    assert counts.queued == 6
    async with running_app(settings) as app:
        await wait_until(lambda: len(app.channel.sent) == 6)
        await wait_until(lambda: settled(app.db))
    async with running_app(settings) as again:
        await asyncio.sleep(0.3)
        assert again.channel.sent == []
    assert await count(db, "outbox_messages", "status = 'sent'") == 6


async def test_200_conversations_at_once_never_cross(settings: Settings) -> None:
    async def runner(ctx: TurnContext) -> list[Reply]:
        await asyncio.sleep(0.001)
        return [Reply(text=f"recibido: {ctx.event.text}")]

    async with running_app(settings, runner=runner) as app:
        statuses = await asyncio.gather(
            *(app.post(message(f"c{i}", f"cust-{i}", f"soy el cliente {i}")) for i in range(200))
        )
        assert set(statuses) == {200}
        await wait_until(lambda: len(app.channel.sent) == 200, within=120)
        for sent in app.channel.sent:
            number = re.search(r"cliente (\d+)", sent.text).group(1)
            assert sent.recipient_id == f"cust-{number}"
        assert len({m.recipient_id for m in app.channel.sent}) == 200


async def test_a_retryable_failure_is_delivered_once_after_backoff(settings: Settings) -> None:
    async with running_app(settings) as app:
        app.channel.failures = [ChannelError("HTTP 429: too many", retryable=True, code="130429")]
        await app.post(message("m1"))
        await wait_until(lambda: len(app.channel.sent) == 1)
        await wait_until(lambda: settled(app.db))
        await asyncio.sleep(0.1)
        assert app.channel.attempts == 2 and len(app.channel.sent) == 1
        async with app.db.read_session() as session:
            row = (await session.scalars(sa.select(OutboxMessage))).one()
            out = (
                await session.scalars(sa.select(Message).where(Message.direction == "out"))
            ).one()
        assert row.status == "sent" and row.attempts == 2
        assert out.delivery_status == "sent" and out.error is None


async def test_a_permanent_failure_is_recorded_on_the_message(settings: Settings) -> None:
    async with running_app(settings) as app:
        app.channel.failures = [ChannelError("(#100) Invalid parameter", retryable=False)]
        await app.post(message("m1"))
        await wait_until(lambda: settled(app.db))
        async with app.db.read_session() as session:
            out = (
                await session.scalars(sa.select(Message).where(Message.direction == "out"))
            ).one()
        assert out.delivery_status == "failed" and "Invalid parameter" in out.error
        assert app.channel.sent == [] and app.channel.attempts == 1


async def test_free_text_outside_the_window_is_refused_without_calling_the_channel(
    settings: Settings, db: Database
) -> None:
    old = InboundEvent(
        channel="sample",
        kind=EventKind.MESSAGE,
        message_id="old-1",
        customer_id="u1",
        timestamp=utcnow() - timedelta(hours=30),
        text="hola",
    )
    await record_inbound_events(db, "sample", [old])
    async with running_app(settings) as app:
        await wait_until(lambda: settled(app.db))
        async with app.db.read_session() as session:
            out = (
                await session.scalars(sa.select(Message).where(Message.direction == "out"))
            ).one()
        assert out.delivery_status == "failed" and out.error == "outside the 24-hour window"
        assert app.channel.attempts == 0


async def test_media_is_downloaded_and_stored_and_a_failed_download_still_answers(
    settings: Settings,
) -> None:
    async with running_app(settings) as app:
        await app.post(message("img-1", "u1", "", image="media-123"))
        await app.post(message("img-2", "u2", "", image="broken"))
        await wait_until(lambda: len(app.channel.sent) == 2)
        await wait_until(lambda: settled(app.db))
        async with app.db.read_session() as session:
            inbound = {
                m.platform_message_id: m
                for m in await session.scalars(sa.select(Message).where(Message.direction == "in"))
            }
        path = inbound["img-1"].media_path
        assert re.fullmatch(r"media/\d{4}/\d{2}/[0-9a-f]{32}\.png", path)
        assert (Path(settings.data_dir) / path).read_bytes().startswith(b"\x89PNG")
        assert inbound["img-2"].media_path is None


async def test_the_webhook_answers_while_a_slow_turn_runs(settings: Settings) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(ctx: TurnContext) -> list[Reply]:
        started.set()
        await release.wait()
        return [Reply(text="por fin")]

    async with running_app(settings, runner=slow) as app:
        assert await app.post(message("m1", "u1")) == 200
        await asyncio.wait_for(started.wait(), 30)
        # The first turn is still running; another delivery is acknowledged meanwhile.
        assert await app.post(message("m2", "u2")) == 200
        assert not release.is_set() and app.channel.sent == []
        release.set()
        await wait_until(lambda: len(app.channel.sent) == 2)


async def test_a_failing_turn_is_retried_and_keeps_arrival_order(settings: Settings) -> None:
    calls: list[str] = []

    async def flaky(ctx: TurnContext) -> list[Reply]:
        calls.append(ctx.event.message_id)
        if calls.count("m1") == 1 and ctx.event.message_id == "m1":
            raise RuntimeError("boom")
        return [Reply(text=ctx.event.text)]

    async with running_app(settings, runner=flaky) as app:
        await app.post(message("m1", "u1", "primero"), message("m2", "u1", "segundo"))
        await wait_until(lambda: len(app.channel.sent) == 2)
        assert [m.text for m in app.channel.sent] == ["primero", "segundo"]
        assert calls == ["m1", "m1", "m2"]


async def test_a_turn_cut_off_by_shutdown_is_answered_once_after_restart(
    settings: Settings,
) -> None:
    started = asyncio.Event()

    async def never(ctx: TurnContext) -> list[Reply]:
        started.set()
        await asyncio.Event().wait()
        return []

    async with running_app(settings, runner=never) as app:
        app.app[PIPELINE].stop_grace = 0.1  # abandon the stuck turn at shutdown
        await app.post(message("m1", "u1"))
        await asyncio.wait_for(started.wait(), 30)
        db_url = settings.effective_database_url
    check = Database(db_url)
    try:
        assert await count(check, "inbox_events", "status = 'pending'") == 1
    finally:
        await check.dispose()
    async with running_app(settings) as again:
        await wait_until(lambda: len(again.channel.sent) == 1)
        await wait_until(lambda: settled(again.db))
        await asyncio.sleep(0.2)
        assert len(again.channel.sent) == 1


async def test_a_batched_delivery_mixing_kinds_is_fully_recorded(settings: Settings) -> None:
    async with running_app(settings) as app:
        await app.post(
            message("b1", "u1", "hola"),
            {"id": "b2", "from": "u1", "kind": "reaction", "text": "❤️"},
            {"id": "b3", "from": "u2", "kind": "button", "text": "Sí", "payload": "yes"},
            {"id": "b4", "from": "u3", "kind": "other"},
            message("b1", "u1", "hola"),  # the same message twice in one delivery
        )
        await wait_until(lambda: len(app.channel.sent) == 2)
        await wait_until(lambda: settled(app.db))
        assert sorted(m.recipient_id for m in app.channel.sent) == ["u1", "u2"]
        async with app.db.read_session() as session:
            kinds = sorted(
                (m.platform_message_id, m.kind)
                for m in await session.scalars(sa.select(Message).where(Message.direction == "in"))
            )
        assert kinds == [("b1", "text"), ("b2", "reaction"), ("b3", "button")]


async def test_a_status_faster_than_our_own_commit_is_kept_and_applied(
    settings: Settings,
) -> None:
    """The platform may report "read" before the sender has stored the message id."""
    async with running_app(settings) as app:
        channel = app.channel
        original_send = channel.send

        async def send_then_report(message: OutboundMessage) -> str:
            platform_id = await original_send(message)
            # The receipts reach our webhook before send() has even returned.
            for n, value in enumerate(["delivered", "read"]):
                status = {"id": platform_id, "from": "u1", "kind": "status", "status": value}
                assert await app.post(status | {"n": n}) == 200
            return platform_id

        channel.send = send_then_report  # type: ignore[method-assign]
        await app.post(message("m1", "u1", "hola"))
        await wait_until(lambda: settled(app.db))
        async with app.db.read_session() as session:
            reply = await session.scalar(sa.select(Message).where(Message.direction == "out"))
        assert reply is not None and reply.delivery_status == "read"
        assert await count(app.db, "early_statuses") == 0
