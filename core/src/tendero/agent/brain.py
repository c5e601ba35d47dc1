"""What a brain gets for one customer message, and what it must give back.

The graph (:mod:`tendero.agent.graph`) builds one :class:`Turn` per inbound event: the
customer's words, tapped choice or media, the conversation state from the checkpoint, a
:class:`~tendero.agent.actions.Commerce` for the actions and the published store
settings. A :class:`Brain` reads it, runs actions (which change ``turn.state``) and
returns the channel-neutral replies. Two brains ship: ``rules`` (offline, deterministic;
:mod:`tendero.agent.rules`) and ``llm`` (:mod:`tendero.agent.llm`).

A brain never writes to the database itself: orders and receipts go through the
actions, and conversation-level effects (the customer asked for a person) are flags on
the turn that the runner commits with the replies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from tendero.agent.replies import Replies
from tendero.conversations.turns import Choice, LeadInfo, Reply

if TYPE_CHECKING:
    from tendero.agent.actions import Commerce
    from tendero.agent.state import ConversationState
    from tendero.store.document import StoreDocument

#: Recent messages kept in the checkpoint (customer and agent), oldest dropped first.
HISTORY_WINDOW = 12
#: Characters of one message kept in the history window.
HISTORY_CHARS = 500


@dataclass(frozen=True)
class Media:
    """A file the customer sent, stored under the data folder."""

    path: str  # relative to the data dir
    media_type: str  # MIME type, e.g. image/jpeg
    kind: str  # image, audio, video, file, sticker

    @property
    def is_image(self) -> bool:
        return self.kind == "image" or self.media_type.startswith("image/")


@dataclass
class Turn:
    """One customer event as a brain sees it.

    ``text`` is what the customer wrote (a media caption included); ``choice`` is the id
    of a tapped button or list row (see :func:`choice_id`); ``media`` the stored files;
    ``unsupported`` the kind of a message the agent cannot read (``"sticker"``,
    ``"audio"``, ``"video"``, ...). ``history`` is the bounded window of earlier messages
    (``{"role": "customer" | "agent", "text": ...}``), oldest first, without this one.
    ``first_contact`` is True on the first message of a conversation: the replies start
    with the greeting. ``language`` is the reply language decided for this turn (the
    brain may change it; the runner stores it on the conversation).
    """

    text: str
    state: ConversationState
    commerce: Commerce
    store: StoreDocument
    lead: LeadInfo
    channel: str
    language: str
    choice: str | None = None
    media: list[Media] = field(default_factory=list)
    unsupported: str | None = None
    history: list[dict[str, str]] = field(default_factory=list)
    first_contact: bool = False
    # Set by the brain: the customer asked for a person (the runner flags the
    # conversation, pauses the agent and tells the merchant).
    handoff: str | None = None

    @property
    def replies(self) -> Replies:
        """The reply texts in the turn's language and the store's tone."""
        cached = getattr(self, "_replies", None)
        if cached is None or cached.language != self.language:
            cached = Replies(self.store, self.language)
            self._replies = cached
        return cached

    def reply(self, text: str, choices: list[Choice] | tuple[Choice, ...] = ()) -> Reply:
        """A reply in the turn's language."""
        return Reply(text=text, choices=tuple(choices), language=self.language)


class Brain(Protocol):
    """Answers one turn: runs actions on ``turn.commerce`` and returns the replies."""

    name: str

    async def respond(self, turn: Turn) -> list[Reply]: ...


# --- tappable choices ------------------------------------------------------------------------
# Choice ids are "<kind>:<value>" so a tap is understood whatever text the channel shows.

PRODUCT = "product"
DELIVERY = "delivery"
LOCATION = "location"
ANSWER = "answer"


def choice_id(kind: str, value: str | int) -> str:
    return f"{kind}:{value}"


def parse_choice(choice: str | None) -> tuple[str, str] | None:
    """``("product", "12")`` for ``"product:12"``; ``None`` for anything else."""
    if not choice or ":" not in choice:
        return None
    kind, _, value = choice.partition(":")
    return (kind, value) if kind and value else None
