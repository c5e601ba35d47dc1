"""Agent turns with the rules brain: latency, throughput, checkpoint bytes, idle memory.

    python benchmarks/agent_turns.py [--conversations 100] [--concurrency 3]
        [--idle 1000] [--e2e-conversations 24] [--e2e-concurrency 1,8,32]
        [--dispatcher-concurrency 3] [--parts turns,memory,e2e] [--profile FILE]
        [--server-profile FILE] [--paced] [--postgres URL] [--keep]

Everything runs on a fresh database loaded the way an operator would: ``tendero db
upgrade`` then ``tendero demo --if-empty`` (the 32-product demo store, its settings and
the shipping-and-pickup workflow), SQLite in a temp folder by default, or with
``--postgres postgresql://user@host:5432/db`` a new database created on that server and
dropped afterwards (unless ``--keep``). Stock is raised to 1,000,000 for every product
that has some, so hundreds of scripted orders never sell out and every run of a script
takes the same path.

The conversations are scripted chats in Spanish and English (``SCRIPTS``): a product
search, a pick from the list (typed or tapped), a quantity change, side questions
(hours, returns, shipping cost, dollars, originality), the cart, checkout, shipping or
pickup, the address, the confirmation that creates the order.

Parts (``--parts``, all by default):

* ``turns`` -- in process, ``AgentRunner.__call__`` driven with ``TurnContext`` objects the
  way the dispatcher builds them (a read session, the conversation's language; deferred
  effects committed after the turn), on lead/conversation rows created by the ingress
  code (``get_or_create_conversation``):

  - sequential: ``--conversations`` conversations, one turn at a time: turn latency
    p50/p95/p99/max, turns/s, CPU per turn, and the parts of a turn (``PARTS``: each
    timed by a wrapper installed in this process, exclusive of the parts nested in it,
    so they add up to the turn), with calls per turn, and latency by kind of turn;
  - checkpoint bytes: payload and on-disk growth per turn, then ``prune_checkpoints``
    and what is left per conversation;
  - graph overhead: the same conversations again with a trivial brain (one fixed
    reply, no actions): what the runner, LangGraph and the checkpointer cost alone;
  - concurrent: as many new conversations again, ``--concurrency`` in flight (3: at 4 or
    more, turns deadlock the default SQLite read pool, see benchmarks/README.md).

* ``memory`` -- a child process opens the agent, warms up on 300 conversations, then
  runs ``--idle`` new conversations of 1-2 turns each (the search, and for every other
  one the pick after it) and reports what stays in memory once they are idle: RSS,
  Python objects and the object types that grew, and every ``lru_cache`` of tendero's
  modules that grew.

* ``e2e`` -- the real app (``create_app`` with the ``core``, ``notifications`` and
  ``whatsapp`` plugins and the default agent) in a server process on a real socket;
  customers send Meta-signed WhatsApp webhooks and wait until every reply body of the
  turn has been accepted by a local fake Graph API (``tests/fakes``), one phase of
  ``--e2e-conversations`` conversations per ``--e2e-concurrency`` value (customers in
  flight). Turns/s, latency from the webhook POST to the last reply body accepted
  (p50/p99; and to the first one), the server's CPU per turn, wall time per pipeline
  stage and SQL statements per turn (timers and an engine event listener installed in
  the server process). Two settings differ from ``tendero serve``: the dispatcher runs
  ``--dispatcher-concurrency`` turns at once (default 3; the app's 32 deadlocks the read
  pool, as above), and the channel's send pacing (20 messages/s) is lifted unless
  ``--paced``, so this measures the pipeline, not the rate limit.

``--profile FILE`` runs the sequential pass once more on ``--profile-conversations`` new
conversations under pyinstrument (async mode, started and stopped around each
``runner(ctx)``), writes the report to FILE (``.html`` or text) and prints the self time
by package. ``--server-profile FILE`` profiles the whole e2e server process (every task)
and prints its time by task and by package.

Figures go to stderr; the last stdout line is the JSON ``benchmarks/run.py`` expects.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import gc
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from common import admin_sql, cpu_seconds, free_port

REPO = Path(__file__).resolve().parents[1]
TENDERO = Path(sys.executable).parent / "tendero"
IN_PROCESS_PLUGINS = ["core", "notifications"]
SERVER_PLUGINS = ["core", "notifications", "whatsapp"]
RESTOCK = 1_000_000

# The fake WhatsApp number the e2e server talks to.
PHONE_NUMBER_ID = "106540352242922"
ACCESS_TOKEN = "EAAG-bench-" + uuid.uuid4().hex[:12]
APP_SECRET = "bench-whatsapp-app-secret"


# --- the scripted conversations ------------------------------------------------------------


@dataclass(frozen=True)
class Tap:
    """A tapped choice: WhatsApp sends its id as the payload and its title as the text.
    ``sku`` stands for ``product:<id of that SKU>`` (ids are looked up at start)."""

    choice: str
    title: str
    sku: str = ""


@dataclass(frozen=True)
class Step:
    kind: str  # what the turn does, for the per-kind table
    say: str | Tap


@dataclass(frozen=True)
class Script:
    name: str
    steps: tuple[Step, ...]


def _script(name: str, *steps: tuple[str, str | Tap]) -> Script:
    return Script(name, tuple(Step(kind, say) for kind, say in steps))


# ``{n}`` becomes the conversation number, so emails differ from customer to customer.
SCRIPTS: tuple[Script, ...] = (
    _script(
        "es-envio-lista",
        ("search", "hola, tienen proteina de chocolate?"),
        ("pick", "la 2"),
        ("quantity", "mejor que sean 2"),
        ("cart", "que llevo en el carrito?"),
        ("checkout", "listo"),
        ("delivery", "a domicilio"),
        ("address", "ana.lopez{n}@gmail.com, Insurgentes Sur 1602, col. Crédito Constructor, "
                    "03940, CDMX"),
        ("confirm", "si"),
    ),
    _script(
        "es-recoger-taps",
        ("search", "buenas, tienen creatina?"),
        ("pick", Tap("", "Creatina Monohidratada 300 g", sku="TFR-CREA-300")),
        ("side", "a qué hora abren?"),
        ("quantity", "dame 3"),
        ("cart", "ver carrito"),
        ("checkout", "es todo"),
        ("delivery", Tap("delivery:pickup", "Recoger en tienda")),
        ("location", Tap("location:Sucursal Roma Norte", "Sucursal Roma Norte")),
        ("confirm", "si"),
    ),
    _script(
        "es-shakers-envio",
        ("search", "quiero 2 shakers negros"),
        ("add", "y una cuerda para saltar"),
        ("side", "hacen devoluciones?"),
        ("checkout", "listo"),
        ("delivery", "envio"),
        ("address", "laura.gomez{n}@gmail.com, Av. Coyoacán 1435, Del Valle Centro, 03100, CDMX"),
        ("confirm", "si"),
    ),
    _script(
        "es-vainilla-recoger",
        ("search", "hola quiero proteina de vainilla"),
        ("pick", "la 1"),
        ("quantity", "mejor que sean 3"),
        ("side", "cuanto es en dolares?"),
        ("cart", "que llevo en el carrito?"),
        ("checkout", "listo"),
        ("delivery", "recoger en tienda"),
        ("location", "del valle"),
        ("confirm", "si"),
    ),
    _script(
        "en-shakers-shipping",
        ("search", "hi, do you have shakers?"),
        ("pick", "2"),
        ("quantity", "make it 2"),
        ("side", "do you ship to guadalajara?"),
        ("checkout", "that's all"),
        ("delivery", "shipping"),
        ("address", "mike.b{n}@outlook.com, Av. Vallarta 3233, Vallarta Poniente, 44110 "
                    "Guadalajara, Jal."),
        ("confirm", "yes"),
    ),
    _script(
        "en-gloves-pickup",
        ("search", "hello, I'm looking for gym gloves"),
        ("pick", Tap("", "Guantes para Gym Medianos", sku="TFR-GUANT-M")),
        ("cart", "what's in my cart?"),
        ("side", "what are your hours?"),
        ("checkout", "checkout"),
        ("delivery", "pickup"),
        ("location", "2"),
        ("confirm", "yes"),
    ),
    _script(
        "en-creatine-shipping",
        ("search", "good afternoon, do you sell creatine?"),
        ("pick", "the 600 g one"),
        ("quantity", "I want 2"),
        ("side", "how much is shipping?"),
        ("cart", "show my cart"),
        ("checkout", "that's it"),
        ("delivery", "home delivery"),
        ("address", "my email is jenny.w{n}@gmail.com. Calle Medellin 88, Roma Norte, 06700, "
                    "Mexico City"),
        ("confirm", "yes"),
    ),
    _script(
        "en-bars-cap-shipping",
        ("search", "hi, do you have protein bars?"),
        ("quantity", "2 please"),
        ("side", "are your products original?"),
        ("add", "also a black cap"),
        ("checkout", "that's it"),
        ("delivery", Tap("delivery:shipping", "Home delivery")),
        ("address", "Av. Universidad 1000, Santa Cruz Atoyac, Benito Juárez, 03310, CDMX, "
                    "email rob.silva{n}@gmail.com"),
        ("confirm", "yes"),
    ),
)  # fmt: skip


def step_input(step: Step, n: int, sku_ids: dict[str, int]) -> tuple[str, str | None]:
    """(text, tapped choice id) of a step in conversation number ``n``."""
    if isinstance(step.say, Tap):
        choice = f"product:{sku_ids[step.say.sku]}" if step.say.sku else step.say.choice
        return step.say.title, choice
    return step.say.replace("{n}", str(n)), None


# --- small helpers -------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of ``values`` (any order)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> float | None:
    """Seconds as milliseconds, 2 decimals; ``None`` (JSON null) when there were none."""
    return None if math.isnan(seconds) else round(seconds * 1000, 2)


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def rss_kb(pid: int | str = "self") -> int:
    """Resident set size of a process (``VmRSS``), in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("TENDERO_")}


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- the database under test ---------------------------------------------------------------


@dataclass
class Target:
    """Where the run's data lives: a data folder, and the database URL (SQLite: "")."""

    data_dir: Path
    database_url: str
    engine: str
    admin_url: sa.URL | None = None
    pg_name: str = ""

    def settings(self) -> Any:
        from tendero.settings import Settings

        return Settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            _env_file=None,  # type: ignore[call-arg]
        )

    @property
    def env(self) -> dict[str, str]:
        env = clean_env() | {"TENDERO_DATA_DIR": str(self.data_dir)}
        if self.database_url:
            env["TENDERO_DATABASE_URL"] = self.database_url
        return env


def create_target(tmp: Path, postgres: str | None) -> Target:
    data_dir = tmp / "data"
    data_dir.mkdir()
    if not postgres:
        return Target(data_dir, "", "SQLite")
    admin = sa.make_url(postgres).set(drivername="postgresql+asyncpg")
    name = f"tendero_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin_sql(admin, f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    return Target(data_dir, url, "PostgreSQL", admin, name)


def drop_target(target: Target, keep: bool) -> None:
    if target.admin_url is None:
        return
    if keep:
        log(f"kept database {target.pg_name}")
        return
    asyncio.run(
        admin_sql(target.admin_url, f'DROP DATABASE IF EXISTS "{target.pg_name}" WITH (FORCE)')
    )


def load_demo_store(target: Target) -> None:
    """``tendero db upgrade`` and ``tendero demo --if-empty``, as processes."""
    for command in (["db", "upgrade"], ["demo", "--if-empty"]):
        subprocess.run(
            [str(TENDERO), *command],
            env=target.env,
            cwd=target.data_dir.parent,
            stdout=sys.stderr,
            check=True,
        )


# --- the in-process harness ----------------------------------------------------------------


# The parts of a turn, each timed wall-clock and exclusive of the parts nested in it, so
# they add up to the whole turn (in the sequential pass, where turns do not overlap).
RUNNER = "runner rest (Commerce, TurnDeps, effects)"
LEAD = "lead read (runner: ctx.session.get)"
SETTINGS = "settings version + catalog fingerprint (Commerce.store)"
CHECKPOINT_READ = "checkpoint read (aget_tuple)"
CHECKPOINT_WRITE = "checkpoint write (aput)"
GRAPH = "LangGraph (Pregel loop, node glue)"
STATE = "ConversationState to/from dict"
BRAIN = "brain logic (NLU, rules, reply texts)"
SEARCH = "catalog search (fingerprint, index)"
PRODUCTS = "product rows (Catalog.get/get_many)"
CONFIRM = "order confirmation (create_order, commit)"
PARTS = (
    RUNNER,
    LEAD,
    SETTINGS,
    CHECKPOINT_READ,
    GRAPH,
    STATE,
    BRAIN,
    SEARCH,
    PRODUCTS,
    CONFIRM,
    CHECKPOINT_WRITE,
)


@dataclass
class Sample:
    """One turn: wall and CPU seconds, and the time of each part (see PARTS)."""

    kind: str = ""
    total: float = 0.0
    cpu: float = 0.0
    inclusive: Counter[str] = field(default_factory=Counter)
    exclusive: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    nested: list[float] = field(default_factory=list)  # time of inner parts, per open part
    replies: list[Any] = field(default_factory=list)


_CURRENT: contextvars.ContextVar[Sample | None] = contextvars.ContextVar("sample", default=None)


def _close_part(sample: Sample, label: str, elapsed: float) -> None:
    inner = sample.nested.pop()
    sample.inclusive[label] += elapsed
    sample.exclusive[label] += elapsed - inner
    sample.calls[label] += 1
    if sample.nested:
        sample.nested[-1] += elapsed


def probe(label: str, function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``function`` (a coroutine function), timed as ``label`` in the current sample."""

    async def timed(*args: Any, **kwargs: Any) -> Any:
        sample = _CURRENT.get()
        if sample is None:
            return await function(*args, **kwargs)
        sample.nested.append(0.0)
        started = time.perf_counter()
        try:
            return await function(*args, **kwargs)
        finally:
            _close_part(sample, label, time.perf_counter() - started)

    return timed


def probe_sync(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        sample = _CURRENT.get()
        if sample is None:
            return function(*args, **kwargs)
        sample.nested.append(0.0)
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _close_part(sample, label, time.perf_counter() - started)

    return timed


def install_probes() -> None:
    """Time the catalog, settings, confirmation and state code wherever it is called (this
    process only; the app's code is not changed)."""
    from tendero.agent import actions
    from tendero.agent.state import ConversationState
    from tendero.catalog.service import Catalog

    if getattr(Catalog, "_bench_probed", False):
        return
    Catalog._bench_probed = True  # type: ignore[attr-defined]
    Catalog.search = probe(SEARCH, Catalog.search)  # type: ignore[method-assign]
    Catalog.get = probe(PRODUCTS, Catalog.get)  # type: ignore[method-assign]
    Catalog.get_many = probe(PRODUCTS, Catalog.get_many)  # type: ignore[method-assign]
    actions.Commerce.confirm = probe(CONFIRM, actions.Commerce.confirm)  # type: ignore[method-assign]
    actions.Commerce.store = probe(SETTINGS, actions.Commerce.store)  # type: ignore[method-assign]
    ConversationState.from_dict = classmethod(  # type: ignore[method-assign, assignment]
        probe_sync(STATE, ConversationState.from_dict.__func__)  # type: ignore[attr-defined]
    )
    ConversationState.to_dict = probe_sync(STATE, ConversationState.to_dict)  # type: ignore[method-assign]


class TimedBrain:
    """Wraps a brain: ``respond`` (the brain and its actions) is a part of the turn."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.respond = probe(BRAIN, inner.respond)


class TrivialBrain:
    """One fixed reply, no actions: what is left is the graph and the checkpointer."""

    name = "trivial"

    async def respond(self, turn: Any) -> Any:
        return [turn.reply("ok")]


class TimedGraph:
    """The compiled graph, with ``ainvoke`` timed as a part of the turn."""

    def __init__(self, graph: Any) -> None:
        self._graph = graph
        self.ainvoke = probe(GRAPH, graph.ainvoke)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._graph, name)


@dataclass
class Conversation:
    id: int
    lead_id: int
    customer: str
    name: str
    number: int  # the n in the scripts' texts


class Shop:
    """The agent on the target's database, driven the way the dispatcher drives it."""

    def __init__(self, target: Target, *, probes: bool = True) -> None:
        from tendero.agent.rules import RulesBrain
        from tendero.agent.runner import AgentRunner
        from tendero.db import Database
        from tendero.plugins import create_plugin_manager

        self.settings = target.settings()
        self.db = Database(self.settings.effective_database_url)
        self.plugins = create_plugin_manager(allow=IN_PROCESS_PLUGINS)
        self.probes = probes
        self.rules: Any = TimedBrain(RulesBrain()) if probes else RulesBrain()
        self.runner = AgentRunner(
            self.settings, self.db, self.plugins, brain=self.rules, prune_interval=None
        )
        self.sku_ids: dict[str, int] = {}
        self.limits: Any = None
        # A context manager factory wrapped around each ``runner(ctx)`` (the profiler).
        self.around: Callable[[], Any] = contextlib.nullcontext
        self._message_ids = itertools.count()

    async def start(self) -> None:
        from tendero.channels.base import MessageLimits
        from tendero.db.models import Product

        await self.runner.start()
        if self.probes:
            install_probes()
            self.runner.graph = TimedGraph(self.runner.graph)
            saver = self.runner.checkpointer
            saver.aget_tuple = probe(CHECKPOINT_READ, saver.aget_tuple)  # type: ignore[method-assign]
            saver.aput = probe(CHECKPOINT_WRITE, saver.aput)  # type: ignore[method-assign]
            saver.aput_writes = probe(CHECKPOINT_WRITE, saver.aput_writes)  # type: ignore[method-assign]
        async with self.db.read_session() as session:
            rows = await session.execute(sa.select(Product.sku, Product.id))
            self.sku_ids = {sku: pid for sku, pid in rows}
        self.limits = MessageLimits(max_text_length=4096, max_buttons=3, max_list_rows=10)

    async def close(self) -> None:
        await self.runner.close()
        await self.db.dispose()

    async def order_count(self) -> int:
        from tendero.db.models import Order

        async with self.db.read_session() as session:
            return int(await session.scalar(sa.select(sa.func.count()).select_from(Order)) or 0)

    def use_brain(self, brain: Any) -> None:
        self.runner.brain = brain

    async def new_conversations(self, count: int, first_number: int) -> list[Conversation]:
        """``count`` new WhatsApp customers, each with a lead and an open conversation,
        created by the ingress code (500 per transaction)."""
        from tendero.channels.base import EventKind, InboundEvent
        from tendero.conversations.inbox import get_or_create_conversation
        from tendero.db.models import Conversation as ConversationRow

        conversations = []
        for start in range(0, count, 500):
            async with self.db.session() as session:
                for n in range(first_number + start, first_number + min(count, start + 500)):
                    customer = f"52155{n:08d}"
                    name = f"Cliente {n}"
                    event = InboundEvent(
                        channel="whatsapp",
                        kind=EventKind.MESSAGE,
                        message_id="",
                        customer_id=customer,
                        timestamp=datetime.now(UTC),
                        customer_name=name,
                    )
                    ref = await get_or_create_conversation(session, "whatsapp", event)
                    conversations.append(Conversation(ref.id, 0, customer, name, n))
            async with self.db.read_session() as session:
                ids = [c.id for c in conversations[start:]]
                leads = dict(
                    (
                        await session.execute(
                            sa.select(ConversationRow.id, ConversationRow.lead_id).where(
                                ConversationRow.id.in_(ids)
                            )
                        )
                    ).all()
                )
            for conversation in conversations[start:]:
                conversation.lead_id = leads[conversation.id]
        return conversations

    async def turn(self, conversation: Conversation, step: Step, *, keep: bool = False) -> Sample:
        """One customer event through ``AgentRunner.__call__``; its effects committed
        afterwards like the dispatcher does (outside the timing)."""
        from tendero.channels.base import EventKind, InboundEvent
        from tendero.conversations.turns import LeadInfo, TurnContext
        from tendero.db.models import Conversation as ConversationRow

        text, choice = step_input(step, conversation.number, self.sku_ids)
        event = InboundEvent(
            channel="whatsapp",
            kind=EventKind.BUTTON if choice else EventKind.MESSAGE,
            message_id=f"wamid.bench{next(self._message_ids)}",
            customer_id=conversation.customer,
            timestamp=datetime.now(UTC),
            text=text,
            payload=choice,
            customer_name=conversation.name,
        )
        sample = Sample(kind=step.kind)
        async with self.db.read_session() as session:
            language = await session.scalar(
                sa.select(ConversationRow.language).where(ConversationRow.id == conversation.id)
            )
        async with self.db.read_session() as session:
            ctx = TurnContext(
                conversation_id=conversation.id,
                channel="whatsapp",
                lead=LeadInfo(conversation.lead_id, conversation.name, conversation.customer),
                event=event,
                limits=self.limits,
                session=session,
                settings=self.settings,
                language=language or "",
            )
            runner: Callable[[Any], Awaitable[Any]] = self.runner
            if self.probes:
                session.get = probe(LEAD, session.get)  # type: ignore[method-assign]
                runner = probe(RUNNER, self.runner)
            token = _CURRENT.set(sample)
            cpu, started = time.process_time(), time.perf_counter()
            try:
                with self.around():
                    replies = await runner(ctx)
            finally:
                sample.total = time.perf_counter() - started
                sample.cpu = time.process_time() - cpu
                _CURRENT.reset(token)
        if ctx.effects:
            async with self.db.session() as session:
                for effect in ctx.effects:
                    await effect(session)
        if keep:
            sample.replies = list(replies)
        return sample


async def run_conversations(
    shop: Shop,
    conversations: Sequence[Conversation],
    *,
    concurrency: int = 1,
    steps: Callable[[Conversation], Sequence[Step]] | None = None,
) -> tuple[list[Sample], float, float]:
    """Run each conversation's script (one turn at a time per conversation, up to
    ``concurrency`` conversations at once); (samples, wall seconds, CPU seconds)."""
    samples: list[Sample] = []
    queue: asyncio.Queue[Conversation] = asyncio.Queue()
    for conversation in conversations:
        queue.put_nowait(conversation)

    def script_steps(conversation: Conversation) -> Sequence[Step]:
        return SCRIPTS[conversation.number % len(SCRIPTS)].steps

    pick = steps or script_steps

    async def worker() -> None:
        while not queue.empty():
            conversation = queue.get_nowait()
            for step in pick(conversation):
                samples.append(await shop.turn(conversation, step))

    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples, time.perf_counter() - started, time.process_time() - cpu


def latency_figures(
    prefix: str, samples: Sequence[Sample], wall: float, cpu: float, *, sequential: bool = True
) -> dict:
    """Turn latency, turns/s and CPU per turn (``cpu``: the whole pass's process CPU,
    harness included; ``runner_cpu``: the CPU spent inside ``runner(ctx)``, which only
    means something when turns do not overlap)."""
    totals = [s.total for s in samples]
    return {
        f"{prefix}turns": len(samples),
        f"{prefix}turns_per_s": round(len(samples) / wall, 1),
        f"{prefix}p50_ms": ms(percentile(totals, 50)),
        f"{prefix}p95_ms": ms(percentile(totals, 95)),
        f"{prefix}p99_ms": ms(percentile(totals, 99)),
        f"{prefix}max_ms": ms(max(totals)),
        f"{prefix}cpu_ms_per_turn": ms(cpu / len(samples)),
    } | (
        {f"{prefix}runner_cpu_ms_per_turn": ms(sum(s.cpu for s in samples) / len(samples))}
        if sequential
        else {}
    )


def split_table(samples: Sequence[Sample]) -> dict[str, float]:
    """Mean milliseconds per turn of each part of a turn (exclusive; they add up to the
    whole turn)."""
    n = len(samples)
    table = {label: ms(sum(s.exclusive[label] for s in samples) / n) for label in PARTS}
    table["whole turn"] = ms(sum(s.total for s in samples) / n)
    return table


def print_split(samples: Sequence[Sample]) -> None:
    split = split_table(samples)
    n = len(samples)
    log("  mean per turn, by part (exclusive of the parts nested in it):")
    log(f"    {'part':<44} {'ms':>7} {'share':>7} {'calls':>6}")
    for label, value in split.items():
        share = 100 * value / split["whole turn"] if split["whole turn"] else 0.0
        calls = sum(s.calls[label] for s in samples) / n if label in PARTS else 1.0
        log(f"    {label:<44} {value:>7.2f} {share:>6.1f}% {calls:>6.2f}")


def print_kinds(samples: Sequence[Sample]) -> None:
    by_kind: dict[str, list[Sample]] = {}
    for sample in samples:
        by_kind.setdefault(sample.kind, []).append(sample)
    log(f"  {'turn kind':<10} {'turns':>6} {'p50 ms':>8} {'p99 ms':>8} {'brain p50':>10}")
    for kind, group in sorted(
        by_kind.items(), key=lambda item: -percentile([s.total for s in item[1]], 50)
    ):
        totals = [s.total for s in group]
        log(
            f"  {kind:<10} {len(group):>6} {ms(percentile(totals, 50)):>8} "
            f"{ms(percentile(totals, 99)):>8} "
            f"{ms(percentile([s.inclusive[BRAIN] for s in group], 50)):>10}"
        )


# --- checkpoint bytes ----------------------------------------------------------------------


async def checkpoint_usage(shop: Shop) -> dict[str, int]:
    """Checkpoint rows, payload bytes and bytes on disk, now."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    saver = shop.runner.checkpointer
    if isinstance(saver, AsyncSqliteSaver):
        async with saver.lock:
            conn = saver.conn
            await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

            async def one(sql: str) -> tuple[Any, ...]:
                async with conn.execute(sql) as cur:
                    return tuple(await cur.fetchone())  # type: ignore[arg-type]

            rows, payload, threads = await one(
                "SELECT count(*), coalesce(sum(length(checkpoint) + length(metadata)), 0), "
                "count(DISTINCT thread_id) FROM checkpoints"
            )
            writes, write_bytes = await one(
                "SELECT count(*), coalesce(sum(length(value)), 0) FROM writes"
            )
            (pages,) = await one("PRAGMA page_count")
            (free,) = await one("PRAGMA freelist_count")
            (page_size,) = await one("PRAGMA page_size")
        return {
            "checkpoints": rows,
            "writes": writes,
            "blobs": 0,  # SQLite keeps the channel values inside the checkpoint row
            "threads": threads,
            "payload": payload + write_bytes,
            "disk": (pages - free) * page_size,
        }
    async with shop.db.engine.connect() as conn:
        rows, payload, threads = (
            await conn.execute(
                sa.text(
                    "SELECT count(*), coalesce(sum(pg_column_size(checkpoint) "
                    "+ pg_column_size(metadata)), 0), count(DISTINCT thread_id) FROM checkpoints"
                )
            )
        ).one()
        blob_rows, blobs = (
            await conn.execute(
                sa.text(
                    "SELECT count(*), coalesce(sum(octet_length(blob)), 0) FROM checkpoint_blobs"
                )
            )
        ).one()
        writes, write_bytes = (
            await conn.execute(
                sa.text(
                    "SELECT count(*), coalesce(sum(octet_length(blob)), 0) FROM checkpoint_writes"
                )
            )
        ).one()
        disk = (
            await conn.execute(
                sa.text(
                    "SELECT sum(pg_total_relation_size(t::regclass)) FROM unnest(ARRAY"
                    "['checkpoints', 'checkpoint_blobs', 'checkpoint_writes']) AS t"
                )
            )
        ).scalar_one()
    return {
        "checkpoints": int(rows),
        "writes": int(writes),
        "blobs": int(blob_rows),
        "threads": int(threads),
        "payload": int(payload) + int(blobs) + int(write_bytes),
        "disk": int(disk),
    }


async def compact_postgres_checkpoints(shop: Shop) -> None:
    """``VACUUM FULL`` the checkpoint tables: PostgreSQL keeps deleted rows' space
    otherwise (SQLite's figure is the pages in use, so it needs nothing)."""
    async with shop.db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            await conn.execute(sa.text(f"VACUUM FULL {table}"))


# --- part: in-process turns ----------------------------------------------------------------


async def part_turns(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    from tendero.agent.checkpoint import prune_checkpoints

    figures: dict[str, Any] = {}
    shop = Shop(target)
    await shop.start()
    try:
        # Warm-up: imports, regexes, the search index, the first connections.
        warm = await shop.new_conversations(len(SCRIPTS), 9_000_000)
        await run_conversations(shop, warm)

        conversations = await shop.new_conversations(args.conversations, 1_000_000)
        before = await checkpoint_usage(shop)
        orders = await shop.order_count()
        samples, wall, cpu = await run_conversations(shop, conversations)
        orders = await shop.order_count() - orders
        after = await checkpoint_usage(shop)
        figures.update(latency_figures("turn_", samples, wall, cpu))
        # Every script ends with an order: fewer means the brain answered differently
        # than when the scripts were written (and the figures describe other turns).
        figures["turn_orders_created"] = orders
        if orders != len(conversations):
            log(f"WARNING: {orders} orders for {len(conversations)} scripted conversations")
        log(
            f"\nsequential, rules brain: {len(samples)} turns in {len(conversations)} conversations"
        )
        log(
            f"  p50 {figures['turn_p50_ms']} ms, p95 {figures['turn_p95_ms']} ms, "
            f"p99 {figures['turn_p99_ms']} ms, max {figures['turn_max_ms']} ms, "
            f"{figures['turn_turns_per_s']} turns/s; CPU {figures['turn_runner_cpu_ms_per_turn']} "
            f"ms/turn inside runner(ctx), {figures['turn_cpu_ms_per_turn']} ms/turn for the pass"
        )
        print_split(samples)
        print_kinds(samples)

        def p50(label: str) -> float:
            return ms(percentile([s.inclusive[label] for s in samples], 50))

        figures["turn_brain_p50_ms"] = p50(BRAIN)  # the brain with its actions
        figures["turn_brain_share_pct"] = round(
            100 * sum(s.inclusive[BRAIN] for s in samples) / sum(s.total for s in samples), 1
        )
        figures["turn_checkpoint_read_p50_ms"] = p50(CHECKPOINT_READ)
        figures["turn_checkpoint_write_p50_ms"] = p50(CHECKPOINT_WRITE)
        figures["turn_langgraph_p50_ms"] = ms(percentile([s.exclusive[GRAPH] for s in samples], 50))

        # Checkpoint bytes per turn, then what pruning leaves per conversation.
        turns = len(samples)
        grown_payload = after["payload"] - before["payload"]
        grown_disk = after["disk"] - before["disk"]
        started = time.perf_counter()
        removed = await prune_checkpoints(shop.runner.checkpointer)  # type: ignore[arg-type]
        prune_seconds = time.perf_counter() - started
        if target.admin_url is not None:
            await compact_postgres_checkpoints(shop)
        pruned = await checkpoint_usage(shop)
        threads = pruned["threads"]
        figures.update(
            {
                "checkpoint_rows_per_turn": round(
                    sum(after[k] - before[k] for k in ("checkpoints", "writes", "blobs")) / turns,
                    2,
                ),
                "checkpoint_bytes_per_turn": round(grown_payload / turns),
                "checkpoint_disk_bytes_per_turn": round(grown_disk / turns),
                "checkpoint_pruned_rows": removed,
                "checkpoint_prune_ms": ms(prune_seconds),
                "checkpoint_bytes_per_conversation_pruned": round(pruned["payload"] / threads),
                "checkpoint_disk_bytes_per_conversation_pruned": round(pruned["disk"] / threads),
            }
        )
        log(
            f"\ncheckpoints: {after['checkpoints'] - before['checkpoints']} checkpoints + "
            f"{after['writes'] - before['writes']} writes + {after['blobs'] - before['blobs']} "
            f"blobs for {turns} turns; "
            f"{figures['checkpoint_bytes_per_turn']:,} B/turn payload, "
            f"{figures['checkpoint_disk_bytes_per_turn']:,} B/turn on disk"
        )
        log(
            f"  prune_checkpoints: {removed} rows in {figures['checkpoint_prune_ms']} ms; left "
            f"{pruned['checkpoints']} checkpoints for {threads} threads: "
            f"{figures['checkpoint_bytes_per_conversation_pruned']:,} B/conversation payload, "
            f"{figures['checkpoint_disk_bytes_per_conversation_pruned']:,} B/conversation on disk"
        )

        # Graph overhead: the same conversations again, with a brain that does nothing.
        shop.use_brain(TimedBrain(TrivialBrain()))
        trivial, wall, cpu = await run_conversations(shop, conversations)
        shop.use_brain(shop.rules)
        figures.update(
            {
                "trivial_turn_p50_ms": ms(percentile([s.total for s in trivial], 50)),
                "trivial_turn_p99_ms": ms(percentile([s.total for s in trivial], 99)),
                "trivial_ainvoke_p50_ms": ms(percentile([s.inclusive[GRAPH] for s in trivial], 50)),
                "trivial_runner_cpu_ms_per_turn": ms(sum(s.cpu for s in trivial) / len(trivial)),
            }
        )
        log(
            f"\ngraph overhead: the same {len(trivial)} turns' threads with a trivial brain: "
            f"p50 {figures['trivial_turn_p50_ms']} ms (graph.ainvoke "
            f"{figures['trivial_ainvoke_p50_ms']} ms), p99 {figures['trivial_turn_p99_ms']} ms, "
            f"CPU {figures['trivial_runner_cpu_ms_per_turn']} ms/turn"
        )
        print_split(trivial)

        # Concurrent: new conversations, several in flight.
        fresh = await shop.new_conversations(args.conversations, 2_000_000)
        concurrent, wall, cpu = await run_conversations(shop, fresh, concurrency=args.concurrency)
        figures["concurrency"] = args.concurrency
        figures.update(latency_figures("concurrent_", concurrent, wall, cpu, sequential=False))
        log(
            f"\nconcurrent ({args.concurrency} conversations in flight): "
            f"{figures['concurrent_turns_per_s']} turns/s, p50 {figures['concurrent_p50_ms']} ms, "
            f"p99 {figures['concurrent_p99_ms']} ms, CPU {figures['concurrent_cpu_ms_per_turn']} ms/turn"
        )

        if args.profile:
            profiled = await shop.new_conversations(args.profile_conversations, 3_000_000)
            await profile_turns(shop, profiled, Path(args.profile))
    finally:
        await shop.close()
    return figures


# --- profile -------------------------------------------------------------------------------


def package_of(path: str | None) -> str | None:
    """The package a source file belongs to (``tendero.agent.nlu``, ``sqlalchemy``, ...);
    ``None`` for the standard library and synthetic frames."""
    if not path:
        return None
    path = path.replace("\\", "/")
    if "/site-packages/" in path:
        top = path.split("/site-packages/", 1)[1].split("/", 1)[0]
        return top.removesuffix(".py")
    if "/tendero/" in path:
        parts = path.split("/tendero/", 1)[1].removesuffix(".py").split("/")
        if parts[0] == "agent" and len(parts) > 1:
            return f"tendero.agent.{parts[1]}"
        return f"tendero.{parts[0]}"
    # The standard library, and this file's probes (their time goes to what they wrap).
    return None


def by_package(session: Any) -> tuple[Counter[str], float]:
    """Self time by package: each sample goes to the innermost frame that is not the
    standard library or this file (``re`` called by the NLU counts as NLU), waits to
    "awaiting"."""
    from pyinstrument.frame import AWAIT_FRAME_IDENTIFIER

    root = session.root_frame()
    seconds: Counter[str] = Counter()
    if root is None:
        return seconds, 0.0

    def walk(frame: Any, owner: str) -> None:
        if frame.identifier == AWAIT_FRAME_IDENTIFIER:
            seconds["awaiting (DB threads, sockets)"] += frame.time
            return
        if frame.function in ("select", "poll") and "selectors" in (frame.file_path or ""):
            seconds["idle (waiting in epoll)"] += frame.time
            return
        owner = package_of(frame.file_path) or owner
        own = frame.time - sum(child.time for child in frame.children)
        if own > 0:
            seconds[owner] += own
        for child in frame.children:
            walk(child, owner)

    walk(root, "asyncio and the rest of the standard library")
    return seconds, root.time


# Workers whose loop is not the interesting part: their children are the tasks' work.
_LOOPS = frozenset({"_drain", "run", "_run_forever"})


def _frame_label(frame: Any) -> str:
    return f"{frame.class_name}.{frame.function}" if frame.class_name else frame.function


def by_task(session: Any) -> dict[str, float]:
    """Seconds of a whole-process profile (async mode off) by what the event loop was
    running: the coroutine each callback resumed (worker loops looked through), the
    SQLAlchemy work done inside greenlets (their stacks do not show the caller), and the
    time waiting in epoll."""
    root = session.root_frame()
    seconds: Counter[str] = Counter()
    if root is None:
        return {}

    def task(frame: Any) -> None:
        if frame.function in _LOOPS and frame.children:
            own = frame.time - sum(child.time for child in frame.children)
            seconds[_frame_label(frame)] += own
            for child in frame.children:
                task(child)
            return
        seconds[_frame_label(frame)] += frame.time

    def walk(frame: Any) -> None:
        path = (frame.file_path or "").replace("\\", "/")
        if frame.function == "_run" and path.endswith("asyncio/events.py"):
            for child in frame.children:
                task(child)
            seconds["event loop (callbacks)"] += frame.time - sum(c.time for c in frame.children)
            return
        if frame.function in ("select", "poll") and "selectors" in path:
            seconds["idle (waiting in epoll)"] += frame.time
            return
        for child in frame.children:
            walk(child)
        seconds["event loop (callbacks)"] += frame.time - sum(c.time for c in frame.children)

    for child in root.children:
        if child.function == "<module>":
            walk(child)
        else:
            seconds["SQLAlchemy inside greenlets (any task)"] += child.time
    return dict(seconds)


async def profile_turns(shop: Shop, conversations: Sequence[Conversation], out: Path) -> None:
    """The sequential pass again under pyinstrument, started and stopped around each
    ``runner(ctx)``; the report goes to ``out``, the self time by package to stderr."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="enabled")

    @contextlib.contextmanager
    def profiled() -> Iterator[None]:
        profiler.start()
        try:
            yield
        finally:
            profiler.stop()

    shop.around = profiled
    try:
        samples, _wall, _cpu = await run_conversations(shop, conversations)
    finally:
        shop.around = contextlib.nullcontext
    session = profiler.last_session
    report = (
        profiler.output_html()
        if out.suffix == ".html"
        else profiler.output_text(unicode=True, show_all=False, timeline=False)
    )
    await asyncio.to_thread(out.write_text, report)
    seconds, total = by_package(session)
    log(
        f"\nprofile: {len(samples)} turns, {total:.2f} s sampled inside runner(ctx) "
        f"({1000 * total / len(samples):.1f} ms/turn with the profiler on) -> {out}"
    )
    log("  self time by package (innermost non-stdlib frame):")
    for label, value in seconds.most_common():
        if value / total >= 0.002:
            log(f"    {label:<46} {100 * value / total:5.1f} %")


# --- part: memory for idle conversations (child process) -----------------------------------


def idle_steps(conversation: Conversation) -> Sequence[Step]:
    """1-2 turns: the search, and for every other conversation the pick after it."""
    steps = SCRIPTS[conversation.number % len(SCRIPTS)].steps
    return steps[: 1 + conversation.number % 2]


def lru_caches() -> dict[str, int]:
    """Current entries of every ``functools.lru_cache`` in tendero's modules."""
    sizes = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("tendero") or module is None:
            continue
        for attribute, value in list(vars(module).items()):
            info = getattr(value, "cache_info", None)
            if callable(info) and getattr(value, "__module__", "") == name:
                sizes[f"{name}.{attribute}"] = info().currsize
    return sizes


def heap_state() -> dict[str, Any]:
    gc.collect()
    objects = gc.get_objects()
    types = Counter(type(o).__qualname__ for o in objects)
    state = {
        "rss_kb": rss_kb(),
        "objects": len(objects),
        "blocks": sys.getallocatedblocks(),
        "types": types,
        "caches": lru_caches(),
    }
    del objects
    return state


async def memory_child(target: Target, idle: int, concurrency: int) -> dict[str, Any]:
    shop = Shop(target, probes=False)
    await shop.start()
    try:
        warm = await shop.new_conversations(300, 4_000_000)
        await run_conversations(shop, warm, concurrency=concurrency, steps=idle_steps)
        del warm
        before = heap_state()
        samples = array("d")  # not a list of float objects: they would count as retained
        turns = 0
        started = time.perf_counter()
        for first in range(0, idle, 1000):
            batch = await shop.new_conversations(min(1000, idle - first), 5_000_000 + first)
            done, _wall, _cpu = await run_conversations(
                shop, batch, concurrency=concurrency, steps=idle_steps
            )
            turns += len(done)
            samples.extend(s.total for s in done)
            del batch, done
        wall = time.perf_counter() - started
        after = heap_state()
    finally:
        await shop.close()
    growth = (after["types"] - before["types"]).most_common(8)
    caches = {
        name: (before["caches"].get(name, 0), size)
        for name, size in after["caches"].items()
        if size != before["caches"].get(name, 0)
    }
    return {
        "idle_conversations": idle,
        "idle_turns": turns,
        "idle_turns_per_s": round(turns / wall, 1),
        "idle_p50_ms": ms(percentile(samples, 50)),
        "idle_p99_ms": ms(percentile(samples, 99)),
        "rss_before_kb": before["rss_kb"],
        "rss_after_kb": after["rss_kb"],
        "objects_before": before["objects"],
        "objects_after": after["objects"],
        "blocks_before": before["blocks"],
        "blocks_after": after["blocks"],
        "type_growth": growth,
        "cache_growth": caches,
    }


def part_memory(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--memory-child",
            json.dumps(
                {
                    "data_dir": str(target.data_dir),
                    "database_url": target.database_url,
                    "engine": target.engine,
                }
            ),
            "--idle",
            str(args.idle),
            "--concurrency",
            str(args.concurrency),
        ],
        env=clean_env(),
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    idle = result["idle_conversations"]
    delta_kb = result["rss_after_kb"] - result["rss_before_kb"]
    objects = result["objects_after"] - result["objects_before"]
    log(
        f"\nmemory: {idle:,} conversations ({result['idle_turns']:,} turns, "
        f"{result['idle_turns_per_s']} turns/s, p50 {result['idle_p50_ms']} ms, "
        f"p99 {result['idle_p99_ms']} ms), now idle"
    )
    log(
        f"  RSS {result['rss_before_kb'] / 1024:.1f} MB -> {result['rss_after_kb'] / 1024:.1f} MB "
        f"(+{delta_kb / 1024:.1f} MB, {delta_kb / idle:.2f} KB per conversation); "
        f"Python objects {result['objects_before']:,} -> {result['objects_after']:,} "
        f"({objects / idle:+.2f} per conversation); allocated blocks "
        f"{result['blocks_before']:,} -> {result['blocks_after']:,}"
    )
    log(f"  object types that grew most: {result['type_growth']}")
    for name, (old, new) in sorted(result["cache_growth"].items()):
        log(f"  lru_cache {name}: {old:,} -> {new:,} entries")
    return {
        "idle_conversations": idle,
        "idle_turns": result["idle_turns"],
        "idle_rss_before_mb": round(result["rss_before_kb"] / 1024, 1),
        "idle_rss_after_mb": round(result["rss_after_kb"] / 1024, 1),
        "idle_rss_growth_mb": round(delta_kb / 1024, 1),
        "idle_kb_per_conversation": round(delta_kb / idle, 2),
        "idle_objects_per_conversation": round(objects / idle, 2),
    }


# --- part: end to end (server process + fake Graph) ----------------------------------------


# Where the e2e server's time goes: (label, module, class or "", function). Each is wrapped
# in the server process only (the app's code is not changed) and timed wall-clock; with one
# customer in flight the stages run one after the other, so they add up to the turn.
SERVER_STAGES: tuple[tuple[str, str, str, str], ...] = (
    ("ingress: inbox group commit", "tendero.conversations.inbox", "", "record_deliveries"),
    # SQLite writes a batch of customer events in the inbox thread instead (one or the other)
    ("ingress: inbox group commit", "tendero.conversations.inbox", "InboxWriter", "_write_in_thread"),
    ("dispatcher: scan for pending rows", "tendero.conversations.dispatcher", "Dispatcher", "scan"),
    ("dispatcher: load the work", "tendero.conversations.dispatcher", "Dispatcher", "_next_work"),
    ("dispatcher: mark read (Graph call)", "tendero.conversations.dispatcher", "Dispatcher", "_mark_read"),
    ("agent turn (AgentRunner.__call__)", "tendero.agent.runner", "AgentRunner", "__call__"),
    ("dispatcher: commit replies + outbox", "tendero.conversations.dispatcher", "Dispatcher", "_commit"),
    ("sender: scan for due rows", "tendero.conversations.outbox", "Sender", "scan"),
    ("sender: take an outbox row", "tendero.conversations.outbox", "Sender", "_take"),
    ("sender: WhatsApp send (Graph call)", "tendero_whatsapp.channel", "WhatsAppChannel", "send"),
    ("sender: mark sent", "tendero.conversations.outbox", "Sender", "_sent"),
)  # fmt: skip
WEBHOOK_STAGE = "webhook POST (verify, parse, wait for inbox commit)"


def statement_kind(statement: str) -> str:
    """``SELECT inbox_events``, ``UPDATE outbox_messages``, ``BEGIN IMMEDIATE``, ..."""
    words = statement.split()
    if not words:
        return "?"
    verb = words[0].upper()
    upper = [w.upper() for w in words]
    table = ""
    for keyword in ("FROM", "INTO", "UPDATE"):
        if keyword in upper[:-1] and (verb != "UPDATE" or keyword == "UPDATE"):
            table = words[upper.index(keyword) + 1].strip('"(')
            break
    if verb == "BEGIN":
        return " ".join(words[:2]).upper()
    return f"{verb} {table}".strip()


def _instrument_stages(stats: dict[str, list[float]]) -> Any:
    """Wrap SERVER_STAGES; returns an aiohttp middleware that times webhook requests."""
    import importlib

    from aiohttp import web

    def wrap(label: str, function: Callable[..., Awaitable[Any]]) -> Any:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                entry = stats.setdefault(label, [0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - started

        return timed

    for label, module_name, class_name, name in SERVER_STAGES:
        module = importlib.import_module(module_name)
        owner = getattr(module, class_name) if class_name else module
        setattr(owner, name, wrap(label, getattr(owner, name)))

    @web.middleware
    async def webhook_timer(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method != "POST" or not request.path.startswith("/webhooks/"):
            return await handler(request)
        return await wrap(WEBHOOK_STAGE, handler)(request)

    return webhook_timer


def serve(port: int, stats_port: int) -> None:
    """The app as ``tendero serve`` builds it (settings from the environment), with the
    stage timers and ``GET /bench/stages`` (the timings so far; they restart at zero).

    The webhook port is opened with ``SO_REUSEPORT``, as ``tendero serve --workers``
    does, so several of these processes share it; each also answers on ``stats_port``
    alone, so its own timings can be asked for."""
    from aiohttp import web
    from tendero.app import create_app
    from tendero.logging import configure_logging
    from tendero.plugins import create_plugin_manager
    from tendero.settings import Settings

    configure_logging("warning")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    options: dict[str, Any] = {
        "dispatcher_options": {"concurrency": int(os.environ["BENCH_DISPATCHER_CONCURRENCY"])}
    }
    if os.environ.get("BENCH_UNPACED") == "1":
        options["sender_options"] = {"rate_limits": {"whatsapp": None}}
    stats: dict[str, list[float]] = {}
    webhook_timer = _instrument_stages(stats)
    statements: Counter[str] = Counter()

    @sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
    def count_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements[statement_kind(statement)] += 1

    app = create_app(
        settings,
        plugin_manager=create_plugin_manager(allow=SERVER_PLUGINS),
        pipeline_options=options,
    )
    app.middlewares.append(webhook_timer)

    async def stages(request: web.Request) -> web.Response:
        answer = {label: list(entry) for label, entry in stats.items()}
        answer["sql"] = dict(statements)  # type: ignore[assignment]
        stats.clear()
        statements.clear()
        return web.json_response(answer)

    app.router.add_get("/bench/stages", stages)

    async def run() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, reuse_port=True).start()
        await web.TCPSite(runner, "127.0.0.1", stats_port).start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    profile = os.environ.get("BENCH_SERVER_PROFILE")
    if not profile:
        asyncio.run(run())
        return
    from pyinstrument import Profiler

    # The whole server process, every task (async_mode off: nothing is left out).
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    try:
        asyncio.run(run())
    finally:
        session = profiler.stop()
        packages, total = by_package(session)
        summary = {"total": total, "tasks": by_task(session), "packages": dict(packages)}
        Path(profile + ".json").write_text(json.dumps(summary))
        Path(profile).write_text(profiler.output_text(unicode=True, show_all=False))


async def wait_listening(port: int, proc: asyncio.subprocess.Process, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit("server did not start")


class Arrivals:
    """Watches the fake Graph: when a customer has received the number of message
    bodies their current turn produces, resolves that turn's future with
    (first arrival, last arrival) times."""

    def __init__(self) -> None:
        self.waiting: dict[str, tuple[int, list[float], asyncio.Future[tuple[float, float]]]] = {}
        self.unexpected = 0

    def expect(self, customer: str, count: int) -> asyncio.Future[tuple[float, float]]:
        future: asyncio.Future[tuple[float, float]] = asyncio.get_running_loop().create_future()
        self.waiting[customer] = (count, [], future)
        return future

    def arrived(self, customer: str, at: float) -> None:
        entry = self.waiting.get(customer)
        if entry is None:
            self.unexpected += 1
            return
        count, times, future = entry
        times.append(at)
        if len(times) >= count:
            del self.waiting[customer]
            if not future.done():
                future.set_result((times[0], times[-1]))

    def middleware(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def watch(request: web.Request, handler: Any) -> web.StreamResponse:
            response = await handler(request)
            if (
                request.method == "POST"
                and request.path.endswith("/messages")
                and response.status == 200
            ):
                at = time.perf_counter()
                body = await request.json()
                if isinstance(body, dict) and "type" in body:
                    self.arrived(str(body.get("to") or body.get("recipient")), at)
            return response

        return watch


async def expected_bodies(shop: Shop) -> list[list[int]]:
    """How many WhatsApp message bodies each step of each script produces: every script
    once in process, its replies rendered as the dispatcher and the WhatsApp channel do."""
    from tendero.channels.render import render
    from tendero_whatsapp.channel import WhatsAppChannel
    from tendero_whatsapp.send import render as whatsapp_bodies

    limits = WhatsAppChannel.limits
    counts = []
    conversations = await shop.new_conversations(len(SCRIPTS), 8_000_000 - 8_000_000 % len(SCRIPTS))
    for script, conversation in zip(SCRIPTS, conversations, strict=True):
        assert SCRIPTS[conversation.number % len(SCRIPTS)] is script
        per_step = []
        for step in script.steps:
            sample = await shop.turn(conversation, step, keep=True)
            bodies = 0
            for reply in sample.replies:
                for message in render(reply, "whatsapp", conversation.customer, limits):
                    if message.text or message.image_url:
                        bodies += len(whatsapp_bodies(message, limits))
            per_step.append(bodies)
        counts.append(per_step)
    return counts


def _whatsapp_message(customer: str, text: str, choice: str | None) -> dict[str, Any]:
    from tests.fakes import graph_whatsapp as wa

    if choice is None:
        return wa.text_message(customer, text)
    return {
        "from": customer,
        "id": wa.new_wamid(),
        "timestamp": str(int(time.time())),
        "type": "interactive",
        "interactive": {"type": "list_reply", "list_reply": {"id": choice, "title": text}},
    }


async def e2e_phase(
    *,
    emitter: Any,
    fake: Any,
    number: Any,
    arrivals: Arrivals,
    counts: list[list[int]],
    sku_ids: dict[str, int],
    conversations: int,
    concurrency: int,
    first_number: int,
    server_pids: Sequence[int],
    reply_within: float,
    prefix: str,
) -> dict[str, Any]:
    from tests.fakes import graph_whatsapp as wa

    latencies: list[float] = []
    firsts: list[float] = []
    acks: list[float] = []
    failures = Counter[str]()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(first_number, first_number + conversations):
        queue.put_nowait(n)

    async def customer_worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            script = SCRIPTS[n % len(SCRIPTS)]
            expected = counts[n % len(SCRIPTS)]
            customer = f"52155{n:08d}"
            for index, step in enumerate(script.steps):
                text, choice = step_input(step, n, sku_ids)
                message = _whatsapp_message(customer, text, choice)
                fake.inbound(PHONE_NUMBER_ID, customer, message["id"])
                payload = wa.delivery(
                    wa.change(
                        number,
                        messages=[message],
                        contacts=[wa.contact(customer, f"Cliente {n}")],
                    )
                )
                if expected[index] == 0:
                    failures["step without replies"] += 1  # nothing to wait for
                    continue
                waiting = arrivals.expect(customer, expected[index])
                started = time.perf_counter()
                status, _body = await emitter.send(payload)
                acks.append(time.perf_counter() - started)
                if status != 200:
                    failures[f"webhook {status}"] += 1
                try:
                    first, last = await asyncio.wait_for(waiting, reply_within)
                except TimeoutError:
                    failures["reply timeout"] += 1
                    arrivals.waiting.pop(customer, None)
                    continue
                firsts.append(first - started)
                latencies.append(last - started)

    cpu = sum(cpu_seconds(pid) for pid in server_pids)
    started = time.perf_counter()
    await asyncio.gather(*(customer_worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    cpu = sum(cpu_seconds(pid) for pid in server_pids) - cpu
    turns = len(latencies)
    return {
        f"{prefix}turns": turns,
        f"{prefix}turns_per_s": round(turns / wall, 1),
        f"{prefix}p50_ms": ms(percentile(latencies, 50)),
        f"{prefix}p99_ms": ms(percentile(latencies, 99)),
        f"{prefix}first_reply_p50_ms": ms(percentile(firsts, 50)),
        f"{prefix}webhook_ack_p50_ms": ms(percentile(acks, 50)),
        f"{prefix}server_cpu_ms_per_turn": ms(cpu / max(turns, 1)),
        f"{prefix}failures": sum(failures.values()),
    } | ({f"{prefix}failure_kinds": dict(failures)} if failures else {})


def print_stages(stages: dict[str, list[float]], turns: int) -> None:
    """The server's stage timings of one phase, per turn."""
    if not turns:
        return
    log(f"      {'server stage (wall, per turn)':<52} {'calls':>6} {'ms':>7}")
    labels = [WEBHOOK_STAGE, *(stage[0] for stage in SERVER_STAGES)]
    for label in labels:
        count, seconds = stages.get(label, (0, 0.0))
        log(f"      {label:<52} {count / turns:>6.2f} {1000 * seconds / turns:>7.2f}")
    sql: dict[str, int] = stages.get("sql", {})  # type: ignore[assignment]
    total = sum(sql.values())
    log(f"      SQL statements per turn (SQLAlchemy engines): {total / turns:.1f}")
    for kind, count in sorted(sql.items(), key=lambda item: -item[1])[:14]:
        log(f"        {kind:<50} {count / turns:>6.2f}")


async def part_e2e(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from tests.fakes import graph_whatsapp as wa
    from tests.fakes.graph import FakeGraph

    # The replies each scripted step produces, so a customer knows when a turn is over.
    shop = Shop(target)
    await shop.start()
    try:
        counts = await expected_bodies(shop)
        sku_ids = shop.sku_ids
    finally:
        await shop.close()
    log(f"\ne2e: WhatsApp bodies per step: {counts}")

    arrivals = Arrivals()
    graph = FakeGraph("facebook")
    fake = wa.install_whatsapp(graph)
    graph.app.middlewares.insert(0, arrivals.middleware())
    figures: dict[str, Any] = {}
    async with graph:
        number = fake.add_number(PHONE_NUMBER_ID, ACCESS_TOKEN)
        env = target.env | {
            "TENDERO_GRAPH_API_URL": graph.url,
            "TENDERO_WHATSAPP_APP_SECRET": APP_SECRET,
            "TENDERO_WHATSAPP_VERIFY_TOKEN": "bench-verify",
            "TENDERO_WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
            "TENDERO_WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "TENDERO_LOG_LEVEL": "warning",
            "BENCH_UNPACED": "0" if args.paced else "1",
            "BENCH_DISPATCHER_CONCURRENCY": str(args.dispatcher_concurrency),
        }
        if args.server_profile:
            env["BENCH_SERVER_PROFILE"] = args.server_profile  # made absolute in main()
        first = 6_000_000
        for workers in args.workers:
            log(f"  {workers} server process{'es' if workers > 1 else ''}:")
            first = await e2e_servers(
                args,
                env,
                workers,
                first,
                figures,
                fake=fake,
                number=number,
                arrivals=arrivals,
                counts=counts,
                sku_ids=sku_ids,
            )
        figures["e2e_unexpected_bodies"] = arrivals.unexpected
        figures["e2e_paced"] = bool(args.paced)
        log(f"  bodies nobody waited for: {arrivals.unexpected}")
    if len(args.workers) > 1:
        base = args.workers[0]
        for workers in args.workers[1:]:
            for concurrency in args.e2e_concurrency:
                one = figures.get(f"{phase_prefix(base, concurrency)}turns_per_s")
                more = figures.get(f"{phase_prefix(workers, concurrency)}turns_per_s")
                if one and more:
                    label = f"e2e_w{workers}_vs_w{base}_c{concurrency}"
                    figures[label] = round(more / one, 2)
                    log(
                        f"  {concurrency} customers in flight: {workers} processes "
                        f"{more} turns/s vs {base}: {one} turns/s = {figures[label]}x"
                    )
    if args.server_profile:
        print_server_profile(Path(args.server_profile + ".json"), figures)
    return figures


def phase_prefix(workers: int, concurrency: int) -> str:
    """Figure names of one phase: ``e2e_c8_`` (one process), ``e2e_w2_c8_`` (two)."""
    return f"e2e_c{concurrency}_" if workers == 1 else f"e2e_w{workers}_c{concurrency}_"


async def e2e_servers(
    args: argparse.Namespace,
    env: dict[str, str],
    workers: int,
    first: int,
    figures: dict[str, Any],
    **phase: Any,
) -> int:
    """Start ``workers`` server processes on one port (``SO_REUSEPORT``, as ``tendero
    serve --workers`` does), run one phase per ``--e2e-concurrency`` value against them,
    stop them; returns the next free conversation number."""
    import aiohttp

    from tests.fakes import webhooks as wh

    port = free_port()
    stats_ports = [free_port() for _ in range(workers)]
    procs = []
    for stats_port in stats_ports:
        proc_env = env if workers == 1 else {k: v for k, v in env.items() if "PROFILE" not in k}
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--serve", str(port), str(stats_port), env=proc_env
            )
        )
    try:
        for proc, stats_port in zip(procs, stats_ports, strict=True):
            await wait_listening(stats_port, proc)
        url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
        connector = aiohttp.TCPConnector(limit=0)
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            wh.MetaWebhookEmitter(url, APP_SECRET, http=http) as emitter,
        ):
            for concurrency in args.e2e_concurrency:
                prefix = phase_prefix(workers, concurrency)
                result = await e2e_phase(
                    emitter=emitter,
                    conversations=args.e2e_conversations,
                    concurrency=concurrency,
                    first_number=first,
                    server_pids=[proc.pid for proc in procs],
                    reply_within=args.e2e_timeout,
                    prefix=prefix,
                    **phase,
                )
                first += args.e2e_conversations
                stages: dict[str, Any] = {}
                for stats_port in stats_ports:
                    address = f"http://127.0.0.1:{stats_port}/bench/stages"
                    async with http.get(address) as answer:
                        merge_stages(stages, await answer.json())
                figures.update(result)
                log(
                    f"  {concurrency:>3} customers in flight: {result[prefix + 'turns']} turns, "
                    f"{result[prefix + 'turns_per_s']} turns/s, "
                    f"p50 {result[prefix + 'p50_ms']} ms, p99 {result[prefix + 'p99_ms']} ms "
                    f"(first reply p50 {result[prefix + 'first_reply_p50_ms']} ms; "
                    f"webhook ack p50 {result[prefix + 'webhook_ack_p50_ms']} ms); "
                    f"server CPU {result[prefix + 'server_cpu_ms_per_turn']} ms/turn; "
                    f"failures {result[prefix + 'failures']}"
                )
                print_stages(stages, result[prefix + "turns"])
        rss = sum(rss_kb(proc.pid) for proc in procs) / 1024
        name = "e2e_server_rss_mb" if workers == 1 else f"e2e_w{workers}_server_rss_mb"
        figures[name] = round(rss, 1)
        log(f"  server RSS {figures[name]} MB (all processes)")
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            try:
                # A profiled server writes its report on the way out.
                await asyncio.wait_for(proc.wait(), 300 if args.server_profile else 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    return first


def merge_stages(into: dict[str, Any], stages: dict[str, Any]) -> None:
    """Add one server process's stage timings and statement counts to ``into``."""
    for label, value in stages.items():
        if label == "sql":
            sql = into.setdefault("sql", {})
            for kind, count in value.items():
                sql[kind] = sql.get(kind, 0) + count
        else:
            entry = into.setdefault(label, [0, 0.0])
            entry[0] += value[0]
            entry[1] += value[1]


def print_server_profile(path: Path, figures: dict[str, Any]) -> None:
    """The e2e server's profile summary (all phases together), per turn."""
    if not path.exists():
        log(f"  no server profile at {path}")
        return
    summary = json.loads(path.read_text())
    turns = sum(v for k, v in figures.items() if k.startswith("e2e_c") and k.endswith("_turns"))
    total = summary["total"]
    log(f"\n  server profile ({total:.1f} s, {turns} turns; ms per turn with the profiler on):")
    log("    by what the event loop ran:")
    for label, value in sorted(summary["tasks"].items(), key=lambda item: -item[1]):
        if value / total >= 0.005:
            log(f"      {label:<52} {100 * value / total:5.1f} %  {1000 * value / turns:6.2f}")
    log("    self time by package:")
    for label, value in sorted(summary["packages"].items(), key=lambda item: -item[1]):
        if value / total >= 0.005:
            log(f"      {label:<52} {100 * value / total:5.1f} %  {1000 * value / turns:6.2f}")


# --- main ----------------------------------------------------------------------------------


def _csv_ints(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--e2e-conversations", type=int, default=24)
    parser.add_argument("--e2e-concurrency", type=_csv_ints, default=[1, 8, 32])
    parser.add_argument(
        "--dispatcher-concurrency",
        type=int,
        default=3,
        help="turns the e2e server runs at once (the app's default, 32, deadlocks, see README)",
    )
    parser.add_argument(
        "--workers",
        type=_csv_ints,
        default=[1],
        help="e2e server processes sharing the port, one run each (e.g. 1,2; above 1 "
        "needs --postgres)",
    )
    parser.add_argument("--e2e-timeout", type=float, default=30.0)
    parser.add_argument("--paced", action="store_true", help="keep the channel's send pacing")
    parser.add_argument("--parts", default="turns,memory,e2e")
    parser.add_argument("--profile", metavar="FILE")
    parser.add_argument("--profile-conversations", type=int, default=60)
    parser.add_argument(
        "--server-profile", metavar="FILE", help="profile the e2e server process (pyinstrument)"
    )
    parser.add_argument("--postgres", metavar="URL")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--serve", type=int, nargs=2, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        serve(*args.serve)
        return 0
    if max(args.workers) > 1 and not args.postgres:
        parser.error("--workers above 1 needs --postgres (SQLite serves one process)")
    if args.memory_child:
        from tendero.logging import configure_logging

        configure_logging("warning")
        spec = json.loads(args.memory_child)
        target = Target(Path(spec["data_dir"]), spec["database_url"], spec["engine"])
        result = asyncio.run(memory_child(target, args.idle, args.concurrency))
        print(json.dumps(result))
        return 0

    for key in [k for k in os.environ if k.startswith("TENDERO_")]:
        del os.environ[key]  # the run's settings are explicit
    from tendero.logging import configure_logging

    configure_logging("warning")
    if args.server_profile:
        args.server_profile = str(Path(args.server_profile).resolve())
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    started = time.perf_counter()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tendero-bench-") as tmp:
        target = create_target(Path(tmp), args.postgres)
        try:
            figures["engine"] = target.engine
            log(f"engine {target.engine}; load average at start {load_average()}")
            load_demo_store(target)
            asyncio.run(restock(target))
            if "turns" in parts:
                figures.update(asyncio.run(part_turns(target, args)))
            if "memory" in parts:
                figures.update(part_memory(target, args))
            if "e2e" in parts:
                figures.update(asyncio.run(part_e2e(target, args)))
        finally:
            drop_target(target, args.keep)
    figures["load_average_end"] = load_average()
    log(f"\ndone in {time.perf_counter() - started:.0f} s")
    print(json.dumps({"benchmark": "agent_turns", "figures": figures}))
    return 0


async def restock(target: Target) -> None:
    """Enough stock that the scripted orders never sell a product out."""
    from tendero.db import Database
    from tendero.db.models import Product

    db = Database(target.settings().effective_database_url)
    try:
        async with db.session() as session:
            await session.execute(sa.update(Product).where(Product.stock > 0).values(stock=RESTOCK))
    finally:
        await db.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
