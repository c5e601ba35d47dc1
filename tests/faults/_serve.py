"""A real ``tendero serve`` process the fault tests can kill, restart and talk to.

:class:`ServeProcess` runs ``tendero serve`` on one data folder and one port (the address
Meta knows does not change when the process comes back). Its WhatsApp channel points at
the fake Graph API of a :class:`~tests.channels.e2e.Channel`, which runs in the test's
own event loop, so nothing here blocks that loop: processes are waited for in threads
and health checks go through aiohttp.

:class:`Customer` plays one scripted WhatsApp conversation the way a person does: say
something, wait until the turn was answered, say the next thing. Deliveries go out like
Meta sends them: signed, and sent again until one gets a 200 (a delivery that got no
answer, or a non-200, is redelivered; the inbox makes a second copy a no-op).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from tendero.db import Database
from tendero.db.models import (
    Conversation,
    InboxEvent,
    Lead,
    Message,
    Order,
    OutboxMessage,
    Product,
)
from tendero.orders import get_order, order_detail_to_json
from tendero.settings import Settings

from tests.channels.e2e import Channel, meta_channel
from tests.conftest import TENDERO_BIN, fresh_postgres_database
from tests.fakes import graph_whatsapp as wa
from tests.fakes import webhooks as wh
from tests.test_serve import free_port

SECRET_KEY = "fault-tests-secret-key-0123456789abcdef"
#: Seconds a delivery waits for the webhook's answer before counting as not delivered.
META_TIMEOUT = 20.0


def serve_env(channel: Channel, data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a ``tendero serve`` whose WhatsApp channel talks to the fake."""
    s = channel.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENDERO_")}
    return (
        env
        | {
            "TENDERO_DATA_DIR": str(data_dir),
            "TENDERO_DATABASE_URL": database_url,
            "TENDERO_SECRET_KEY": SECRET_KEY,
            "TENDERO_GRAPH_API_URL": s.graph_api_url,
            "TENDERO_WHATSAPP_APP_SECRET": s.whatsapp_app_secret,
            "TENDERO_WHATSAPP_VERIFY_TOKEN": s.whatsapp_verify_token,
            "TENDERO_WHATSAPP_ACCESS_TOKEN": s.whatsapp_access_token,
            "TENDERO_WHATSAPP_PHONE_NUMBER_ID": s.whatsapp_phone_number_id,
            "TENDERO_LOG_LEVEL": "warning",
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
        | extra
    )


async def run_cli(env: dict[str, str], cwd: Path, *args: str, within: float = 180) -> str:
    """``tendero ARGS`` as a process (waited for in a thread); its stdout, or an
    AssertionError with its output when it fails."""
    result = await asyncio.to_thread(
        subprocess.run,
        [str(TENDERO_BIN), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=within,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"tendero {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


class ServeProcess:
    """``tendero serve`` on a fixed port, started again after each kill."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook(self) -> str:
        return f"{self.url}/webhooks/whatsapp"

    def log_path(self, start: int) -> Path:
        return self.folder / f"serve-{start}.log"

    def logs(self, lines: int = 60) -> str:
        parts = []
        for start in range(1, self.starts + 1):
            text = self.log_path(start).read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- serve #{start}\n" + "\n".join(text))
        return "\n".join(parts)

    async def start(self, within: float = 90) -> None:
        """Start the process and wait until ``/healthz`` answers."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        with self.log_path(self.starts).open("wb") as out:
            self.proc = await asyncio.to_thread(
                subprocess.Popen,
                [str(TENDERO_BIN), "serve", "--port", str(self.port)],
                env=self.env,
                cwd=self.folder,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"tendero serve exited:\n{self.logs()}")
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    async with http.get(
                        f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise AssertionError(f"tendero serve did not answer /healthz:\n{self.logs()}")

    async def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, nothing is flushed or finished."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.proc.wait)
        self.kills += 1

    async def stop(self) -> None:
        """SIGTERM, and SIGKILL if it does not exit within 20 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.proc.wait, 20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)


# --- scripted customers -------------------------------------------------------------------


@dataclass(frozen=True)
class Tap:
    """A tapped button or list row: WhatsApp sends its id and its title."""

    id: str
    title: str


@dataclass(frozen=True)
class Script:
    """A conversation that ends in an order, and the order it must produce."""

    name: str
    says: tuple[str | Tap, ...]
    items: dict[str, int]  # SKU -> quantity
    delivery_method: str
    email: str = ""
    address: dict[str, str] = field(default_factory=dict)  # expected shipping fields
    pickup_location: str = ""

    def lines(self, n: int) -> list[str | Tap]:
        """The messages of customer number ``n`` (``{n}`` makes emails unique)."""
        return [s.replace("{n}", str(n)) if isinstance(s, str) else s for s in self.says]


SCRIPTS = (
    Script(
        "es-shakers-envio",
        (
            "hola, quiero 2 shakers negros",
            "y también una cuerda para saltar",
            "es todo",
            "a domicilio",
            "ana.lopez{n}@gmail.com, Insurgentes Sur 1602, col. Crédito Constructor, 03940, CDMX",
            "si",
        ),
        items={"TFR-SHAK-NEG": 2, "TFR-CUERDA": 1},
        delivery_method="shipping",
        email="ana.lopez{n}@gmail.com",
        address={"street": "Insurgentes Sur", "house_number": "1602", "postal_code": "03940"},
    ),
    Script(
        "es-vainilla-recoger",
        (
            "buenas tardes, tienen proteina de vainilla?",
            "la de 2 lb",
            "mejor que sean 3",
            "que llevo en el carrito?",
            "listo",
            Tap("delivery:pickup", "Recoger en tienda"),
            "en del valle",
            "si",
        ),
        items={"TFR-WHEY-VAN-2LB": 3},
        delivery_method="pickup",
        pickup_location="Sucursal Del Valle",
    ),
    Script(
        "en-creatine-shipping",
        (
            "hi, do you sell creatine?",
            "the 600 g one",
            "I want 2",
            "how much is shipping?",
            "that's all",
            "home delivery",
            "my email is jenny.w{n}@gmail.com. Calle Medellin 88, Roma Norte, 06700, Mexico City",
            "yes",
        ),
        items={"TFR-CREA-600": 2},
        delivery_method="shipping",
        email="jenny.w{n}@gmail.com",
        address={"street": "Calle Medellin", "house_number": "88", "postal_code": "06700"},
    ),
    Script(
        "en-gloves-pickup",
        (
            "hello, I want 1 black cap",
            "and 2 pairs of medium gym gloves",
            "checkout",
            "pickup",
            Tap("location:Sucursal Roma Norte", "Sucursal Roma Norte"),
            "yes",
        ),
        items={"TFR-GORRA-NEG": 1, "TFR-GUANT-M": 2},
        delivery_method="pickup",
        pickup_location="Sucursal Roma Norte",
    ),
)


def whatsapp_message(customer: str, say: str | Tap) -> dict[str, Any]:
    if isinstance(say, str):
        return wa.text_message(customer, say)
    kind = "list_reply" if say.id.startswith("location:") else "button_reply"
    return {
        "from": customer,
        "id": wa.new_wamid(),
        "timestamp": str(int(time.time())),
        "type": "interactive",
        "interactive": {"type": kind, kind: {"id": say.id, "title": say.title}},
    }


@dataclass
class Delivery:
    """One inbound message as Meta delivers it, and what happened to its POSTs."""

    wamid: str
    payload: dict[str, Any]
    attempts: int = 0
    non_200: int = 0


class Deliverer:
    """Posts deliveries to the server like Meta does: signed, redelivered until a 200."""

    def __init__(self, channel: Channel, server: ServeProcess) -> None:
        self.channel = channel
        self.server = server
        # Meta gives up on a delivery that gets no answer within seconds (its exact
        # timeout is not published) and redelivers it later.
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=META_TIMEOUT))
        self.emitter = wh.MetaWebhookEmitter(server.webhook, channel.secret, http=self.http)
        self.posted = 0  # deliveries that got their 200
        self.redelivered = 0
        self.statuses: list[int] = []  # every non-200 status seen (0: no answer)
        self.milestone = asyncio.Condition()

    async def close(self) -> None:
        await self.emitter.close()
        await self.http.close()

    async def deliver(self, delivery: Delivery) -> None:
        while True:
            delivery.attempts += 1
            if delivery.attempts > 1:
                self.redelivered += 1
            try:
                status, _ = await self.emitter.send(delivery.payload)
            except (aiohttp.ClientError, OSError, TimeoutError):
                status = 0
            if status == 200:
                async with self.milestone:
                    self.posted += 1
                    self.milestone.notify_all()
                return
            delivery.non_200 += 1
            self.statuses.append(status)
            await asyncio.sleep(0.2)  # Meta retries "immediately", then backs off

    async def wait_posted(self, count: int) -> None:
        async with self.milestone:
            await self.milestone.wait_for(lambda: self.posted >= count)


class Progress:
    """Reads the server's database (a second reader, like the panel): which inbound
    messages had their turn committed, and which conversations still have replies to
    send. One poller serves every customer."""

    def __init__(self, database_url: str, interval: float = 0.1) -> None:
        self.db = Database(database_url)
        self.interval = interval
        self.done: set[str] = set()
        self.unsent: set[str] = set()  # customers with replies not yet sent
        self.changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Progress:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.db.dispose()

    async def _poll(self) -> None:
        async with self.db.read_session() as session:
            done = await session.execute(
                sa.select(InboxEvent.platform_message_id).where(InboxEvent.status == "done")
            )
            unsent = await session.execute(
                sa.select(Lead.platform_id)
                .join(Conversation, Conversation.lead_id == Lead.id)
                .join(OutboxMessage, OutboxMessage.conversation_id == Conversation.id)
                .where(OutboxMessage.status.in_(("pending", "sending")))
                .distinct()
            )
            self.done = set(done.scalars())
            self.unsent = set(unsent.scalars())
        async with self.changed:
            self.changed.notify_all()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # the file may be mid-write or locked
                await self._poll()
            await asyncio.sleep(self.interval)

    async def answered(self, customer: str, wamid: str) -> None:
        """Until the turn of ``wamid`` is committed and the customer's replies are sent."""
        async with self.changed:
            await self.changed.wait_for(lambda: wamid in self.done and customer not in self.unsent)


@dataclass
class Turn:
    say: str | Tap
    delivery: Delivery
    replies_before: int  # replies the customer had got when this message went out


class Customer:
    """Plays one script: each message goes out once the previous one was answered."""

    def __init__(self, channel: Channel, n: int, script: Script) -> None:
        self.channel = channel
        self.n = n
        self.script = script
        self.id = channel.customer(n)
        self.turns: list[Turn] = []

    async def play(self, deliverer: Deliverer, progress: Progress) -> None:
        assert self.channel.whatsapp is not None and self.channel.number is not None
        for say in self.script.lines(self.n):
            message = whatsapp_message(self.id, say)
            self.channel.whatsapp.inbound(self.channel.account, self.id, message["id"])
            payload = self.channel.delivery([message])
            delivery = Delivery(message["id"], payload)
            self.turns.append(Turn(say, delivery, len(self.replies())))
            await deliverer.deliver(delivery)
            await progress.answered(self.id, message["id"])

    def replies(self) -> list[str]:
        """The texts the fake Graph accepted for this customer, in arrival order."""
        return [reply_text(r.json) for r in self.channel.replies_to(self.id)]

    def replies_per_turn(self) -> list[list[str]]:
        """What the customer got after each of their messages (up to the next one)."""
        got = self.replies()
        bounds = [t.replies_before for t in self.turns] + [len(got)]
        return [got[bounds[i] : bounds[i + 1]] for i in range(len(self.turns))]


def reply_text(body: dict[str, Any]) -> str:
    """The text of a WhatsApp send body, as the transcript stores it (without the
    buttons or list rows)."""
    kind = body.get("type")
    if kind == "text":
        return body["text"]["body"]
    if kind == "interactive":
        return body["interactive"]["body"]["text"]
    if kind == "image":
        return body["image"].get("caption") or ""
    return f"[{kind}]"


async def transcripts(db: Database) -> dict[str, list[tuple[str, str, str]]]:
    """Each customer's stored transcript: (direction, platform message id, text) in
    order, from the database."""
    async with db.read_session() as session:
        rows = await session.execute(
            sa.select(
                Lead.platform_id, Message.direction, Message.platform_message_id, Message.text
            )
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Lead, Lead.id == Conversation.lead_id)
            .order_by(Message.id)
        )
        out: dict[str, list[tuple[str, str, str]]] = {}
        for platform_id, direction, message_id, text in rows:
            out.setdefault(platform_id, []).append((direction, message_id or "", text or ""))
        return out


def collapse_repeats(got: Sequence[str], stored: Sequence[str]) -> tuple[list[str], int]:
    """``got`` with a message sent again right after itself counted once — what the
    outbox does when a process dies between the Graph's 200 and recording it (no Graph
    idempotency key: at least once beats never) — unless ``stored`` has that repeat
    too. Returns the collapsed list and how many resends were dropped."""
    out: list[str] = []
    resends = 0
    j = 0  # position in stored
    for text in got:
        if j < len(stored) and stored[j] == text:
            out.append(text)
            j += 1
        elif out and out[-1] == text:
            resends += 1
        else:
            out.append(text)
            j += 1
    return out, resends


# --- the shop and what it stored -------------------------------------------------------------


@contextlib.contextmanager
def database(engine: str, tmp_path: Path) -> Iterator[str]:
    """A database URL for ``engine``: a file in the data folder, or a fresh PostgreSQL
    database (left for ``tendero db upgrade`` to migrate)."""
    if engine == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'tendero.db'}"
        return
    with fresh_postgres_database("h_faults", migrate=False) as url:
        yield url


@contextlib.asynccontextmanager
async def shop(
    engine: str, tmp_path: Path, **extra_env: str
) -> AsyncIterator[tuple[Channel, ServeProcess, str]]:
    """The demo store behind a running ``tendero serve`` with WhatsApp on the fake
    (``extra_env`` added to its environment)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with database(engine, tmp_path) as url:
        base = Settings(data_dir=data_dir, database_url=url, _env_file=None)  # type: ignore[call-arg]
        async with meta_channel("whatsapp", base) as channel:
            env = serve_env(channel, data_dir, url, **extra_env)
            await run_cli(env, tmp_path, "db", "upgrade")
            await run_cli(env, tmp_path, "demo")
            db = Database(url)
            try:  # the same products are ordered many times over
                async with db.session() as session:
                    await session.execute(
                        sa.update(Product).where(Product.stock.is_not(None)).values(stock=100_000)
                    )
            finally:
                await db.dispose()
            server = ServeProcess(env, tmp_path)
            await server.start()
            try:
                yield channel, server, url
            finally:
                await server.stop()


async def orders_by_customer(db: Database) -> dict[str, list[dict[str, Any]]]:
    async with db.read_session() as session:
        numbers = (await session.execute(sa.select(Order.number).order_by(Order.number))).scalars()
        found: dict[str, list[dict[str, Any]]] = {}
        for number in list(numbers):
            order = order_detail_to_json(await get_order(session, number))
            found.setdefault(order["customer"]["platform_id"], []).append(order)
        return found


def check_order(script: Script, n: int, orders: list[dict[str, Any]]) -> list[str]:
    """What is wrong with customer ``n``'s orders (nothing: an empty list)."""
    if len(orders) != 1:
        return [f"{len(orders)} orders: {[o['number'] for o in orders]}"]
    order = orders[0]
    problems = []
    items = {i["sku"]: i["quantity"] for i in order["items"]}
    if items != script.items:
        problems.append(f"items {items} != {script.items}")
    if order["delivery_method"] != script.delivery_method:
        problems.append(f"delivery {order['delivery_method']}")
    if script.email and order["customer"]["email"] != script.email.replace("{n}", str(n)):
        problems.append(f"email {order['customer']['email']!r}")
    for key, value in script.address.items():
        if (order["shipping_address"] or {}).get(key) != value:
            problems.append(f"address {key} {(order['shipping_address'] or {}).get(key)!r}")
    if script.pickup_location and (order["pickup_location"] or {}).get("name") != (
        script.pickup_location
    ):
        problems.append(f"pickup {order['pickup_location']}")
    return problems


@dataclass
class Outcome:
    """What a stream of conversations went through (for the test's report line)."""

    messages: int
    seconds: float
    redelivered: int  # deliveries that needed more than one POST
    statuses: list[int]  # every non-200 answer (0: no answer at all)
    resends: int  # replies the Graph got twice (a send cut between its 200 and its record)


async def play(
    customers: Sequence[Customer],
    server: ServeProcess,
    channel: Channel,
    database_url: str,
    *,
    beside: Callable[[Deliverer], Awaitable[Any]] | None = None,
    within: float = 240.0,
) -> Outcome:
    """Every customer plays their script at once (``beside`` runs meanwhile: kills, lock
    holders); then :func:`verify` the result."""
    deliverer = Deliverer(channel, server)
    started = time.monotonic()
    try:
        async with Progress(database_url) as progress:
            side = asyncio.ensure_future(beside(deliverer)) if beside is not None else None
            load = asyncio.gather(*(c.play(deliverer, progress) for c in customers))
            try:
                await asyncio.wait_for(load, within)
            except TimeoutError:
                stuck = {c.id: f"{len(c.turns)}/{len(c.script.says)}" for c in customers}
                raise AssertionError(
                    f"not every turn was answered: {stuck}\n{server.logs()}"
                ) from None
            if side is not None:
                await side
    finally:
        await deliverer.close()
    seconds = time.monotonic() - started
    resends = await verify(customers, database_url, kills=server.kills)
    return Outcome(
        messages=sum(len(c.turns) for c in customers),
        seconds=seconds,
        redelivered=sum(1 for c in customers for t in c.turns if t.delivery.attempts > 1),
        statuses=deliverer.statuses,
        resends=resends,
    )


async def verify(customers: Sequence[Customer], database_url: str, *, kills: int = 0) -> int:
    """Check what the customers got against what the database stored; returns how many
    replies were sent twice (see :func:`collapse_repeats`).

    * every inbound message has one inbox row and its turn was committed;
    * every turn has replies, and the customer got exactly those after that message,
      in order; a reply may come twice in a row only where the process was killed, at
      most once per conversation and kill (the send in flight when it died);
    * every customer has exactly one order, with what their script said.
    """
    db = Database(database_url)
    try:
        async with db.read_session() as session:
            inbox = (
                await session.execute(sa.select(InboxEvent.platform_message_id, InboxEvent.status))
            ).all()
            outbox = dict(
                (
                    await session.execute(
                        sa.select(OutboxMessage.status, sa.func.count()).group_by(
                            OutboxMessage.status
                        )
                    )
                ).all()
            )
        stored = await transcripts(db)
        orders = await orders_by_customer(db)
    finally:
        await db.dispose()

    sent_ids = [t.delivery.wamid for c in customers for t in c.turns]
    assert sorted(wamid for wamid, _ in inbox) == sorted(sent_ids), "inbox rows != messages"
    assert {status for _, status in inbox} == {"done"}, "a turn was not committed"
    assert set(outbox) == {"sent"}, outbox

    resends = 0
    problems: dict[str, Any] = {}
    for customer in customers:
        rows = stored[customer.id]
        inbound = [mid for direction, mid, _ in rows if direction == "in"]
        assert inbound == [t.delivery.wamid for t in customer.turns], customer.id
        per_turn: list[list[str]] = []
        for direction, _, text in rows:
            if direction == "in":
                per_turn.append([])
            else:
                per_turn[-1].append(text)
        got_per_turn = customer.replies_per_turn()
        repeats = 0
        for index, (got, want) in enumerate(zip(got_per_turn, per_turn, strict=True)):
            collapsed, repeated = collapse_repeats(got, want)
            repeats += repeated
            if not want or collapsed != want:
                problems[f"{customer.id} turn {index}"] = {"got": got, "stored": want}
        if repeats > kills:
            problems[f"{customer.id} repeats"] = f"{repeats} replies sent twice, {kills} kills"
        resends += repeats
        wrong = check_order(customer.script, customer.n, orders.get(customer.id, []))
        if wrong:
            problems[f"{customer.id} order ({customer.script.name})"] = wrong
    assert not problems, problems
    assert len(orders) == len(customers), sorted(orders)
    return resends
