"""The turn interface: what the dispatcher hands to whatever answers a customer.

A :class:`TurnRunner` gets one :class:`TurnContext` per customer event and returns the
channel-neutral :class:`Reply` objects to send; the pipeline renders them for the channel
(:func:`tendero.channels.render.render`), stores them and delivers them. The agent plugs
in here (through the ``agent_graph`` hook) without any change to the pipeline; until then
:class:`AcknowledgementRunner` answers with a plain acknowledgement.

Why the turn does not hold the write transaction: SQLite has one writer, and a turn may
wait seconds for an LLM. A turn reads through ``ctx.session`` (a read session) and queues
its writes with :meth:`TurnContext.defer`; the dispatcher runs them in the one short write
transaction that also stores the replies and marks the inbox row done, so a turn's
effects commit exactly once or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from tendero.agent.nlu.language import detect_language

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from tendero.channels.base import InboundEvent, MessageLimits
    from tendero.settings import Settings

Effect = Callable[["AsyncSession"], Awaitable[None]]


@dataclass(frozen=True)
class Choice:
    """An option the customer can pick (rendered as a button, a list row or "1. ...")."""

    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class Reply:
    """One channel-neutral reply: text, optional choices, optional image."""

    text: str = ""
    choices: tuple[Choice, ...] | list[Choice] = ()
    image_url: str | None = None
    language: str = "es"  # the language of the hint "you can also type your answer"


@dataclass(frozen=True)
class LeadInfo:
    """Who the turn talks to (what the lead row holds, read with the inbox row)."""

    id: int
    name: str
    platform_id: str
    phone: str = ""
    email: str = ""
    last_address: dict[str, str] | None = None


@dataclass
class TurnContext:
    """Everything one turn may use.

    ``session`` is a read session; write through :meth:`defer` (see the module doc).
    ``media_paths`` are the attachments stored for this event, relative to the data dir.
    """

    conversation_id: int
    channel: str
    lead: LeadInfo
    event: InboundEvent
    limits: MessageLimits
    session: AsyncSession
    settings: Settings
    language: str = ""
    media_paths: list[str] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)

    def defer(self, effect: Effect) -> None:
        """Run ``effect(session)`` in the transaction that commits this turn."""
        self.effects.append(effect)


class TurnRunner(Protocol):
    """Answers one customer event: ``async def __call__(ctx) -> list[Reply]``."""

    async def __call__(self, ctx: TurnContext) -> list[Reply]: ...


class AcknowledgementRunner:
    """The stand-in turn until the agent lands: thank the customer in their language."""

    async def __call__(self, ctx: TurnContext) -> list[Reply]:
        language = detect_language(ctx.event.text)
        if language == "en":
            text = "Thanks for your message! We got it and will get back to you shortly."
        else:
            text = "¡Gracias por tu mensaje! Lo recibimos y te respondemos en breve."
        return [Reply(text=text, language=language)]
