"""``tendero chat``: talk to the agent in the terminal, through the real pipeline.

Each line typed is recorded in the inbox as a customer message of a terminal channel;
the dispatcher runs the turn and the sender "delivers" the replies by printing them
(choices numbered; typing a number picks that choice). Replies go to stdout, prompts
and messages to stderr.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

import click
import sqlalchemy as sa

from tendero.agent.runner import AgentRunner
from tendero.channels.base import (
    EventKind,
    InboundEvent,
    MessageLimits,
    OutboundMessage,
    collect_channels,
)
from tendero.channels.terminal import TerminalChannel
from tendero.cli.common import console, get_settings, open_database, run_async
from tendero.conversations.inbox import record_inbound_events
from tendero.conversations.pipeline import Pipeline
from tendero.db import Database
from tendero.db.models import InboxEvent, OutboxMessage
from tendero.db.types import utcnow
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings

REPLY_TIMEOUT_SECONDS = 120


@click.command()
@click.option(
    "--channel",
    type=click.Choice(["terminal", "whatsapp", "facebook", "instagram"]),
    default="terminal",
    show_default=True,
    help="Render replies within this channel's limits (buttons, lists, text length). "
    "The conversation itself is recorded under the terminal channel, so a running "
    "server never sends it through Meta.",
)
@click.option("--user", "user_id", default="cli-user", show_default=True, help="Customer id.")
def chat(channel: str, user_id: str) -> None:
    """Talk to the agent in the terminal, through the same pipeline as a real channel.

    Type a message and press Enter; an empty input (Ctrl-D) or /quit ends the chat.
    """
    run_async(_chat)(channel, user_id)


async def _chat(channel_name: str, user_id: str) -> None:
    from tendero.logging import configure_logging

    settings = get_settings()
    configure_logging("warning", settings.log_format)
    async with open_database(settings) as db:
        terminal = TerminalChannel(settings, limits=await _limits_of(channel_name, settings))
        channel_name = terminal.name
        runner = AgentRunner(settings, db, create_plugin_manager(), prune_interval=None)
        await runner.start()
        pipeline = Pipeline(
            db,
            settings,
            {channel_name: terminal},
            runner,
            dispatcher_options={"poll_interval": 0.5},
            sender_options={"poll_interval": 0.5},
        )
        pipeline.start()
        interactive = sys.stdin.isatty()
        if interactive:
            console.print(f"Chatting as {user_id!r}. /quit to leave.")
        try:
            while True:
                if interactive:
                    console.print("[bold]>[/bold] ", end="")
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    break
                text = line.strip()
                if text in ("/quit", "/exit"):
                    break
                if not text:
                    continue
                event = _event(channel_name, user_id, text, terminal.sent)
                await record_inbound_events(db, channel_name, [event])
                pipeline.wake()
                await _wait_for_replies(db, channel_name, event.message_id)
        finally:
            await pipeline.stop()
            await runner.close()


async def _limits_of(channel: str, settings: Settings) -> MessageLimits | None:
    """The message limits of a real channel plugin (``None`` for the terminal's own)."""
    if channel == TerminalChannel.name:
        return None
    adapters = await collect_channels(create_plugin_manager(), settings)
    if channel not in adapters:
        raise click.ClickException(f"the {channel} channel plugin is not installed")
    return adapters[channel].limits


def _event(channel: str, user_id: str, text: str, sent: list[OutboundMessage]) -> InboundEvent:
    """The customer's line as an inbound event; a number picks a choice of the last
    message that had choices (like tapping a button)."""
    kind, payload = EventKind.MESSAGE, None
    last = next((m for m in reversed(sent) if m.buttons or m.list_rows), None)
    if last is not None and text.isdigit():
        options = [(b.id, b.title) for b in last.buttons] + [
            (r.id, r.title) for r in last.list_rows
        ]
        index = int(text) - 1
        if 0 <= index < len(options):
            kind, (payload, text) = EventKind.BUTTON, options[index]
    return InboundEvent(
        channel=channel,
        kind=kind,
        message_id=f"terminal-{uuid.uuid4().hex}",
        customer_id=user_id,
        timestamp=utcnow(),
        text=text,
        payload=payload,
        customer_name=user_id,
    )


async def _wait_for_replies(db: Database, channel: str, message_id: str) -> None:
    """Until the turn for ``message_id`` ran and its replies were delivered."""
    deadline = time.monotonic() + REPLY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        async with db.read_session() as session:
            row = (
                await session.execute(
                    sa.select(InboxEvent.status, InboxEvent.conversation_id).where(
                        InboxEvent.channel == channel,
                        InboxEvent.platform_message_id == message_id,
                    )
                )
            ).first()
            if row is not None and row.status != "pending":
                waiting = await session.scalar(
                    sa.select(sa.func.count())
                    .select_from(OutboxMessage)
                    .where(
                        OutboxMessage.conversation_id == row.conversation_id,
                        OutboxMessage.status.in_(["pending", "sending"]),
                    )
                )
                if not waiting:
                    return
        await asyncio.sleep(0.05)
    console.print("[yellow]No reply yet; it will be printed when it arrives.[/yellow]")
