"""Two real ``tendero serve`` processes on one PostgreSQL database (issue 6, scale-out).

WhatsApp deliveries, signed as Meta signs them, are sprayed over both processes — the
messages of one conversation alternate between them — and the replies go to the fake
Graph API running in the test. The turns are answered by the real agent runner and the
real PostgreSQL checkpointer with a counting echo graph in place of the agent's
(``tests/plugins/tendero_sample_echo_graph.py``, loaded through an entry point): a reply
``"<text> #n"`` says how many messages the conversation's checkpoint had seen, so a turn
that ran beside another one of its conversation, or a lost checkpoint, shows as a
repeated or skipped ``n``; the graph also logs when each turn ran, in which process.

Phase 1 shows exactly-once, in-order answers with two processes sharing every
conversation, and that no conversation ever had two turns at once. Phase 2 SIGKILLs one
process mid-load and shows the survivor finishes everything, losing nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from tendero.app import PIPELINE
from tendero.channels.base import OutboundMessage
from tendero.conversations.outbox import enqueue
from tendero.db import Database
from tendero.db.locks import OUTBOX, TURNS, ConversationLocks
from tendero.db.models import InboxEvent, Message, OutboxMessage
from tendero.db.types import utcnow
from tendero.settings import Settings

from tests.channels.e2e import Channel, meta_channel
from tests.conftest import CLI, ROOT, TENDERO_BIN, fresh_postgres_database
from tests.fakes import webhooks as wh
from tests.test_plugins import install_distribution
from tests.test_serve import free_port

CONVERSATIONS = 30
MESSAGES_PER_PHASE = 5  # per conversation
SETTLE_TIMEOUT = 40.0


@pytest.fixture(scope="module")
def mp_database_url() -> Iterator[str]:
    """A PostgreSQL database of this module's own (the processes share it)."""
    with fresh_postgres_database("tendero_mp") as url:
        yield url


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/whatsapp"

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def server_env(channel: Channel, tmp_path: Path, database_url: str) -> dict[str, str]:
    """What every process of the deployment shares: database, secret key, data folder,
    channel credentials; plus the echo-graph plugin on the path as an installed plugin."""
    site = tmp_path / "site"
    install_distribution(
        site, "tendero-sample-echo-graph", "1.0", {"zz-echo-graph": "tendero_sample_echo_graph"}
    )
    s = channel.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENDERO_")}
    return env | {
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT / "tests" / "plugins")]),
        "TENDERO_DATA_DIR": str(tmp_path / "data"),
        "TENDERO_DATABASE_URL": database_url,
        "TENDERO_SECRET_KEY": "multi-process-test-secret-key-0123456789",
        "TENDERO_GRAPH_API_URL": s.graph_api_url,
        "TENDERO_WHATSAPP_APP_SECRET": s.whatsapp_app_secret,
        "TENDERO_WHATSAPP_VERIFY_TOKEN": s.whatsapp_verify_token,
        "TENDERO_WHATSAPP_ACCESS_TOKEN": s.whatsapp_access_token,
        "TENDERO_WHATSAPP_PHONE_NUMBER_ID": s.whatsapp_phone_number_id,
        "TENDERO_LOG_LEVEL": "warning",
        "TENDERO_SAMPLE_TURN_LOG": str(tmp_path / "turns.log"),
        "TENDERO_SAMPLE_ECHO_DELAY": "0.03",
    }


def start_server(name: str, env: dict[str, str], tmp_path: Path) -> Server:
    port = free_port()
    log = tmp_path / f"serve-{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(TENDERO_BIN), "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(name, port, proc, log)


def wait_healthy(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"tendero serve {server.name} exited:\n{server.tail()}")
        try:
            url = f"http://127.0.0.1:{server.port}/healthz"
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"tendero serve {server.name} did not answer:\n{server.tail()}")


@pytest.fixture
def servers(tmp_path: Path, mp_database_url: str) -> Iterator[tuple[list[Server], dict[str, str]]]:
    started: list[Server] = []
    holder: dict[str, str] = {}
    yield started, holder
    for server in started:
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGTERM)
    for server in started:
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


class Load:
    """Conversations sprayed over the servers; each conversation's messages are sent
    one after another (so the inbox order is the order sent), alternating servers."""

    def __init__(self, channel: Channel, emitters: dict[str, wh.MetaWebhookEmitter]) -> None:
        self.channel = channel
        self.emitters = emitters
        self.down: set[str] = set()
        self.sent: dict[str, list[str]] = defaultdict(list)  # customer → texts, in order
        self.posted = 0
        self.kill_at: int | None = None
        self.kill_now = asyncio.Event()
        self.customers = [channel.customer(n) for n in range(CONVERSATIONS)]

    async def conversation(self, c: int, phase: int) -> None:
        customer = self.customers[c]
        names = list(self.emitters)
        for k in range(MESSAGES_PER_PHASE):
            text = f"c{c}-p{phase}-m{k}"
            payload = self.channel.delivery([self.channel.text(customer, text)])
            first = names[(c + k) % len(names)]
            # A load balancer sends to the servers that answer; so do we.
            for name in [first, *(n for n in names if n != first)]:
                if name in self.down:
                    continue
                try:
                    status, body = await self.emitters[name].send(payload)
                except (OSError, aiohttp.ClientError):
                    # The process was killed: Meta redelivers (to the load balancer, which
                    # picks the other one); if the first one had stored it, a no-op.
                    self.down.add(name)
                    continue
                assert status == 200, body
                break
            else:
                raise AssertionError("no server took the delivery")
            self.sent[customer].append(text)
            self.posted += 1
            if self.posted == self.kill_at:
                self.kill_now.set()

    async def phase(self, phase: int) -> None:
        await asyncio.gather(*(self.conversation(c, phase) for c in range(CONVERSATIONS)))

    def expected(self, customer: str) -> list[str]:
        return [f"{text} #{i}" for i, text in enumerate(self.sent[customer], start=1)]

    def answered(self, customer: str) -> list[str]:
        """Reply texts the customer got, a resend of the same message counted once."""
        texts: list[str] = []
        for reply in self.channel.replies_to(customer):
            text = self.channel.reply_text(reply)
            if not texts or texts[-1] != text:
                texts.append(text)
        return texts

    def delivered(self) -> int:
        return sum(len(self.channel.replies_to(c)) for c in self.customers)

    def all_answered(self) -> bool:
        return all(len(self.answered(c)) >= len(self.sent[c]) for c in self.customers)


async def settled(db: Database) -> bool:
    async with db.read_session() as session:
        inbox = await session.scalar(
            sa.select(sa.func.count()).where(InboxEvent.status == "pending")
        )
        outbox = await session.scalar(
            sa.select(sa.func.count()).where(OutboxMessage.status.in_(("pending", "sending")))
        )
    return inbox == 0 and outbox == 0


async def wait_settled(load: Load, db: Database, servers: list[Server]) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not (load.all_answered() and await settled(db)):
        if time.monotonic() > deadline:
            missing = {c: load.answered(c)[-1:] for c in load.customers if not load.all_answered()}
            logs = "\n".join(f"--- {s.name}\n{s.tail()}" for s in servers)
            raise AssertionError(f"not everything answered in time: {missing}\n{logs}")
        await asyncio.sleep(0.1)


class LockSpy:
    """Samples ``pg_locks``: which processes held turn locks, and on what."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pids: set[int] = set()
        self.max_held = 0
        self.locked_twice: list[int] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        query = sa.text(
            "SELECT pid, objid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid::bigint = :classid AND objsubid = 2 AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        while True:
            async with self.db.read_session() as session:
                rows = (await session.execute(query, {"classid": TURNS})).all()
            held = [objid for _, objid in rows]
            if len(held) != len(set(held)):
                self.locked_twice.append(len(held))
            self.pids |= {pid for pid, _ in rows}
            self.max_held = max(self.max_held, len(held))
            await asyncio.sleep(0.02)

    async def __aenter__(self) -> LockSpy:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def turn_log(path: Path) -> dict[str, list[tuple[int, float, float]]]:
    turns: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        thread, pid, start, end = line.split()
        turns[thread].append((int(pid), float(start), float(end)))
    return turns


def assert_no_overlap(turns: dict[str, list[tuple[int, float, float]]]) -> None:
    for thread, runs in turns.items():
        runs = sorted(runs, key=lambda r: r[1])
        for before, after in itertools.pairwise(runs):
            assert after[1] >= before[2], f"conversation {thread}: two turns at once {runs}"


async def reply_counts(db: Database) -> tuple[int, int, int]:
    """(inbound messages, agent replies stored, inbox rows done)."""
    async with db.read_session() as session:
        inbound = await session.scalar(sa.select(sa.func.count()).where(Message.direction == "in"))
        replies = await session.scalar(sa.select(sa.func.count()).where(Message.direction == "out"))
        done = await session.scalar(sa.select(sa.func.count()).where(InboxEvent.status == "done"))
    return int(inbound or 0), int(replies or 0), int(done or 0)


async def test_two_serve_processes_share_the_inbox_and_survive_a_kill(
    tmp_path: Path, mp_database_url: str, servers: tuple[list[Server], dict[str, str]]
) -> None:
    started_at = time.monotonic()
    running, _ = servers
    base = Settings(data_dir=tmp_path / "data", database_url=mp_database_url, _env_file=None)  # type: ignore[call-arg]
    db = Database(mp_database_url, pool_size=2)
    before = await reply_counts(db)  # the module's other tests share the database
    async with meta_channel("whatsapp", base) as channel:
        env = server_env(channel, tmp_path, mp_database_url)
        running.extend([start_server("a", env, tmp_path), start_server("b", env, tmp_path)])
        await asyncio.gather(*(asyncio.to_thread(wait_healthy, s) for s in running))
        a, b = running
        async with (
            wh.MetaWebhookEmitter(a.webhook, channel.secret) as to_a,
            wh.MetaWebhookEmitter(b.webhook, channel.secret) as to_b,
        ):
            load = Load(channel, {"a": to_a, "b": to_b})

            # Phase 1: both processes take every conversation's messages.
            async with LockSpy(db) as spy:
                await load.phase(1)
                await wait_settled(load, db, running)
            phase1 = time.monotonic() - started_at
            for customer in load.customers:
                assert load.answered(customer) == load.expected(customer)
            assert load.delivered() == CONVERSATIONS * MESSAGES_PER_PHASE  # no resend at all
            phase1_turns = turn_log(tmp_path / "turns.log")
            assert_no_overlap(phase1_turns)
            # Both processes ran turns, holding the conversations' turn locks.
            assert len({pid for runs in phase1_turns.values() for pid, _, _ in runs}) == 2
            assert spy.pids  # PostgreSQL showed turn locks held while they ran
            assert not spy.locked_twice

            # Phase 2: SIGKILL process a while both are busy; b finishes its work.
            sending_at_kill = 0

            async def kill_midway() -> None:
                nonlocal sending_at_kill
                await load.kill_now.wait()
                a.proc.send_signal(signal.SIGKILL)
                a.proc.wait()
                load.down.add("a")
                async with db.read_session() as session:  # what a may have half-sent
                    sending_at_kill = int(
                        await session.scalar(
                            sa.select(sa.func.count()).where(OutboxMessage.status == "sending")
                        )
                        or 0
                    )

            load.kill_at = load.posted + CONVERSATIONS * MESSAGES_PER_PHASE * 2 // 5
            phase2_started = time.monotonic()
            await asyncio.gather(load.phase(2), kill_midway())
            assert a.proc.returncode == -signal.SIGKILL
            await wait_settled(load, db, running)
            phase2 = time.monotonic() - phase2_started

    try:
        total = CONVERSATIONS * MESSAGES_PER_PHASE * 2
        after = await reply_counts(db)
        # Every message stored once, answered exactly once (one reply per turn)...
        assert tuple(n - m for n, m in zip(after, before, strict=True)) == (total, total, total)
        # ...in order, from a conversation state that saw every earlier message.
        for customer in load.customers:
            assert load.answered(customer) == load.expected(customer)
        # A send cut off by the kill may reach the customer again (at least once).
        resent = load.delivered() - total
        assert 0 <= resent <= sending_at_kill
        turns = turn_log(tmp_path / "turns.log")
        assert_no_overlap(turns)
        by_pid: dict[int, int] = defaultdict(int)
        for runs in turns.values():
            for pid, _, _ in runs:
                by_pid[pid] += 1
        assert len(by_pid) == 2 and all(by_pid.values())
        assert b.proc.poll() is None  # the survivor is still serving
        print(
            f"\n{total} messages, {CONVERSATIONS} conversations, 2 processes: phase 1 "
            f"(startup + {total // 2} messages) {phase1:.1f} s, phase 2 with a kill "
            f"{phase2:.1f} s; turns per process {dict(by_pid)}; turn locks seen at once "
            f"up to {spy.max_held}; resent after the kill {resent} (of {sending_at_kill} "
            "in flight)"
        )
    finally:
        await db.dispose()


# --- tendero serve --workers N ---------------------------------------------------------


def workers_of(parent: int) -> set[int]:
    """The server processes ``serve --workers`` started (its spawned children)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in cmdline:
            found.add(int(stat.parent.name))
    return found


def test_workers_need_postgresql(sqlite_cli: CLI) -> None:
    result = sqlite_cli("serve", "--workers", "2", timeout=60)
    assert result.returncode == 2
    assert "needs PostgreSQL" in result.stderr


def test_serve_workers_share_the_port_restart_a_dead_one_and_stop(
    tmp_path: Path, mp_database_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENDERO_")} | {
        "TENDERO_DATA_DIR": str(tmp_path / "data"),
        "TENDERO_DATABASE_URL": mp_database_url,
    }
    port = free_port()
    log = tmp_path / "serve-workers.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(TENDERO_BIN), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server("workers", port, proc, log)
    try:
        wait_healthy(server)
        deadline = time.monotonic() + 30
        while len(workers := workers_of(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) == 2, server.tail()
        text = log.read_text()
        # Migrated, linked and sized once, by the supervisor.
        assert text.count("/orders") == 1 and text.count("/setup?token=") == 1
        assert "2 workers, database pool" in text
        # A worker that dies is reported and replaced; the port keeps answering.
        dead = min(workers)
        os.kill(dead, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = workers_of(proc.pid)
            if len(now) == 2 and dead not in now:
                break
            time.sleep(0.2)
        assert dead not in now and len(now) == 2, server.tail()
        assert f"(pid {dead}) exited with status -9; starting it again" in log.read_text()
        wait_healthy(server)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, server.tail()
        assert not workers_of(proc.pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- the sender across processes ---------------------------------------------------------


async def test_a_send_left_by_a_dead_process_goes_out_once_its_lock_is_free(
    tmp_path: Path, mp_database_url: str
) -> None:
    """A ``sending`` row whose lease ran out is sent again — but not while another
    process (here: a session holding the conversation's outbox lock) may be sending it."""
    base = Settings(data_dir=tmp_path / "data", database_url=mp_database_url, _env_file=None)  # type: ignore[call-arg]
    other_process = ConversationLocks(mp_database_url, OUTBOX)
    try:
        async with meta_channel("whatsapp", base) as channel, channel.running() as live:
            customer = channel.customer(900)
            status, _ = await live.emitter.send(channel.delivery([channel.text(customer, "hola")]))
            assert status == 200
            await wh.wait_for(lambda: len(channel.replies_to(customer)) == 1)
            async with live.db.session() as session:
                conversation_id = await session.scalar(
                    sa.select(OutboxMessage.conversation_id).where(
                        OutboxMessage.body["recipient_id"].as_string() == customer
                    )
                )
                assert conversation_id is not None
                # "The other process" holds the conversation, as while it sends.
                deadline = time.monotonic() + 10
                while not await other_process.try_acquire(conversation_id):
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.01)
                row = await enqueue(
                    session,
                    conversation_id,
                    OutboundMessage(channel="whatsapp", recipient_id=customer, text="half-sent"),
                    utcnow(),
                )
                await session.flush()
                await session.execute(
                    sa.update(OutboxMessage)
                    .where(OutboxMessage.message_id == row.id)
                    .values(status="sending", next_attempt_at=utcnow() - timedelta(seconds=1))
                )
            live.app[PIPELINE].sender.wake()
            await asyncio.sleep(1.0)  # the sender polls every 0.05 s here
            assert len(channel.replies_to(customer)) == 1  # not while it may be in flight
            await other_process.release(conversation_id)
            await wh.wait_for(lambda: len(channel.replies_to(customer)) == 2)
            assert channel.reply_text(channel.replies_to(customer)[-1]) == "half-sent"
            sent = await live.rows(OutboxMessage, OutboxMessage.message_id == row.id)
            assert [r.status for r in sent] == ["sent"]
    finally:
        await other_process.close()
