"""`tendero chat` as a process: lines on stdin, replies from the pipeline on stdout."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from tendero.db import Database
from tendero.db.models import Lead

from tests.conftest import CLI


async def _lead_channels(database_url: str) -> list[tuple[str, str]]:
    db = Database(database_url)
    try:
        async with db.read_session() as session:
            return [
                tuple(r) for r in await session.execute(sa.select(Lead.channel, Lead.platform_id))
            ]
    finally:
        await db.dispose()


def test_chat_answers_each_line_through_the_pipeline(cli: CLI, database_url: str) -> None:
    result = cli(
        "chat", "--user", "ana", input="hola, quiero comprar\nhello, how much?\n", timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 2, result.stdout
    assert "Gracias" in lines[0] and "Thanks" in lines[1]
    # The same conversation continues on the next run, recorded under the lead.
    again = cli("chat", "--user", "ana", "--channel", "whatsapp", input="hola\n", timeout=120)
    assert again.returncode == 0 and "Gracias" in again.stdout
    # --channel only picks the limits replies are rendered to: the conversation stays on
    # the terminal channel, which a running server never delivers through Meta.
    assert asyncio.run(_lead_channels(database_url)) == [("terminal", "ana")]
