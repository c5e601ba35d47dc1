"""The agent's LangGraph graph: one node, one superstep per customer message.

Each superstep costs about a millisecond before any work is done, so the whole turn is a
single node: it rebuilds the :class:`~tendero.agent.state.ConversationState` from the
checkpoint, builds a :class:`~tendero.agent.brain.Turn`, lets the brain act and answer,
and writes the state back together with a bounded window of recent messages. The graph
is compiled with a persistent checkpointer and run with ``thread_id`` = the conversation
id and ``durability="exit"`` (one checkpoint per turn), so a restart in the middle of a
checkout continues exactly where the customer was.

The contract a replacement graph (``agent_graph`` hook) must keep: input
``{"event": <event dict>}`` (see :func:`event_input`), run with ``context=`` a
:class:`TurnDeps`, output ``{"replies": [<reply dict>, ...]}`` (see :func:`reply_to_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from tendero.agent.brain import HISTORY_CHARS, HISTORY_WINDOW, Brain, Media, Turn
from tendero.agent.nlu import detect_language
from tendero.agent.nlu.language import language_scores
from tendero.agent.replies.catalog import LANGUAGES
from tendero.agent.state import ConversationState
from tendero.conversations.turns import Choice, LeadInfo, Reply

if TYPE_CHECKING:
    from tendero.agent.actions import Commerce
    from tendero.store.document import StoreDocument


class AgentState(TypedDict, total=False):
    """What the checkpoint keeps per conversation (plain JSON types only)."""

    conversation: dict[str, Any]  # ConversationState.to_dict()
    history: list[dict[str, str]]  # the last HISTORY_WINDOW messages
    greeted: bool
    event: dict[str, Any]  # this turn's input
    replies: list[dict[str, Any]]  # this turn's output
    handoff: str | None  # set when this turn asked for a person
    ordered: bool  # this turn created an order
    language: str


@dataclass
class TurnDeps:
    """The per-turn objects the node needs that do not belong in a checkpoint."""

    brain: Brain
    commerce: Commerce
    store: StoreDocument
    lead: LeadInfo
    channel: str
    language: str = ""  # the conversation's language so far ("" = unknown)
    # From the lead row: offered as "same as last time?" when the state has none.
    saved_email: str = ""
    saved_address: dict[str, str] = field(default_factory=dict)


def event_input(
    text: str = "",
    *,
    choice: str | None = None,
    media: list[Media] | None = None,
    unsupported: str | None = None,
) -> dict[str, Any]:
    """The graph input for one customer event."""
    return {
        "text": text,
        "choice": choice,
        "media": [
            {"path": m.path, "media_type": m.media_type, "kind": m.kind} for m in media or []
        ],
        "unsupported": unsupported,
    }


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    return {
        "text": reply.text,
        "choices": [
            {"id": c.id, "title": c.title, "description": c.description} for c in reply.choices
        ],
        "image_url": reply.image_url,
        "language": reply.language,
    }


def reply_from_dict(data: dict[str, Any]) -> Reply:
    return Reply(
        text=str(data.get("text") or ""),
        choices=tuple(Choice(**c) for c in data.get("choices") or ()),
        image_url=data.get("image_url"),
        language=str(data.get("language") or "es"),
    )


def _language(text: str, tapped: bool, deps: TurnDeps, state: ConversationState) -> str:
    """The customer's language: from their own words, else what it was so far (a tapped
    choice's title is the agent's words, not theirs)."""
    store_language = deps.store.company.language
    current = state.language or deps.language or store_language
    if current not in LANGUAGES:
        current = "es"
    if not text or tapped:
        return current
    if not (state.language or deps.language):
        return detect_language(text, default=current)  # type: ignore[arg-type]
    # An established language changes only on clear evidence: an address or a product
    # name in the other language ("45 Elm Street", "Whey Gold") is not a switch.
    es, en = language_scores(text)
    if current == "es" and en - es >= 2:
        return "en"
    if current == "en" and es - en >= 2:
        return "es"
    return current


def _remember(history: list[dict[str, str]], role: str, text: str) -> None:
    text = text.strip()
    if text:
        history.append({"role": role, "text": text[:HISTORY_CHARS]})


async def respond(state: AgentState, runtime: Runtime[TurnDeps]) -> dict[str, Any]:
    """The whole turn (see the module doc)."""
    deps = runtime.context
    event = state.get("event") or {}
    conversation = ConversationState.from_dict(state.get("conversation"))
    if not conversation.has_saved_details and (deps.saved_email or deps.saved_address):
        conversation.saved_email = deps.saved_email
        conversation.saved_address = dict(deps.saved_address)
    text = str(event.get("text") or "")
    history = list(state.get("history") or [])
    turn = Turn(
        text=text,
        state=conversation,
        commerce=deps.commerce,
        store=deps.store,
        lead=deps.lead,
        channel=deps.channel,
        language=_language(text, bool(event.get("choice")), deps, conversation),
        choice=event.get("choice"),
        media=[Media(**m) for m in event.get("media") or ()],
        unsupported=event.get("unsupported"),
        history=list(history),
        first_contact=not state.get("greeted"),
    )
    last_order = conversation.last_order_number
    replies = await deps.brain.respond(turn)
    conversation.language = turn.language
    _remember(history, "customer", text or (f"[{turn.media[0].kind}]" if turn.media else ""))
    for reply in replies:
        _remember(history, "agent", reply.text)
    return {
        "conversation": conversation.to_dict(),
        "history": history[-HISTORY_WINDOW:],
        "greeted": True,
        "replies": [reply_to_dict(r) for r in replies],
        "handoff": turn.handoff,
        "language": turn.language,
        "ordered": conversation.last_order_number != last_order,
    }


def build_graph(checkpointer: BaseCheckpointSaver[str] | None) -> Any:
    """The compiled one-node graph (``checkpointer`` ``None``: state lives one run only)."""
    graph = StateGraph(AgentState, context_schema=TurnDeps)
    graph.add_node("respond", respond)
    graph.add_edge(START, "respond")
    graph.add_edge("respond", END)
    return graph.compile(checkpointer=checkpointer, name="tendero-agent")
