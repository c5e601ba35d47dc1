"""The agent as the pipeline's turn runner.

:class:`AgentRunner` opens the checkpointer (:mod:`tendero.agent.checkpoint`), asks the
``agent_graph`` hook for the graph (the ``core`` plugin answers with
:func:`tendero.agent.graph.build_graph`), picks the brain (``llm`` when
``TENDERO_LLM_MODEL`` is set, else ``rules``) and runs the graph once per customer event
with ``thread_id`` = the conversation id. Conversation-level effects of a turn — the
language, a handoff to a person, the lead's email and address after an order — are
deferred to the transaction that commits the turn's replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog

from tendero.agent.actions import Commerce
from tendero.agent.brain import Brain, Media
from tendero.agent.checkpoint import open_checkpointer, prune_checkpoints
from tendero.agent.graph import TurnDeps, build_graph, event_input, reply_from_dict
from tendero.channels.base import EventKind
from tendero.conversations.turns import Reply, TurnContext
from tendero.db.locks import CHECKPOINT_PRUNE_JOB, job_lock
from tendero.db.models import Conversation, Lead
from tendero.db.types import utcnow
from tendero.orders.service import Customer
from tendero.plugins import call_firstresult, notify

if TYPE_CHECKING:
    import pluggy
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from sqlalchemy.ext.asyncio import AsyncSession

    from tendero.db import Database
    from tendero.settings import Settings

log = structlog.get_logger(__name__)

#: How long the agent stays silent after a customer asks for a person.
HANDOFF_PAUSE = timedelta(minutes=15)
#: Seconds between two checkpoint prunes (the first one runs a minute after start).
PRUNE_INTERVAL = 900.0
PRUNE_FIRST_DELAY = 60.0
#: Checkpoint metadata key: the customer event (``channel:platform message id``) a turn took in.
EVENT_METADATA = "tendero_event"
#: Attachment kinds the agent cannot read; an image it can (a transfer receipt).
READABLE_MEDIA = frozenset({"image"})


@dataclass(frozen=True)
class AgentContext:
    """What the ``agent_graph`` hook gets: build a graph for these."""

    settings: Settings
    database: Database
    plugins: pluggy.PluginManager | None
    checkpointer: BaseCheckpointSaver[str] | None


def make_brain(settings: Settings) -> Brain:
    """The brain the settings ask for: ``llm`` with a model configured, else ``rules``."""
    from tendero.agent.rules import RulesBrain

    rules = RulesBrain()
    if not settings.llm_model:
        return rules
    from tendero.agent.llm import LLMBrain

    return LLMBrain(settings, fallback=rules)


class AgentRunner:
    """Runs the agent graph for each customer event (a :class:`TurnRunner`)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        plugins: pluggy.PluginManager | None = None,
        *,
        brain: Brain | None = None,
        prune_interval: float | None = PRUNE_INTERVAL,
    ) -> None:
        self.settings = settings
        self.db = database
        self.plugins = plugins
        self.brain = brain
        self.prune_interval = prune_interval
        self.graph: Any = None
        self.checkpointer: BaseCheckpointSaver[str] | None = None
        self._stack: AsyncExitStack | None = None
        self._prune_task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        """Open the checkpointer and build the graph (idempotent)."""
        async with self._starting:
            if self.graph is not None:
                return
            stack = AsyncExitStack()
            try:
                self.checkpointer = await stack.enter_async_context(
                    open_checkpointer(self.settings)
                )
                context = AgentContext(self.settings, self.db, self.plugins, self.checkpointer)
                graph = None
                if self.plugins is not None:
                    graph = await call_firstresult(self.plugins, "agent_graph", context=context)
                self.graph = graph if graph is not None else build_graph(self.checkpointer)
                if self.brain is None:
                    self.brain = make_brain(self.settings)
            except BaseException:
                await stack.aclose()
                raise
            self._stack = stack
            if self.prune_interval:
                self._prune_task = asyncio.create_task(self._prune_loop(), name="tendero-prune")

    async def close(self) -> None:
        if self._prune_task is not None:
            self._prune_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prune_task
            self._prune_task = None
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
        self.graph = None
        self.checkpointer = None

    async def _prune_loop(self) -> None:
        await asyncio.sleep(min(PRUNE_FIRST_DELAY, self.prune_interval or PRUNE_FIRST_DELAY))
        while True:
            try:
                # With several processes on one PostgreSQL database, one prunes at a time
                # (the others skip this round); pruning is safe beside running turns.
                async with job_lock(self.db.engine, CHECKPOINT_PRUNE_JOB) as mine:
                    if mine and self.checkpointer is not None:
                        removed = await prune_checkpoints(self.checkpointer)
                        log.info("checkpoints pruned", rows=removed)
            except Exception:
                log.exception("checkpoint prune failed")
            await asyncio.sleep(self.prune_interval or PRUNE_INTERVAL)

    async def __call__(self, ctx: TurnContext) -> list[Reply]:
        if self.graph is None:
            await self.start()
        assert self.brain is not None
        # Everything about the lead came with the inbox row: the turn holds no
        # connection while it waits for others (a pool of 4 serves 32 turns).
        lead = ctx.lead
        commerce = Commerce(
            self.db,
            self.plugins,
            channel=ctx.channel,
            customer=Customer(
                name=ctx.lead.name,
                platform_id=ctx.lead.platform_id,
                phone=lead.phone,
            ),
            lead_id=ctx.lead.id,
            conversation_id=ctx.conversation_id,
            source_event=f"{ctx.channel}:{ctx.event.message_id}" if ctx.event.message_id else None,
        )
        deps = TurnDeps(
            brain=self.brain,
            commerce=commerce,
            store=await commerce.store(),
            lead=ctx.lead,
            channel=ctx.channel,
            language=ctx.language,
            saved_email=lead.email,
            saved_address=dict(lead.last_address or {}),
        )
        out = await self.graph.ainvoke(
            {"event": _event(ctx)},
            config=await self._turn_config(ctx),
            context=deps,
            durability="exit",
        )
        self._defer_effects(ctx, out)
        return [reply_from_dict(r) for r in out.get("replies") or ()]

    async def _turn_config(self, ctx: TurnContext) -> dict[str, Any]:
        """The run's config: the conversation's thread, and the event's identity in the
        checkpoint's metadata.

        The checkpoint is saved when the run ends, before the dispatcher commits the
        turn's replies; a crash (or a failed commit) in between leaves a state that has
        already taken in an event whose turn runs again. Then run it again from the state
        before it, so the customer's message is not applied twice (an item added twice).
        """
        thread = {"thread_id": str(ctx.conversation_id)}
        event = f"{ctx.channel}:{ctx.event.message_id}" if ctx.event.message_id else ""
        config: dict[str, Any] = {"configurable": dict(thread)}
        if not event or self.checkpointer is None:
            return config
        config["metadata"] = {EVENT_METADATA: event}
        latest = await self.checkpointer.aget_tuple({"configurable": thread})
        if latest is None or latest.metadata.get(EVENT_METADATA) != event:
            return config
        parent = latest.parent_config
        if parent is None:  # its first turn: there was no state before it
            await self.checkpointer.adelete_thread(thread["thread_id"])
        elif await self.checkpointer.aget_tuple(parent) is not None:
            config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
        else:  # pruned meanwhile: nothing to go back to
            log.warning("turn replayed over its own state", conversation=ctx.conversation_id)
            return config
        log.info("turn replayed from the state before it", conversation=ctx.conversation_id)
        return config

    def _defer_effects(self, ctx: TurnContext, out: dict[str, Any]) -> None:
        language = out.get("language")
        if language and language != ctx.language:

            async def set_language(session: AsyncSession) -> None:
                await session.execute(
                    sa.update(Conversation)
                    .where(Conversation.id == ctx.conversation_id)
                    .values(language=language)
                )

            ctx.defer(set_language)
        saved = (out.get("conversation") or {}).get("saved_address") or {}
        email = (out.get("conversation") or {}).get("saved_email") or ""
        if out.get("ordered") and (saved or email):

            async def remember_details(session: AsyncSession) -> None:
                values: dict[str, Any] = {}
                if email:
                    values["email"] = email
                if saved:
                    values["last_address"] = saved
                await session.execute(
                    sa.update(Lead).where(Lead.id == ctx.lead.id).values(**values)
                )

            ctx.defer(remember_details)
        reason = out.get("handoff")
        if reason:

            async def hand_off(session: AsyncSession) -> None:
                now = utcnow()
                await session.execute(
                    sa.update(Conversation)
                    .where(Conversation.id == ctx.conversation_id)
                    .values(needs_human=True, agent_paused_until=now + HANDOFF_PAUSE)
                )
                if self.plugins is not None:
                    await notify(
                        self.plugins,
                        "conversation_needs_human",
                        conversation={
                            "id": ctx.conversation_id,
                            "channel": ctx.channel,
                            "lead_id": ctx.lead.id,
                            "customer_name": ctx.lead.name,
                            "platform_id": ctx.lead.platform_id,
                            "text": ctx.event.text,
                        },
                        reason=reason,
                    )

            ctx.defer(hand_off)


def _event(ctx: TurnContext) -> dict[str, Any]:
    """The graph input for the context's event: text, tapped choice, stored media and
    the kind of anything the agent cannot read."""
    event = ctx.event
    text = event.text or ""
    kinds = [a.kind for a in event.attachments]
    captions = [a.caption for a in event.attachments if a.caption]
    if not text and captions:
        text = " ".join(captions)
    media = [
        Media(path=path, media_type=_media_type(path), kind=kinds[i] if i < len(kinds) else "")
        for i, path in enumerate(ctx.media_paths)
    ]
    unsupported = next((k for k in kinds if k not in READABLE_MEDIA), None)
    if unsupported and any(m.is_image for m in media):
        unsupported = None
    fetched = [a for a in event.attachments if a.url or a.media_id]
    if unsupported is None and fetched and not media:
        # The customer sent a photo or file that was refused (type, size, time, host)
        # or could not be fetched: say so rather than ignore it.
        unsupported = "media_failed"
    choice = event.payload if event.kind is EventKind.BUTTON else None
    return event_input(text, choice=choice, media=media, unsupported=unsupported)


def _media_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"
