"""Soak: a bounded, steady load on the real ``tendero serve`` over SQLite, checked for
lost or duplicated replies, memory growth and latency drift.

    python benchmarks/soak.py [--conversations 10000] [--minutes 10] [--order-every 50]
        [--second-turn-every 3] [--think 1.0] [--sample-every 5] [--max-rss-slope 2.0]
        [--max-p99-growth 2.0] [--p99-slack 0.1] [--reply-timeout 60] [--drain-timeout 120] [--scripts 8]
        [--results DIR] [--keep DIR]

The server is the command an operator runs, ``tendero serve``, as its own process on a
fresh data folder (``tendero db upgrade``, ``tendero demo --if-empty``: the 32-product
demo store; stock raised so the scripted orders never sell out), with all three channels
configured against local fake Graph APIs (``tests/fakes``): WhatsApp, Messenger and
Instagram, each with its default send pacing (20 messages/s per channel). Customers are
spread over the three channels in turn.

Load is open loop: conversation *i* starts at ``i / rate`` seconds whatever the server
is doing (``rate = conversations / (minutes * 60)``), many at once. Inside a conversation
the customer behaves like a person: sends a message (a Meta-signed webhook), waits until
every reply body of that turn has been accepted by the fake Graph, thinks ``--think``
seconds, sends the next. Conversations take the scripts of ``agent_turns.py`` (the first
``--scripts`` of them): most are short -- the product search (a greeting and a list),
and for every ``--second-turn-every``-th also the pick from the list -- and every
``--order-every``-th runs its whole script (7–9 turns) to an order. The defaults offer
10,000 conversations in 10 minutes, 16.7 a second, about 1.47 turns each: ~24.5 turns/s,
about what ``agent_turns.py`` measured end to end for one process on a quieter machine
(22-29 turns/s); on a busy machine offer fewer (benchmarks/README.md).

How many bodies each step produces per channel is measured first on the same server (a
calibration round: every script on every channel, in lock step, each step ending when the
inbox and the outbox are empty), since the rules brain is deterministic.

Every ``--sample-every`` seconds: the server's RSS (``VmRSS``) and CPU, turns finished in
the window with their p50/p99 latency (webhook POST -> last reply body accepted), messages
in (webhooks) and out (bodies accepted), and the inbox and outbox backlogs (read from the
SQLite file). After the load: wait for the backlogs to drain, then check

* every inbound message answered exactly once: each customer received exactly the bodies
  their messages produce (none missing: lost; none extra: duplicated), every inbox row is
  ``done``, no outbox row is left or failed;
* orders created = ordering conversations;
* memory flat after warm-up: least-squares RSS slope over the second half of the load,
  MB/min, at most ``--max-rss-slope``;
* latency stable: p99 of the turns finished in the last third of the load at most
  ``--max-p99-growth`` times that of the first third plus ``--p99-slack`` seconds (0.1).

Prints a table, writes the time series to ``benchmarks/results/soak-<time>.json`` and, as
its last stdout line, ``{"benchmark": "soak", "figures": {...}}``. Exit 1 when a check
fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent_turns import (
    REPO,
    SCRIPTS,
    TENDERO,
    Script,
    Step,
    clean_env,
    create_target,
    load_average,
    load_demo_store,
    log,
    ms,
    percentile,
    restock,
    rss_kb,
    step_input,
    wait_listening,
)
from common import cpu_seconds, free_port

RESULTS = Path(__file__).resolve().parent / "results"

PHONE_NUMBER_ID = "106540352242922"
PAGE_ID = "100200300400500"
IG_ACCOUNT_ID = "17841400000000001"
TOKENS = {name: f"EAAG-soak-{name}-{uuid.uuid4().hex[:10]}" for name in ("wa", "fb", "ig")}
SECRETS = {name: f"soak-{name}-app-secret" for name in ("whatsapp", "facebook", "instagram")}
CHANNELS = ("whatsapp", "facebook", "instagram")


# --- the customers' side -------------------------------------------------------------------


@dataclass
class Plan:
    """One conversation: which channel and script, how many of its steps."""

    number: int
    channel: str
    script: Script
    steps: int

    @property
    def customer(self) -> str:
        # WhatsApp: phone digits; Messenger PSIDs and Instagram IGSIDs: digit strings too.
        prefix = {"whatsapp": "52155", "facebook": "71", "instagram": "81"}[self.channel]
        return f"{prefix}{self.number:08d}"

    @property
    def orders(self) -> bool:
        return self.steps == len(self.script.steps)


def plan_conversations(
    count: int,
    order_every: int,
    second_turn_every: int,
    scripts: Sequence[Script],
    first: int = 0,
) -> list[Plan]:
    """Conversation ``i``: the whole script (to an order) every ``order_every``-th, else
    the search, and every ``second_turn_every``-th also the next step (a pick)."""
    plans = []
    for i in range(count):
        n = first + i
        script = scripts[(n // len(CHANNELS)) % len(scripts)]
        ordering = order_every > 0 and i % order_every == order_every // 2
        second = second_turn_every > 0 and i % second_turn_every == second_turn_every - 1
        steps = len(script.steps) if ordering else 1 + second
        plans.append(Plan(n, CHANNELS[n % len(CHANNELS)], script, steps))
    return plans


class Replies:
    """Counts the reply bodies each customer has received (all three fakes report here)
    and wakes the customer waiting for the end of a turn."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.waiting: dict[str, tuple[int, asyncio.Future[float]]] = {}
        self.out = 0  # bodies accepted so far
        self.unwaited = 0  # bodies that arrived when their customer waited for none

    def expect(self, customer: str, count: int) -> asyncio.Future[float]:
        """A future resolved (with the arrival time) once ``customer`` has ``count``
        more bodies than now."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[customer] = (self.received[customer] + count, future)
        return future

    def arrived(self, customer: str) -> None:
        self.out += 1
        self.received[customer] += 1
        entry = self.waiting.get(customer)
        if entry is None:
            self.unwaited += 1
            return
        target, future = entry
        if self.received[customer] >= target:
            del self.waiting[customer]
            if not future.done():
                future.set_result(time.perf_counter())

    def middleware(self) -> Any:
        from aiohttp import web

        @web.middleware
        async def count(request: web.Request, handler: Any) -> web.StreamResponse:
            response = await handler(request)
            if request.method == "POST" and request.path.endswith("/messages"):
                if response.status == 200:
                    body = await request.json()
                    customer = _reply_recipient(body)
                    if customer:
                        self.arrived(customer)
            return response

        return count


def _reply_recipient(body: Any) -> str | None:
    """The customer a reply body goes to; ``None`` for receipts and sender actions."""
    if not isinstance(body, dict):
        return None
    if body.get("messaging_product") == "whatsapp":
        return str(body.get("to") or body.get("recipient")) if "type" in body else None
    if "message" in body:
        return str(body["recipient"]["id"])
    return None


class Fakes:
    """The outside world: the fake Graph hosts and the webhook emitters."""

    def __init__(self, replies: Replies) -> None:
        from tests.fakes import graph_whatsapp as wa
        from tests.fakes.graph import FakeGraph

        self.replies = replies
        self.facebook = FakeGraph("facebook")
        self.instagram = FakeGraph("instagram")
        self.whatsapp = wa.install_whatsapp(self.facebook)
        for graph in (self.facebook, self.instagram):
            graph.app.middlewares.insert(0, replies.middleware())
        self.number: Any = None
        self.emitters: dict[str, Any] = {}
        self.http: Any = None

    async def start(self) -> None:
        await self.facebook.start()
        await self.instagram.start()
        self.number = self.whatsapp.add_number(PHONE_NUMBER_ID, TOKENS["wa"])
        self.facebook.add_account(PAGE_ID, TOKENS["fb"])
        self.instagram.add_account(IG_ACCOUNT_ID, TOKENS["ig"])

    def env(self) -> dict[str, str]:
        return {
            "TENDERO_GRAPH_API_URL": self.facebook.url,
            "TENDERO_INSTAGRAM_GRAPH_API_URL": self.instagram.url,
            "TENDERO_WHATSAPP_APP_SECRET": SECRETS["whatsapp"],
            "TENDERO_WHATSAPP_VERIFY_TOKEN": "soak-verify",
            "TENDERO_WHATSAPP_ACCESS_TOKEN": TOKENS["wa"],
            "TENDERO_WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
            "TENDERO_FACEBOOK_APP_SECRET": SECRETS["facebook"],
            "TENDERO_FACEBOOK_VERIFY_TOKEN": "soak-verify",
            "TENDERO_FACEBOOK_PAGE_ACCESS_TOKEN": TOKENS["fb"],
            "TENDERO_FACEBOOK_PAGE_ID": PAGE_ID,
            "TENDERO_INSTAGRAM_APP_SECRET": SECRETS["instagram"],
            "TENDERO_INSTAGRAM_VERIFY_TOKEN": "soak-verify",
            "TENDERO_INSTAGRAM_ACCESS_TOKEN": TOKENS["ig"],
            "TENDERO_INSTAGRAM_ACCOUNT_ID": IG_ACCOUNT_ID,
        }

    async def connect(self, port: int) -> None:
        import aiohttp

        from tests.fakes import webhooks as wh

        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        for name in CHANNELS:
            url = f"http://127.0.0.1:{port}/webhooks/{name}"
            self.emitters[name] = wh.MetaWebhookEmitter(url, SECRETS[name], http=self.http)

    def forget_sent(self) -> None:
        """The fakes keep every accepted call; the counts live in ``Replies``, so drop
        them now and then (a long run would otherwise grow this process, not the server)."""
        for graph in (self.facebook, self.instagram):
            graph.sent.clear()
            graph.attempts.clear()
        self.whatsapp.read_receipts.clear()

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
        await self.instagram.stop()
        await self.facebook.stop()

    async def send(self, plan: Plan, text: str, choice: str | None) -> int:
        """The customer's message as the channel's webhook; the HTTP status."""
        from tests.fakes import graph_whatsapp as wa
        from tests.fakes import webhooks as wh

        customer = plan.customer
        if plan.channel == "whatsapp":
            if choice is None:
                message = wa.text_message(customer, text)
            else:
                message = {
                    "from": customer,
                    "id": wa.new_wamid(),
                    "timestamp": str(int(time.time())),
                    "type": "interactive",
                    "interactive": {
                        "type": "list_reply",
                        "list_reply": {"id": choice, "title": text},
                    },
                }
            self.whatsapp.inbound(PHONE_NUMBER_ID, customer, message["id"])
            payload = wa.delivery(
                wa.change(
                    self.number,
                    messages=[message],
                    contacts=[wa.contact(customer, f"Cliente {plan.number}")],
                )
            )
        else:
            graph, account, kind = (
                (self.facebook, PAGE_ID, "page")
                if plan.channel == "facebook"
                else (self.instagram, IG_ACCOUNT_ID, "instagram")
            )
            graph.add_user(account, customer)
            event = wh.text_event(customer, account, text, quick_reply=choice)
            payload = wh.delivery(kind, wh.entry(account, [event]))
        status, _body = await self.emitters[plan.channel].send(payload)
        return int(status)


# --- the server's side ---------------------------------------------------------------------


class Store:
    """Read-only counts from the server's SQLite file (WAL: never blocks the server)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)

    def scalar(self, sql: str) -> int:
        return int(self.conn.execute(sql).fetchone()[0] or 0)

    def by_status(self, table: str) -> dict[str, int]:
        rows = self.conn.execute(f"SELECT status, count(*) FROM {table} GROUP BY status")
        return {status: count for status, count in rows}

    def backlog(self) -> tuple[int, int]:
        """(inbox rows not yet turned, outbox rows not yet sent)."""
        inbox = self.scalar("SELECT count(*) FROM inbox_events WHERE status = 'pending'")
        outbox = self.scalar(
            "SELECT count(*) FROM outbox_messages WHERE status IN ('pending', 'sending')"
        )
        return inbox, outbox

    def orders(self) -> int:
        return self.scalar("SELECT count(*) FROM orders")

    def sku_ids(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT sku, id FROM products WHERE sku IS NOT NULL"))

    def close(self) -> None:
        self.conn.close()


async def drained(store: Store, replies: Replies, *, quiet: float, within: float) -> bool:
    """Wait until nothing is left to turn or send and no body arrived for ``quiet``
    seconds; ``False`` when that did not happen within ``within`` seconds."""
    deadline = time.monotonic() + within
    last_out, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        if replies.out != last_out:
            last_out, quiet_since = replies.out, time.monotonic()
        if store.backlog() == (0, 0) and time.monotonic() - quiet_since >= quiet:
            return True
        await asyncio.sleep(0.1)
    return False


# --- the run -------------------------------------------------------------------------------


@dataclass
class Turn:
    finished: float  # perf_counter
    latency: float  # webhook POST -> last reply body accepted


@dataclass
class Run:
    turns: list[Turn] = field(default_factory=list)
    messages_in: int = 0
    expected: Counter[str] = field(default_factory=Counter)  # customer -> bodies due
    failures: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    ordering_done: int = 0


async def calibrate(
    fakes: Fakes, store: Store, sku_ids: dict[str, int], scripts: Sequence[Script]
) -> dict[Any, list[int]]:
    """Reply bodies per step for every (channel, script): every script on every channel,
    in lock step, each step ending when the server has nothing left to do."""
    replies = fakes.replies
    plans = [
        Plan(90_000_000 + i, channel, script, len(script.steps))
        for i, (channel, script) in enumerate(
            (channel, script) for channel in CHANNELS for script in scripts
        )
    ]
    counts: dict[Any, list[int]] = {(p.channel, p.script.name): [] for p in plans}
    for index in range(max(len(s.steps) for s in scripts)):
        active = [p for p in plans if index < p.steps]
        before = {p.customer: replies.received[p.customer] for p in active}
        statuses = await asyncio.gather(
            *(fakes.send(p, *step_input(p.script.steps[index], p.number, sku_ids)) for p in active)
        )
        if any(status != 200 for status in statuses):
            raise SystemExit(f"calibration: webhook answered {statuses}")
        if not await drained(store, replies, quiet=0.5, within=120):
            raise SystemExit("calibration: the server did not finish the step within 120 s")
        for p in active:
            got = replies.received[p.customer] - before[p.customer]
            if got == 0:
                raise SystemExit(f"calibration: no reply for {p.channel} {p.script.name} #{index}")
            counts[(p.channel, p.script.name)].append(got)
    return counts


async def converse(
    plan: Plan,
    fakes: Fakes,
    counts: dict[Any, list[int]],
    sku_ids: dict[str, int],
    run: Run,
    args: argparse.Namespace,
) -> None:
    replies = fakes.replies
    due = counts[(plan.channel, plan.script.name)]
    run.in_flight += 1
    try:
        for index in range(plan.steps):
            if index:
                await asyncio.sleep(args.think)
            step: Step = plan.script.steps[index]
            text, choice = step_input(step, plan.number, sku_ids)
            waiting = replies.expect(plan.customer, due[index])
            run.expected[plan.customer] += due[index]
            started = time.perf_counter()
            run.messages_in += 1
            try:
                status = await fakes.send(plan, text, choice)
            except Exception as error:  # the server is gone or refused the connection
                run.failures[f"webhook {type(error).__name__}"] += 1
                replies.waiting.pop(plan.customer, None)
                return
            if status != 200:
                run.failures[f"webhook {status}"] += 1
                replies.waiting.pop(plan.customer, None)
                return
            try:
                last = await asyncio.wait_for(waiting, args.reply_timeout)
            except TimeoutError:
                run.failures["reply timeout"] += 1
                replies.waiting.pop(plan.customer, None)
                return
            run.turns.append(Turn(last, last - started))
        if plan.orders:
            run.ordering_done += 1
    finally:
        run.in_flight -= 1


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 60


async def sampler(
    *,
    pid: int,
    run: Run,
    fakes: Fakes,
    store: Store,
    every: float,
    started: float,
    stop: asyncio.Event,
    series: list[dict[str, Any]],
) -> None:
    last_turns, last_in, last_out = 0, 0, 0
    last_cpu, last_at = cpu_seconds(pid), time.perf_counter()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass
        now = time.perf_counter()
        window = [t.latency for t in run.turns[last_turns:]]
        inbox, outbox = store.backlog()
        try:
            cpu, rss = cpu_seconds(pid), rss_kb(pid)
        except (FileNotFoundError, ProcessLookupError):
            run.failures["server exited"] += 1  # the checks fail; the customers time out
            return
        sample = {
            "t": round(now - started, 1),
            "rss_mb": round(rss / 1024, 1),
            "cpu_percent": round(100 * (cpu - last_cpu) / max(now - last_at, 1e-9), 1),
            "turns": len(window),
            "p50_ms": ms(percentile(window, 50)),
            "p99_ms": ms(percentile(window, 99)),
            "messages_in": run.messages_in - last_in,
            "bodies_out": fakes.replies.out - last_out,
            "inbox_backlog": inbox,
            "outbox_backlog": outbox,
            "conversations_in_flight": run.in_flight,
        }
        series.append(sample)
        log(
            f"  {sample['t']:>7.1f} s  RSS {sample['rss_mb']:>6.1f} MB  "
            f"CPU {sample['cpu_percent']:>5.1f} %  turns {sample['turns']:>5}  "
            f"p50 {sample['p50_ms']} ms  p99 {sample['p99_ms']} ms  "
            f"in {sample['messages_in']:>5}  out {sample['bodies_out']:>5}  "
            f"backlog {inbox}/{outbox}  in flight {run.in_flight}"
        )
        last_turns, last_in, last_out = len(run.turns), run.messages_in, fakes.replies.out
        last_cpu, last_at = cpu, now
        fakes.forget_sent()


async def soak(data_dir: Path, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    replies = Replies()
    fakes = Fakes(replies)
    await fakes.start()
    store: Store | None = None
    port = free_port()
    env = (
        clean_env()
        | {
            "TENDERO_DATA_DIR": str(data_dir),
            "TENDERO_LOG_LEVEL": "warning",
        }
        | fakes.env()
    )
    proc = await asyncio.create_subprocess_exec(
        str(TENDERO),
        "serve",
        "--port",
        str(port),
        env=env,
        cwd=data_dir.parent,
        stdout=sys.stderr,
        stderr=sys.stderr,
    )
    figures: dict[str, Any] = {}
    series: list[dict[str, Any]] = []
    try:
        await wait_listening(port, proc)
        await fakes.connect(port)
        store = Store(data_dir / "tendero.db")
        sku_ids = store.sku_ids()

        started = time.perf_counter()
        scripts = SCRIPTS[: args.scripts]
        counts = await calibrate(fakes, store, sku_ids, scripts)
        log(f"calibration ({time.perf_counter() - started:.1f} s): reply bodies per step")
        for (channel, script), per_step in counts.items():
            log(f"  {channel:<10} {script:<22} {per_step}")
        orders_before = store.orders()
        replies.unwaited = 0  # the calibration's bodies were counted, not waited for
        rss_start = rss_kb(proc.pid) / 1024

        plans = plan_conversations(
            args.conversations, args.order_every, args.second_turn_every, scripts
        )
        seconds = args.minutes * 60
        rate = args.conversations / seconds
        turns_due = sum(p.steps for p in plans)
        log(
            f"\nload: {args.conversations} conversations over {seconds:.0f} s "
            f"({rate:.2f}/s), {turns_due} turns ({turns_due / seconds:.1f}/s offered), "
            f"{sum(p.orders for p in plans)} ordering; think {args.think} s"
        )
        run = Run()
        stop = asyncio.Event()
        began = time.perf_counter()
        watcher = asyncio.create_task(
            sampler(
                pid=proc.pid,
                run=run,
                fakes=fakes,
                store=store,
                every=args.sample_every,
                started=began,
                stop=stop,
                series=series,
            )
        )
        cpu_before = cpu_seconds(proc.pid)
        tasks = []
        late = 0.0
        for i, plan in enumerate(plans):
            due = began + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late = max(late, -delay)
            tasks.append(asyncio.create_task(converse(plan, fakes, counts, sku_ids, run, args)))
        offered_for = time.perf_counter() - began
        await asyncio.gather(*tasks)
        load_ended = time.perf_counter()
        was_drained = await drained(store, replies, quiet=3.0, within=args.drain_timeout)
        stop.set()
        await watcher
        cpu_used = cpu_seconds(proc.pid) - cpu_before
        wall = load_ended - began

        # --- verdicts ---
        received = {p.customer: replies.received[p.customer] for p in plans}
        lost = sum(max(0, run.expected[c] - got) for c, got in received.items())
        duplicated = sum(max(0, got - run.expected[c]) for c, got in received.items())
        inbox = store.by_status("inbox_events")
        outbox = store.by_status("outbox_messages")
        calibration_in = sum(len(s.steps) for s in scripts) * len(CHANNELS)
        inbox_rows = sum(inbox.values()) - calibration_in
        orders = store.orders() - orders_before
        ordering = sum(p.orders for p in plans)

        half = [(s["t"], s["rss_mb"]) for s in series if s["t"] >= seconds / 2 and s["t"] <= wall]
        slope = slope_per_minute(half)
        latencies = [(t.finished - began, t.latency) for t in run.turns]
        first = [lat for at, lat in latencies if at < wall / 3]
        last = [lat for at, lat in latencies if at >= 2 * wall / 3]
        p99_first, p99_last = percentile(first, 99), percentile(last, 99)
        all_lat = [lat for _, lat in latencies]

        checks = {
            "every message answered (none lost)": lost == 0 and not run.failures,
            "no duplicate reply": duplicated == 0,
            "inbox: one row per message, all done": inbox_rows == run.messages_in
            and set(inbox) <= {"done"},
            "outbox: all sent": set(outbox) <= {"sent"},
            "orders = ordering conversations": orders == ordering == run.ordering_done,
            "backlogs drained": was_drained,
            f"RSS slope <= {args.max_rss_slope} MB/min": slope <= args.max_rss_slope,
            f"p99 last third <= {args.max_p99_growth} x first third + {args.p99_slack} s": (
                not math.isnan(p99_first)
                and p99_last <= args.max_p99_growth * p99_first + args.p99_slack
            ),
        }
        figures = {
            "engine": "SQLite",
            "channels": len(CHANNELS),
            "conversations": args.conversations,
            "ordering_conversations": ordering,
            "seconds": round(wall, 1),
            "offered_conversations_per_s": round(rate, 2),
            "offered_turns_per_s": round(turns_due / seconds, 1),
            "start_lag_max_s": round(late, 2),
            "offered_for_s": round(offered_for, 1),
            "turns": len(run.turns),
            "turns_per_s": round(len(run.turns) / wall, 1),
            "messages_in": run.messages_in,
            "bodies_out": sum(received.values()),
            "lost": lost,
            "duplicated": duplicated,
            "failures": dict(run.failures),
            "unwaited_bodies": replies.unwaited,
            "inbox_rows": inbox_rows,
            "inbox_by_status": inbox,
            "outbox_by_status": outbox,
            "orders_created": orders,
            "p50_ms": ms(percentile(all_lat, 50)),
            "p99_ms": ms(percentile(all_lat, 99)),
            "max_ms": ms(max(all_lat) if all_lat else float("nan")),
            "p99_first_third_ms": ms(p99_first),
            "p99_last_third_ms": ms(p99_last),
            "rss_start_mb": round(rss_start, 1),
            "rss_end_mb": series[-1]["rss_mb"] if series else None,
            "rss_max_mb": max((s["rss_mb"] for s in series), default=None),
            "rss_slope_second_half_mb_per_min": round(slope, 2),
            "server_cpu_ms_per_turn": ms(cpu_used / max(len(run.turns), 1)),
            "load_average_end": load_average(),
            "passed": all(checks.values()),
        }
        return figures | {"checks": checks}, {"series": series, "counts": _jsonable(counts)}
    finally:
        if store is not None:
            store.close()
        if proc.returncode is None:
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        await fakes.close()


def _jsonable(counts: dict[Any, list[int]]) -> dict[str, list[int]]:
    return {f"{channel}/{script}": per_step for (channel, script), per_step in counts.items()}


def print_table(figures: dict[str, Any]) -> None:
    log("\nsoak figures")
    for label, value in figures.items():
        if label != "checks":
            log(f"  {label:<36} {value}")
    log("checks")
    for label, ok in figures["checks"].items():
        log(f"  {'PASS' if ok else 'FAIL'}  {label}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--order-every", type=int, default=50, help="every Nth conversation orders (0: none)"
    )
    parser.add_argument(
        "--second-turn-every",
        type=int,
        default=3,
        help="every Nth other conversation has a second turn (0: none)",
    )
    parser.add_argument("--think", type=float, default=1.0, help="seconds between turns")
    parser.add_argument("--sample-every", type=float, default=5.0)
    parser.add_argument("--max-rss-slope", type=float, default=2.0, help="MB/min, second half")
    parser.add_argument("--max-p99-growth", type=float, default=2.0)
    parser.add_argument(
        "--p99-slack", type=float, default=0.1, help="seconds the last third's p99 may add"
    )
    parser.add_argument("--reply-timeout", type=float, default=60.0)
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    parser.add_argument(
        "--scripts", type=int, default=len(SCRIPTS), help="use the first N scripts (of 8)"
    )
    parser.add_argument("--results", metavar="DIR", default=str(RESULTS))
    parser.add_argument("--keep", metavar="DIR", help="use (and keep) this empty data folder")
    args = parser.parse_args()
    if not 1 <= args.scripts <= len(SCRIPTS):
        parser.error(f"--scripts must be between 1 and {len(SCRIPTS)}")
    if args.conversations < 1 or args.minutes <= 0:
        parser.error("--conversations and --minutes must be positive")

    sys.path.insert(0, str(REPO))
    log(f"soak: load average at start {load_average()}")
    with tempfile.TemporaryDirectory(prefix="tendero-soak-") as tmp:
        if args.keep:
            data_dir = Path(args.keep).resolve()
            data_dir.mkdir(parents=True, exist_ok=True)
            target = create_target(Path(tmp), None)
            target.data_dir = data_dir
        else:
            target = create_target(Path(tmp), None)
            data_dir = target.data_dir
        load_demo_store(target)
        asyncio.run(restock(target))
        figures, extra = asyncio.run(soak(data_dir, args))
    print_table(figures)
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = results / f"soak-{stamp}.json"
    out.write_text(json.dumps({"figures": figures, "args": vars(args)} | extra, indent=1) + "\n")
    log(f"time series written to {out}")
    print(json.dumps({"benchmark": "soak", "figures": figures}))
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
