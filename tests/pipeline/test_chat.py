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
    assert cli("demo", "--if-empty").returncode == 0
    result = cli(
        "chat", "--user", "ana", input="hola, tienen creatina?\nquiero la 2\n", timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Sofía" in out  # the store greeting opens the conversation
    assert "Creatina Monohidratada 300 g" in out and "Creatina Monohidratada 600 g" in out
    assert "Agregué 1 × Creatina Monohidratada 600 g" in out
    # The next run (a new process) continues the same conversation from its checkpoint:
    # the cart is still there and the greeting is not repeated.
    again = cli(
        "chat", "--user", "ana", "--channel", "whatsapp", input="show my cart\n", timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert "Creatina Monohidratada 600 g" in again.stdout and "$949.00" in again.stdout
    assert "Sofía" not in again.stdout
    # --channel only picks the limits replies are rendered to: the conversation stays on
    # the terminal channel, which a running server never delivers through Meta.
    assert asyncio.run(_lead_channels(database_url)) == [("terminal", "ana")]
