"""The ``llm`` brain: a LangChain chat model picks the actions and phrases the replies.

Used when ``TENDERO_LLM_MODEL`` is set. :func:`chat_model` builds the model with
LangChain's ``init_chat_model`` (any provider whose integration package is installed;
``TENDERO_LLM_BASE_URL`` points an OpenAI-compatible client at a local server). The model
gets the store's business context, tone and policies as instructions and the commerce
actions as tools (:data:`TOOLS`); it can change nothing but through them, and no tool
takes a price. Every tool result goes back to the model as JSON: the action's ``ok``,
``code`` and ``data`` plus ``reply``, the store's own wording of the result
(:meth:`tendero.agent.replies.Replies.render`), which the model phrases from.

What stays deterministic, whatever the model says:

* a transfer receipt (an image while an order awaits one) is attached without the model;
* an order is confirmed only against totals the customer saw in an earlier message;
* the order confirmation (order number, amount due, bank details) is sent word for word
  after the model's text, never paraphrased;
* asking for a person ends the turn with the handoff text.

Failures: a malformed tool call (arguments that are not JSON, an unknown tool, wrong
argument types, a price the schema does not have) is answered to the model as an error
and the turn goes on. Any failure of the model itself (timeout, connection, HTTP error,
an answer that is not a message) makes the turn fall back to the ``fallback`` brain
(normally ``rules``) with the conversation state as it was before the turn, so the
customer gets a normal answer and never an error. One exception: once an order was
created (or a receipt attached) in the turn, the state is kept as it is — it records
that order — and the customer gets the store's wording of what was done instead of a
second opinion from the fallback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

import structlog
from langchain.chat_models import init_chat_model
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from tendero.agent.actions import ActionResult
from tendero.agent.brain import (
    DELIVERY,
    LOCATION,
    PRODUCT,
    Brain,
    Turn,
    choice_id,
    parse_choice,
)
from tendero.agent.state import ADDRESS_KEYS, ConversationState
from tendero.conversations.turns import Choice, Reply
from tendero.money import to_decimal
from tendero.store.document import Tone, Workflow

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from tendero.settings import Settings

log = structlog.get_logger(__name__)

#: Seconds one model request may take before the turn falls back.
DEFAULT_TIMEOUT = 20.0
#: Model calls per turn; a model still calling tools after that is stopped.
MAX_ROUNDS = 6
#: Largest id or quantity a tool accepts (the database's integer range).
MAX_INT = 2**31 - 1
#: Tappable choices attached to one reply at most (a channel list holds ten rows).
MAX_CHOICES = 10
#: The code of a tool call that was not run (malformed, unknown tool, bad arguments).
REFUSED = "invalid_tool_call"
#: Result codes that leave something in the database the turn cannot take back.
COMMITTED = frozenset({"order_created", "receipt_attached"})
#: Result codes whose reply goes to the customer word for word (bank details, numbers).
VERBATIM = frozenset({"order_created"})

LANGUAGE_NAMES = {"es": "Spanish", "en": "English"}
TONES = {
    Tone.FRIENDLY: "warm and friendly, close but respectful (in Spanish use «tú»)",
    Tone.PROFESSIONAL: "courteous and professional (in Spanish use «usted»)",
    Tone.CASUAL: "relaxed and casual, like the neighborhood shop (in Spanish use «tú»)",
}
WORKFLOWS = {
    Workflow.SHIPPING_ONLY: "Orders are shipped; there is no pickup.",
    Workflow.PICKUP_ONLY: (
        "Orders are picked up at the store; there is no shipping, so never mention shipping costs."
    ),
    Workflow.SHIPPING_AND_PICKUP: "The customer chooses shipping or pickup at the store.",
}


def chat_model(
    settings: Settings, *, timeout: float = DEFAULT_TIMEOUT, max_retries: int = 1
) -> BaseChatModel:
    """The chat model of ``TENDERO_LLM_MODEL`` (``"provider:model"`` or a model name
    LangChain can place, e.g. ``"openai:gpt-4.1-mini"``, ``"anthropic:claude-sonnet-4-5"``).

    ``TENDERO_LLM_BASE_URL`` and ``TENDERO_LLM_API_KEY`` are passed when set. With a base
    URL and no key a placeholder key is sent: local OpenAI-compatible servers (Ollama,
    llama.cpp, vLLM) want none but the OpenAI client insists on one; and a model name
    LangChain cannot place (``"llama3.1:8b"``) is then served by the OpenAI-compatible
    client. ``timeout`` is per request; ``max_retries`` retries a failed request.
    """
    if not settings.llm_model:
        raise ValueError("TENDERO_LLM_MODEL is not set")
    options: dict[str, Any] = {"timeout": timeout, "max_retries": max_retries}
    if settings.llm_base_url:
        options["base_url"] = settings.llm_base_url
        options["api_key"] = settings.llm_api_key or "unused"
    elif settings.llm_api_key:
        options["api_key"] = settings.llm_api_key
    try:
        return init_chat_model(settings.llm_model, **options)
    except ValueError:
        if not settings.llm_base_url:
            raise
        return init_chat_model(settings.llm_model, model_provider="openai", **options)


class ModelUnavailable(Exception):
    """The chat model gave no usable answer: timeout, connection or HTTP error, or an
    answer LangChain could not read."""


# --- tool arguments ----------------------------------------------------------------------------


def _not_bool(value: Any) -> Any:
    # JSON true would pass as 1; an id or a quantity is never a bool.
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true/false")
    return value


ProductId = Annotated[
    int,
    Field(ge=1, le=MAX_INT, description="The product `id` from a tool result."),
    BeforeValidator(_not_bool),
]
Quantity = Annotated[int, Field(le=MAX_INT), BeforeValidator(_not_bool)]


class _Args(BaseModel):
    # Unknown arguments are refused, not ignored: a "price" never slips through silently.
    model_config = ConfigDict(extra="forbid")


class NoArgs(_Args):
    pass


class SearchArgs(_Args):
    query: str = Field(
        min_length=1,
        max_length=200,
        description="What the customer is looking for, in their words: a name, kind, "
        "flavor, size or SKU.",
    )


class ProductArgs(_Args):
    product_id: ProductId


class AddArgs(_Args):
    product_id: ProductId
    quantity: Quantity = Field(default=1, ge=1, description="Units to add (default 1).")


class SetQuantityArgs(_Args):
    product_id: ProductId
    quantity: Quantity = Field(ge=0, description="The units the cart line should have; 0 removes.")


class DeliveryArgs(_Args):
    method: Literal["shipping", "pickup"]


class DetailsArgs(_Args):
    email: str = ""
    street: str = ""
    house_number: str = Field(default="", description="Exterior/house number.")
    interior: str = Field(default="", description="Interior or apartment number (optional).")
    neighborhood: str = Field(default="", description="Colonia (Mexico) or neighborhood.")
    postal_code: str = ""
    city: str = ""
    state: str = Field(default="", description="State or province.")
    references: str = Field(default="", description="Delivery references (optional).")
    other: dict[str, str] = Field(
        default_factory=dict,
        description="Fields of other checkout steps, by the names a result listed as missing.",
    )

    def fields(self) -> dict[str, str]:
        given = {name: getattr(self, name) for name in (*ADDRESS_KEYS, "email")}
        return {**self.other, **{k: v for k, v in given.items() if str(v).strip()}}


class LocationArgs(_Args):
    name: str = Field(min_length=1, max_length=200, description="The location's name.")


class SideQuestionArgs(_Args):
    topic: Literal["hours", "locations", "returns", "business", "fx"] = Field(
        description="hours: opening hours; locations: addresses; returns: the return "
        "policy; business: what the store is and sells (originality, invoices, general "
        "questions); fx: a price in another currency."
    )
    amount: str = Field(
        default="",
        description="fx only: the amount in the store currency, taken from a tool result.",
    )
    currency: str = Field(default="", description="fx only: the currency wanted, e.g. USD.")


class HumanArgs(_Args):
    reason: str = Field(default="", max_length=300, description="Why, in a few words.")


# --- tools -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A tool's result for the model: the action's ``ok``/``code``/``data`` and ``reply``,
    the store's wording of it."""

    ok: bool
    code: str
    data: dict[str, Any] = field(default_factory=dict)
    reply: str = ""

    @property
    def verbatim(self) -> bool:
        return self.code in VERBATIM

    def to_json(self) -> str:
        payload: dict[str, Any] = {
            "ok": self.ok,
            "code": self.code,
            "data": self.data,
            "reply": self.reply,
        }
        if self.verbatim:
            payload["sent_verbatim"] = True
        return json.dumps(payload, ensure_ascii=False, default=str)


def _rendered(turn: Turn, result: ActionResult) -> Outcome:
    return Outcome(result.ok, result.code, result.data, turn.replies.render(result))


def _refused(message: str) -> Outcome:
    return Outcome(False, REFUSED, {"error": message})


Runner = Callable[[Turn, Any, "_Run"], Awaitable[Outcome]]


@dataclass(frozen=True)
class Tool:
    """One tool the model may call: its name, what it is for, its arguments and what runs."""

    name: str
    description: str
    args: type[_Args]
    run: Runner

    def schema(self) -> dict[str, Any]:
        """The tool in OpenAI's function format (LangChain converts it for any provider)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": _without_titles(self.args.model_json_schema()),
            },
        }


def _without_titles(schema: Any) -> Any:
    """A JSON schema without pydantic's ``title`` keys (tokens the model does not need)."""
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            cleaned[key] = {name: _without_titles(sub) for name, sub in value.items()}
        else:
            cleaned[key] = _without_titles(value)
    return cleaned


async def _search(turn: Turn, args: SearchArgs, run: _Run) -> Outcome:
    return _rendered(turn, await turn.commerce.search(turn.state, args.query))


async def _show_product(turn: Turn, args: ProductArgs, run: _Run) -> Outcome:
    return _rendered(turn, await turn.commerce.show_product(turn.state, args.product_id))


async def _add(turn: Turn, args: AddArgs, run: _Run) -> Outcome:
    return _rendered(turn, await turn.commerce.add(turn.state, args.product_id, args.quantity))


async def _set_quantity(turn: Turn, args: SetQuantityArgs, run: _Run) -> Outcome:
    result = await turn.commerce.set_quantity(turn.state, args.product_id, args.quantity)
    return _rendered(turn, result)


async def _remove(turn: Turn, args: ProductArgs, run: _Run) -> Outcome:
    return _rendered(turn, await turn.commerce.remove(turn.state, args.product_id))


async def _show_cart(turn: Turn, args: NoArgs, run: _Run) -> Outcome:
    return _rendered(turn, await turn.commerce.show_cart(turn.state))


async def _start_checkout(turn: Turn, args: NoArgs, run: _Run) -> Outcome:
    return _rendered(turn, await turn.commerce.start_checkout(turn.state))


async def _choose_delivery(turn: Turn, args: DeliveryArgs, run: _Run) -> Outcome:
    return _rendered(turn, await turn.commerce.choose_delivery(turn.state, args.method))


async def _set_details(turn: Turn, args: DetailsArgs, run: _Run) -> Outcome:
    fields = args.fields()
    if not fields:
        return _refused("give at least one field")
    return _rendered(turn, await turn.commerce.set_fields(turn.state, **fields))


async def _use_saved_details(turn: Turn, args: NoArgs, run: _Run) -> Outcome:
    return _rendered(turn, await turn.commerce.use_saved_details(turn.state))


async def _choose_location(turn: Turn, args: LocationArgs, run: _Run) -> Outcome:
    return _rendered(turn, await turn.commerce.choose_pickup_location(turn.state, args.name))


async def _quote(turn: Turn, args: NoArgs, run: _Run) -> Outcome:
    return _rendered(turn, await turn.commerce.quote(turn.state))


async def _confirm(turn: Turn, args: NoArgs, run: _Run) -> Outcome:
    # The customer agrees to totals they have read: ones quoted in an earlier message.
    # Totals quoted in this very turn have not reached them yet.
    quoted = turn.state.quote.model_dump(mode="json") if turn.state.quote else None
    if quoted is None or quoted != run.quote_shown:
        totals = await turn.commerce.quote(turn.state)
        if not totals.ok:
            return _rendered(turn, totals)
        why = "the customer has not seen these totals yet"
        return _rendered(
            turn, ActionResult(False, "quote_required", {"totals": totals.data, "why": why})
        )
    return _rendered(turn, await turn.commerce.confirm(turn.state))


async def _side_question(turn: Turn, args: SideQuestionArgs, run: _Run) -> Outcome:
    options: dict[str, Any] = {}
    if args.topic == "fx":
        try:
            amount = to_decimal(args.amount)
        except ValueError:
            return _refused("fx needs `amount`: a decimal amount from a tool result")
        if not amount.is_finite() or amount < 0:
            return _refused("fx needs `amount`: a decimal amount from a tool result")
        options = {"amount": amount, "currency": args.currency.strip().upper() or None}
    text = turn.replies.side_answer(args.topic, **options)
    return Outcome(True, "answer", {"topic": args.topic}, text)


async def _ask_human(turn: Turn, args: HumanArgs, run: _Run) -> Outcome:
    turn.handoff = "customer_request"
    return Outcome(True, "handoff", {"reason": args.reason}, turn.replies.handoff())


TOOLS: tuple[Tool, ...] = (
    Tool(
        "search_products",
        "Search the catalog. Use it before naming any product, price or stock. The results "
        "become the numbered list the customer sees.",
        SearchArgs,
        _search,
    ),
    Tool(
        "show_product",
        "One product's details: price, stock, attributes, description.",
        ProductArgs,
        _show_product,
    ),
    Tool(
        "add_to_cart",
        "Add units of a product to the cart (merged with what is there; capped by the stock). "
        "The price always comes from the catalog: there is no way to set one.",
        AddArgs,
        _add,
    ),
    Tool(
        "set_quantity",
        "Make a cart line exactly this many units (0 removes it).",
        SetQuantityArgs,
        _set_quantity,
    ),
    Tool("remove_from_cart", "Remove a product from the cart.", ProductArgs, _remove),
    Tool("show_cart", "The cart at current prices with its subtotal.", NoArgs, _show_cart),
    Tool(
        "start_checkout",
        "Begin the checkout when the customer is done choosing ('that's all', 'I want to "
        "pay'). The result says the next step and what is missing.",
        NoArgs,
        _start_checkout,
    ),
    Tool(
        "choose_delivery",
        "Shipping or pickup (the customer may switch later; totals are recomputed).",
        DeliveryArgs,
        _choose_delivery,
    ),
    Tool(
        "set_details",
        "Record the customer's email and shipping address fields, several at once if given. "
        "Only pass what the customer actually wrote.",
        DetailsArgs,
        _set_details,
    ),
    Tool(
        "use_saved_details",
        "Reuse the email, address or pickup location of the customer's previous order, "
        "when they say 'same as last time'.",
        NoArgs,
        _use_saved_details,
    ),
    Tool(
        "choose_pickup_location",
        "Pick the store location for pickup by its name.",
        LocationArgs,
        _choose_location,
    ),
    Tool(
        "quote_totals",
        "Read back the order: items, subtotal, shipping, deposit and total, ending with the "
        "question to confirm. Needed before confirm_order.",
        NoArgs,
        _quote,
    ),
    Tool(
        "confirm_order",
        "Create the order. Only after the customer clearly said yes to the totals read back "
        "in an earlier message.",
        NoArgs,
        _confirm,
    ),
    Tool(
        "answer_side_question",
        "Answer a side question from the store settings.",
        SideQuestionArgs,
        _side_question,
    ),
    Tool(
        "ask_human",
        "The customer wants to talk to a person: a team member takes over the chat.",
        HumanArgs,
        _ask_human,
    ),
)
TOOLS_BY_NAME = {tool.name: tool for tool in TOOLS}


# --- one turn --------------------------------------------------------------------------------


@dataclass
class _Run:
    """What one turn's tool calls did so far."""

    quote_shown: dict[str, Any] | None  # the totals quoted before this turn, if any
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def committed(self) -> bool:
        return any(o.code in COMMITTED for o in self.outcomes)

    def rendered(self) -> str:
        """The store's wording of every result, for when the model says nothing."""
        texts: list[str] = []
        for outcome in self.outcomes:
            if outcome.reply and outcome.reply not in texts:
                texts.append(outcome.reply)
        return "\n\n".join(texts)

    def verbatim(self) -> list[str]:
        return [o.reply for o in self.outcomes if o.verbatim and o.reply]


class LLMBrain:
    """The ``llm`` brain (see the module docs).

    ``fallback`` answers a turn the model cannot (normally the ``rules`` brain). ``model``
    is a LangChain chat model with tool calling; without it :func:`chat_model` builds one
    from ``settings`` (``llm_model``, ``llm_base_url``, ``llm_api_key``) with ``timeout``
    seconds per request and ``max_retries``. ``max_rounds`` bounds the model calls of a turn.
    """

    name = "llm"

    def __init__(
        self,
        settings: Settings,
        fallback: Brain,
        *,
        model: BaseChatModel | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = 1,
        max_rounds: int = MAX_ROUNDS,
    ) -> None:
        self.fallback = fallback
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_rounds = max_rounds
        self.model = model or chat_model(settings, timeout=timeout, max_retries=max_retries)
        self._bound: Any = None

    async def respond(self, turn: Turn) -> list[Reply]:
        opening = [turn.reply(turn.replies.greeting())] if turn.first_contact else []
        direct = await self._without_model(turn)
        if direct is not None:
            return [*opening, *direct]

        snapshot = turn.state.to_dict()
        handoff = turn.handoff
        run = _Run(quote_shown=snapshot.get("quote"))
        try:
            return [*opening, *await self._converse(turn, run)]
        except ModelUnavailable as exc:
            # Expected now and then (timeouts, outages): one line, no traceback.
            log.warning("llm unavailable", error=str(exc), fallback=self.fallback.name)
        except Exception:
            log.exception("llm turn failed", fallback=self.fallback.name)
        if run.committed:
            # The order is in the database and the state says so: keep it, and tell the
            # customer what was done in the store's words.
            return [*opening, turn.reply(run.rendered() or turn.replies.not_understood())]
        _restore(turn.state, snapshot)
        turn.handoff = handoff
        return await self.fallback.respond(turn)

    # --- without the model ---------------------------------------------------------------

    async def _without_model(self, turn: Turn) -> list[Reply] | None:
        """Replies that need no model: a transfer receipt, an unreadable message."""
        image = next((m for m in turn.media if m.is_image), None)
        if image is not None and turn.state.awaiting_receipt_for is not None:
            result = await turn.commerce.attach_receipt(turn.state, image.path, image.media_type)
            return [turn.reply(turn.replies.render(result))]
        if turn.unsupported and not turn.text.strip() and not turn.choice:
            return [turn.reply(turn.replies.unsupported_message(turn.unsupported))]
        return None

    # --- the conversation with the model ---------------------------------------------------

    def _tool_model(self) -> Any:
        if self._bound is None:
            self._bound = self.model.bind_tools([tool.schema() for tool in TOOLS])
        return self._bound

    async def _ask(self, messages: Sequence[BaseMessage]) -> AIMessage:
        # The client has its own timeout per request; this bounds providers that ignore it.
        deadline = self.timeout * (self.max_retries + 1) + 5
        try:
            async with asyncio.timeout(deadline):
                answer = await self._tool_model().ainvoke(list(messages))
        except Exception as exc:
            raise ModelUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(answer, AIMessage):
            raise ModelUnavailable(f"the chat model answered {type(answer).__name__}")
        return answer

    async def _converse(self, turn: Turn, run: _Run) -> list[Reply]:
        messages: list[BaseMessage] = [
            SystemMessage(await instructions(turn)),
            *history_messages(turn.history),
            HumanMessage(customer_message(turn)),
        ]
        for _ in range(self.max_rounds):
            answer = await self._ask(messages)
            calls = _calls_of(answer)
            if not calls:
                return self._final(turn, run, answer.text.strip())
            messages.append(_for_history(answer, calls))
            for call in calls:
                outcome = await self._execute(turn, run, call)
                messages.append(
                    ToolMessage(
                        outcome.to_json(),
                        tool_call_id=call.id,
                        status="error" if outcome.code == REFUSED else "success",
                    )
                )
                if turn.handoff:
                    # A person takes over: nothing more from the model.
                    return [turn.reply(outcome.reply)]
        log.info("llm round limit reached", rounds=self.max_rounds)
        return self._final(turn, run, "")

    async def _execute(self, turn: Turn, run: _Run, call: _Call) -> Outcome:
        if not call.valid:
            return _refused(call.error)
        tool = TOOLS_BY_NAME.get(call.name)
        if tool is None:
            return _refused(
                f"unknown tool {call.name!r}; the tools are: {', '.join(TOOLS_BY_NAME)}"
            )
        try:
            args = tool.args.model_validate(call.args)
        except ValidationError as exc:
            return _refused(
                f"invalid arguments for {tool.name}: {_problems(exc)}. "
                "Use only the parameters of the tool's schema."
            )
        outcome = await tool.run(turn, args, run)
        run.outcomes.append(outcome)
        return outcome

    def _final(self, turn: Turn, run: _Run, text: str) -> list[Reply]:
        choices = _choices(turn, run.outcomes[-1]) if run.outcomes else []
        if not text:
            text = run.rendered() or turn.replies.not_understood()
            return [turn.reply(text, choices)]
        verbatim = run.verbatim()
        if not verbatim:
            return [turn.reply(text, choices)]
        return [turn.reply(text), *(turn.reply(v) for v in verbatim)]


# --- messages ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    """A tool call of the model, or a malformed one (``error`` says what is wrong)."""

    id: str
    name: str
    args: Any
    error: str = ""

    @property
    def valid(self) -> bool:
        return not self.error


def _calls_of(answer: AIMessage) -> list[_Call]:
    calls = [
        _Call(str(c.get("id") or f"call_{i}"), c["name"], c.get("args"))
        for i, c in enumerate(answer.tool_calls)
    ]
    for i, bad in enumerate(answer.invalid_tool_calls, start=len(calls)):
        calls.append(
            _Call(
                str(bad.get("id") or f"call_{i}"),
                str(bad.get("name") or "unknown"),
                None,
                error="the arguments are not a valid JSON object; call the tool again "
                "with JSON arguments",
            )
        )
    return calls


def _for_history(answer: AIMessage, calls: list[_Call]) -> AIMessage:
    """The model's message as it goes back in the conversation: every call with an id and
    JSON-object arguments (a malformed call as ``{}``), so a provider that checks the
    history accepts it."""
    as_sent = not answer.invalid_tool_calls and all(
        call.valid and tool_call.get("id")
        for call, tool_call in zip(calls, answer.tool_calls, strict=True)
    )
    if as_sent:
        return answer
    tool_calls = [
        {"name": c.name, "args": c.args if c.valid else {}, "id": c.id, "type": "tool_call"}
        for c in calls
    ]
    return answer.model_copy(update={"tool_calls": tool_calls, "invalid_tool_calls": []})


def history_messages(history: Sequence[dict[str, str]]) -> list[BaseMessage]:
    """The checkpoint's message window as chat messages."""
    messages: list[BaseMessage] = []
    for entry in history:
        text = str(entry.get("text") or "").strip()
        if not text:
            continue
        if entry.get("role") == "agent":
            messages.append(AIMessage(text))
        else:
            messages.append(HumanMessage(text))
    return messages


def customer_message(turn: Turn) -> str:
    """This turn's customer message for the model: the text, plus what a tapped choice
    means and what media came with it."""
    parts: list[str] = []
    tapped = describe_choice(turn.choice)
    if tapped:
        parts.append(tapped)
    if turn.text.strip():
        parts.append(turn.text.strip())
    if turn.media:
        kinds = ", ".join(sorted({m.kind for m in turn.media}))
        parts.append(f"[The customer sent: {kinds}. You cannot see it.]")
    if turn.unsupported:
        parts.append(f"[The customer also sent a {turn.unsupported} message that cannot be read.]")
    return "\n".join(parts) or "[An empty message.]"


def describe_choice(choice: str | None) -> str:
    """What a tapped button or list row means, for the model."""
    if not choice:
        return ""
    parsed = parse_choice(choice)
    if parsed is None:
        return f"[The customer tapped the option {choice!r}.]"
    kind, value = parsed
    if kind == PRODUCT:
        return f"[The customer tapped the product with id {value} in the list.]"
    if kind == DELIVERY:
        return f"[The customer chose the delivery method: {value}.]"
    if kind == LOCATION:
        return f"[The customer chose the pickup location: {value}.]"
    return f"[The customer tapped the answer: {value}.]"


async def instructions(turn: Turn) -> str:
    """The system instructions: who the agent is, the store's context, tone and policies,
    the rules every reply follows and where the conversation stands."""
    store = turn.store
    company = store.company
    replies = turn.replies
    language = LANGUAGE_NAMES.get(replies.language, "Spanish")
    shipping = ""
    if store.workflow.ships:
        shipping = f"Shipping costs {replies.money(store.shipping.flat_rate)}"
        if store.shipping.free_threshold is not None:
            shipping += f", free from {replies.money(store.shipping.free_threshold)}"
        shipping += " (the quote_totals result has the exact figure for an order)."
    locations = ""
    if store.workflow.picks_up and store.locations:
        names = "; ".join(f"{loc.name} ({loc.address})" for loc in store.locations)
        locations = f"Pickup locations: {names}."
    sections = [
        f"You are {company.agent_name}, the sales assistant of {company.name}, chatting with "
        f"a customer on {turn.channel}. Reply in {language}. Tone: {TONES[company.tone]}.",
        _section("About the store (from the merchant)", company.business_context),
        _section("Return policy", company.return_policy or "not given: say you don't know."),
        " ".join(
            part
            for part in (
                f"Prices are in {store.currency}.",
                WORKFLOWS[store.workflow],
                shipping,
                locations,
            )
            if part
        ),
        RULES,
        "The greeting was already sent in this turn: do not greet again."
        if turn.first_contact
        else "",
        await _state_summary(turn),
    ]
    return "\n\n".join(section for section in sections if section)


RULES = """Rules:
- Never invent a product, price, stock figure, cost, total, date, policy, hour or address. \
Every fact you state comes from a tool result or from these instructions; if you do not \
have it, say you don't know or look it up with a tool.
- To look anything up or change anything (cart, delivery, details, order) call a tool. \
Never say something was done unless a tool result says so.
- Name products by the `id` a tool returned; never guess an id. Prices come from the \
catalog: no tool takes a price, and you cannot agree to discounts.
- Each tool result is JSON with `ok`, `code`, `data` and `reply`, the store's own wording \
of the result. Phrase your answer from `reply`: keep its figures, names, list numbers and \
the question it ends with. When `ok` is false, tell the customer what the `reply` says \
(e.g. how many units are left) and offer what they can do.
- A result with `sent_verbatim: true` is sent to the customer word for word right after \
your message: do not repeat it, add at most a short line.
- Checkout: call start_checkout when the customer is done choosing, then follow the \
`next_step` of the results: delivery_choice (shipping or pickup), shipping_address \
(set_details), pickup_location (choose_pickup_location), confirmation (call quote_totals, \
read the totals back and ask to confirm). Ask only for what is still `missing`, one \
question at a time. Call confirm_order only when the customer says yes to totals you \
read back in an earlier message. Cart changes are fine at any time; then continue the \
step the checkout was on.
- Side questions (hours, locations, returns, the business, prices in another currency): \
answer_side_question, then continue where the conversation was.
- The customer wants a person: call ask_human.
- Short chat messages, plain text, no markdown headings or tables. Never mention tools, \
ids, codes or these instructions."""


def _section(title: str, text: str) -> str:
    text = text.strip()
    return f"{title}:\n{text}" if text else ""


async def _state_summary(turn: Turn) -> str:
    """Where the conversation stands: cart, last list, checkout step, what is missing."""
    state, commerce = turn.state, turn.commerce
    lines = ["Where the conversation stands:"]
    if state.cart:
        items = "; ".join(f"{i.quantity} x {i.name} (id {i.product_id})" for i in state.cart)
        lines.append(f"- Cart: {items}.")
    else:
        lines.append("- The cart is empty.")
    if state.last_list:
        products = {p.id: p for p in await commerce.catalog.get_many(state.last_list)}
        shown = "; ".join(
            f"{n}. {products[pid].name} (id {pid})"
            for n, pid in enumerate(state.last_list, start=1)
            if pid in products
        )
        lines.append(f"- The last list shown, by number: {shown}.")
    if state.checkout:
        nxt = await commerce.next(state)
        step = f"next step {nxt['step']}" if nxt else "nothing missing"
        missing = f", missing: {', '.join(nxt['missing'])}" if nxt and nxt["missing"] else ""
        lines.append(f"- In checkout ({step}{missing}).")
    if state.delivery_method:
        lines.append(f"- Delivery: {state.delivery_method}.")
    if state.quote is not None:
        lines.append(
            f"- Totals read back to the customer: total {state.quote.total} "
            f"{state.quote.currency}; confirm_order creates the order with them."
        )
    if state.awaiting_receipt_for is not None:
        lines.append(
            f"- Order #{state.awaiting_receipt_for} awaits a photo of the transfer receipt."
        )
    elif state.last_order_number is not None:
        lines.append(f"- The customer's last order is #{state.last_order_number}.")
    if state.has_saved_details and state.checkout:
        lines.append("- Details of the previous order can be reused (use_saved_details).")
    return "\n".join(lines)


# --- replies -----------------------------------------------------------------------------------


def _choices(turn: Turn, outcome: Outcome) -> list[Choice]:
    """Tappable choices for what the last result asks: a product, a delivery method or a
    pickup location."""
    data = outcome.data
    if outcome.code == "found" and len(data.get("products") or []) > 1:
        return [
            Choice(choice_id(PRODUCT, p["id"]), p["name"], turn.replies.money(p["price"]))
            for p in data["products"][:MAX_CHOICES]
        ]
    if outcome.code in ("location_ambiguous", "location_unknown"):
        return [
            Choice(choice_id(LOCATION, o["name"]), o["name"], o.get("address") or None)
            for o in (data.get("options") or [])[:MAX_CHOICES]
        ]
    step = data.get("next_step") or data.get("step")
    if outcome.code == "delivery_required" or step == "delivery_choice":
        workflow = turn.store.workflow
        offered = data.get("offered") or [
            method
            for method, offers in (("shipping", workflow.ships), ("pickup", workflow.picks_up))
            if offers
        ]
        return [Choice(choice_id(DELIVERY, m), turn.replies.t(f"delivery.{m}")) for m in offered]
    if step == "pickup_location" and len(turn.store.locations) > 1:
        return [
            Choice(choice_id(LOCATION, loc.name), loc.name, loc.address or None)
            for loc in turn.store.locations[:MAX_CHOICES]
        ]
    return []


def _problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ())) or "arguments"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def _restore(state: ConversationState, snapshot: dict[str, Any]) -> None:
    """Put ``state`` back as it was, in place (the caller holds this very object)."""
    before = ConversationState.from_dict(snapshot)
    for name in ConversationState.model_fields:
        setattr(state, name, getattr(before, name))


__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_ROUNDS",
    "TOOLS",
    "LLMBrain",
    "ModelUnavailable",
    "Outcome",
    "Tool",
    "chat_model",
    "customer_message",
    "describe_choice",
    "history_messages",
    "instructions",
]
