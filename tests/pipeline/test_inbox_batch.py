"""One group-commit batch of the inbox (SQLite and PostgreSQL): new customers are created
together, every inbox row points at its own transcript row, redeliveries inside the
batch are dropped, and a known customer's new name is kept."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import sqlalchemy as sa
from tendero.channels.base import EventKind, InboundEvent
from tendero.conversations.inbox import InboxCounts, record_deliveries
from tendero.db import Database

_now = datetime.now(UTC)
_seq = itertools.count(1)


def event(message_id: str, customer: str, text: str = "", name: str | None = None) -> InboundEvent:
    return InboundEvent(
        channel="sample",
        kind=EventKind.MESSAGE,
        message_id=message_id,
        customer_id=customer,
        timestamp=_now,
        text=text or f"text of {message_id}",
        customer_name=name,
    )


async def rows(db: Database, sql: str) -> list[tuple]:
    async with db.read_session() as session:
        return [tuple(r) for r in await session.execute(sa.text(sql))]


async def test_one_batch_of_new_and_known_customers(db: Database) -> None:
    async with db.session() as session:
        await record_deliveries(session, [("sample", [event("k1", "known", name="Old")])])

    deliveries = [
        ("sample", [event("a1", "ana", name="Ana"), event("a2", "ana")]),
        ("sample", [event("b1", "beto", name="Beto")]),
        ("sample", [event("k2", "known", name="New Name")]),
        ("sample", [event("b1", "beto", name="Beto")]),  # a redelivery in the same batch
        ("sample", [event("k1", "known")]),  # a redelivery of an earlier batch
        ("sample", [event("c1", "caro", name="Caro")]),
    ]
    async with db.session() as session:
        counts = await record_deliveries(session, deliveries)
    assert counts == [
        InboxCounts(queued=2),
        InboxCounts(queued=1),
        InboxCounts(queued=1),
        InboxCounts(duplicates=1),
        InboxCounts(duplicates=1),
        InboxCounts(queued=1),
    ]

    leads = await rows(db, "SELECT platform_id, name FROM leads ORDER BY platform_id")
    assert leads == [("ana", "Ana"), ("beto", "Beto"), ("caro", "Caro"), ("known", "New Name")]
    # One conversation per lead.
    assert await rows(db, "SELECT count(*), count(DISTINCT lead_id) FROM conversations") == [(4, 4)]
    # Each inbox row points at the transcript row of the same message, in the
    # conversation of the same customer; no transcript row is left for a redelivery.
    linked = await rows(
        db,
        "SELECT i.platform_message_id, m.platform_message_id, m.text, l.platform_id"
        " FROM inbox_events i JOIN messages m ON m.id = i.message_id"
        " JOIN conversations c ON c.id = m.conversation_id"
        " JOIN leads l ON l.id = c.lead_id AND c.id = i.conversation_id"
        " ORDER BY i.id",
    )
    assert linked == [
        ("k1", "k1", "text of k1", "known"),
        ("a1", "a1", "text of a1", "ana"),
        ("a2", "a2", "text of a2", "ana"),
        ("b1", "b1", "text of b1", "beto"),
        ("k2", "k2", "text of k2", "known"),
        ("c1", "c1", "text of c1", "caro"),
    ]
    assert await rows(db, "SELECT count(*) FROM messages") == [(6,)]
    assert await rows(db, "SELECT count(*) FROM messages WHERE payload IS NULL") == [(6,)]

    # The next batch finds everyone (no new lead or conversation).
    async with db.session() as session:
        counts = await record_deliveries(session, [("sample", [event("a3", "ana")])])
    assert counts == [InboxCounts(queued=1)]
    assert await rows(db, "SELECT count(*) FROM conversations") == [(4,)]


async def test_the_group_commit_writer(db: Database) -> None:
    """Concurrent deliveries through ``InboxWriter`` (on SQLite in its worker thread): each
    caller gets its own counts once its events are stored; a delivery with a status
    takes the session path and is stored all the same."""
    import asyncio

    from tendero.conversations.inbox import InboxWriter

    writer = InboxWriter(db)
    try:
        status = InboundEvent(
            channel="sample",
            kind=EventKind.STATUS,
            message_id="not-ours",
            customer_id="ana",
            timestamp=_now,
            status="delivered",
        )
        counts = await asyncio.gather(
            *(writer.record("sample", [event(f"w{i}", f"c{i % 7}")]) for i in range(40)),
            writer.record("sample", [event("w3", "c3")]),  # a redelivery
            writer.record("sample", [status]),
        )
        assert counts[:40] == [InboxCounts(queued=1)] * 40
        assert counts[40] == InboxCounts(duplicates=1)
        assert counts[41] == InboxCounts(statuses=1)
        assert await rows(db, "SELECT count(*) FROM inbox_events") == [(40,)]
        assert await rows(db, "SELECT count(*) FROM messages") == [(40,)]
        assert await rows(db, "SELECT count(*), count(DISTINCT lead_id) FROM conversations") == [
            (7, 7)
        ]
        assert await rows(db, "SELECT count(*) FROM early_statuses") == [(1,)]
    finally:
        await writer.stop()
