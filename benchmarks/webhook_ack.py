"""Webhook acknowledgement: throughput and latency of ``POST /webhooks/{channel}``.

Starts two servers as processes on 127.0.0.1, one after the other, and drives each with
the same bounded load from an aiohttp client (``--requests`` requests at
``--concurrency`` in flight, at most ``--seconds`` each):

* ``app``: the real Tendero app (``create_app``, as ``tendero serve`` builds it) on a
  fresh SQLite database, with a generic signed channel (HMAC-SHA256 over the raw body,
  a ~1 KB WhatsApp-like delivery). Every request runs the real ingress: signature check,
  parse, lead + conversation get-or-create, inbox insert, transcript message; the
  dispatcher and sender run the acknowledgement turns in the same process meanwhile.
* ``baseline``: a minimal aiohttp handler doing HMAC check + orjson parse + one SQLite
  WAL insert (the floor measured in shared/reference/performance-notes.md §2).

Figures go to stderr; the last stdout line is the JSON ``benchmarks/run.py`` expects.
Usage: ``python benchmarks/webhook_ack.py [--requests N] [--concurrency C] [--seconds S]
[--rate R]`` (``--rate``: an offered load of R requests/s instead of C in flight).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from common import cpu_seconds, free_port

SECRET = b"benchmark-secret"
HEADER = "X-Hub-Signature-256"
CUSTOMERS = 500


# --- the generic signed channel (loaded by the app process) ------------------------------


def make_channel_plugin() -> Any:
    """The plugin module object: a channel named ``bench`` (import inside the server)."""
    import types

    import orjson
    from tendero import hookimpl
    from tendero.channels.base import (
        Channel,
        EventKind,
        InboundEvent,
        MessageLimits,
        OutboundMessage,
        svg_icon,
    )

    class BenchChannel(Channel):
        name: ClassVar[str] = "bench"
        display_name: ClassVar[str] = "Benchmark"
        icon: ClassVar[str] = svg_icon("Benchmark", "")
        limits: ClassVar[MessageLimits] = MessageLimits(
            max_text_length=4096, max_buttons=3, max_list_rows=10
        )
        send_rate_per_second = None

        def authenticate(self, headers: Mapping[str, str], body: bytes) -> bool:
            given = headers.get(HEADER, "")
            expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
            return hmac.compare_digest(given.encode(), expected.encode())

        def parse(self, raw_body: bytes) -> list[InboundEvent]:
            data = orjson.loads(raw_body)
            events = []
            for entry in data["entry"]:
                for change in entry["changes"]:
                    value = change["value"]
                    names = {c["wa_id"]: c["profile"]["name"] for c in value.get("contacts", [])}
                    for m in value.get("messages", []):
                        events.append(
                            InboundEvent(
                                channel=self.name,
                                kind=EventKind.MESSAGE,
                                message_id=m["id"],
                                customer_id=m["from"],
                                timestamp=datetime.fromtimestamp(int(m["timestamp"]), UTC),
                                text=m["text"]["body"],
                                customer_name=names.get(m["from"]),
                            )
                        )
            return events

        async def send(self, message: OutboundMessage) -> str:
            return f"bench-{uuid.uuid4().hex}"

    module = types.ModuleType("bench_channel_plugin")

    @hookimpl
    def register_channels(settings: Any) -> list[Channel]:
        return [BenchChannel(settings)]

    module.register_channels = register_channels  # type: ignore[attr-defined]
    return module


def make_no_turns_plugin() -> Any:
    """Stops the dispatcher and sender at startup: ingress alone is measured."""
    import types

    from tendero import hookimpl
    from tendero.conversations.pipeline import PIPELINE

    module = types.ModuleType("bench_no_turns")

    @hookimpl
    async def startup(app: Any) -> None:
        await app[PIPELINE].stop()

    module.startup = startup  # type: ignore[attr-defined]
    return module


def serve_app(port: int, data_dir: Path, *, turns: bool = True) -> None:
    from aiohttp import web
    from tendero.app import create_app
    from tendero.db.migrate import upgrade
    from tendero.logging import configure_logging
    from tendero.plugins import create_plugin_manager
    from tendero.settings import Settings

    configure_logging("warning")
    settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    settings.ensure_data_dir()
    upgrade(settings.effective_database_url)
    extra = [make_channel_plugin()] + ([] if turns else [make_no_turns_plugin()])
    pm = create_plugin_manager(allow=["core"], extra=extra)
    web.run_app(
        create_app(settings, plugin_manager=pm),
        host="127.0.0.1",
        port=port,
        print=None,
        access_log=None,
    )


def serve_baseline(port: int, data_dir: Path) -> None:
    import aiosqlite
    import orjson
    from aiohttp import web

    state: dict[str, Any] = {}

    async def on_startup(app: web.Application) -> None:
        conn = await aiosqlite.connect(data_dir / "baseline.db")
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS inbox (id INTEGER PRIMARY KEY, message_id TEXT UNIQUE,"
            " customer TEXT, text TEXT, body TEXT, received REAL)"
        )
        await conn.commit()
        state["db"] = conn

    async def on_cleanup(app: web.Application) -> None:
        await state["db"].close()

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get(HEADER, "").encode(), expected.encode()):
            return web.Response(status=403)
        data = orjson.loads(body)
        m = data["entry"][0]["changes"][0]["value"]["messages"][0]
        db = state["db"]
        await db.execute(
            "INSERT OR IGNORE INTO inbox (message_id, customer, text, body, received)"
            " VALUES (?, ?, ?, ?, ?)",
            (m["id"], m["from"], m["text"]["body"], body.decode(), time.time()),
        )
        await db.commit()
        return web.Response(text="ok")

    app = web.Application()
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_post("/webhooks/bench", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- the load generator --------------------------------------------------------------------


def delivery(n: int) -> bytes:
    """A ~1 KB WhatsApp-like delivery from one of CUSTOMERS customers, signed later."""
    customer = f"52155{n % CUSTOMERS:08d}"
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": "106540352242922",
                            },
                            "contacts": [
                                {"profile": {"name": f"Cliente {n % CUSTOMERS}"}, "wa_id": customer}
                            ],
                            "messages": [
                                {
                                    "from": customer,
                                    "id": f"wamid.{uuid.uuid4().hex}{uuid.uuid4().hex}",
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {
                                        "body": "Hola, ¿tienen camisetas de algodón en talla M? "
                                        "Quisiera saber el precio y si hacen envíos a Querétaro. "
                                        "Gracias 😀 " + "x" * 500
                                    },
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(body).encode()


def signed(body: bytes) -> dict[str, str]:
    return {
        HEADER: "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }


async def drive(
    url: str,
    requests: int,
    concurrency: int,
    seconds: float,
    pid: int | None = None,
    rate: float = 0.0,
) -> dict[str, float]:
    """Closed loop (``concurrency`` requests in flight) or, with ``rate``, open loop: one
    request every 1/rate s whatever the answers (at most 512 in flight); latency is
    counted from the moment a request was due, so a server that falls behind shows it."""
    import aiohttp

    bodies = [delivery(i) for i in range(requests)]
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    connector = aiohttp.TCPConnector(limit=512 if rate else concurrency)
    async with aiohttp.ClientSession(connector=connector) as client:
        for body in [delivery(10**6 + i) for i in range(50)]:  # warm-up
            async with client.post(url, data=body, headers=signed(body)) as resp:
                await resp.read()
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while not queue.empty() and time.perf_counter() < deadline:
                body = queue.get_nowait()
                started = time.perf_counter()
                async with client.post(url, data=body, headers=signed(body)) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        async def paced(body: bytes, due: float) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            async with client.post(url, data=body, headers=signed(body)) as resp:
                await resp.read()
                if resp.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - due)

        cpu_before = cpu_seconds(pid) if pid else 0.0
        started = time.perf_counter()
        if rate:
            count = min(len(bodies), int(rate * seconds))
            await asyncio.gather(*(paced(bodies[i], started + i / rate) for i in range(count)))
        else:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu_before if pid else 0.0
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        # the server's CPU per acknowledged request (turns included for ``app``)
        "cpu_ms_per_request": round(cpu * 1000 / max(1, len(latencies)), 3),
    }


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("server did not start")


def run_server(kind: str, args: argparse.Namespace, data_dir: Path) -> dict[str, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENDERO_")}
    proc = subprocess.Popen(
        [sys.executable, __file__, f"--serve-{kind}", str(port), str(data_dir)], env=env
    )
    try:
        wait_listening(port, proc)
        url = f"http://127.0.0.1:{port}/webhooks/bench"
        return asyncio.run(
            drive(url, args.requests, args.concurrency, args.seconds, pid=proc.pid, rate=args.rate)
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="offered requests/s (open loop); 0: closed loop"
    )
    parser.add_argument("--serve-app", nargs=2, metavar=("PORT", "DIR"))
    parser.add_argument("--serve-ingress", nargs=2, metavar=("PORT", "DIR"))
    parser.add_argument("--serve-baseline", nargs=2, metavar=("PORT", "DIR"))
    args = parser.parse_args()
    if args.serve_app:
        serve_app(int(args.serve_app[0]), Path(args.serve_app[1]))
        return 0
    if args.serve_ingress:
        serve_app(int(args.serve_ingress[0]), Path(args.serve_ingress[1]), turns=False)
        return 0
    if args.serve_baseline:
        serve_baseline(int(args.serve_baseline[0]), Path(args.serve_baseline[1]))
        return 0

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="tendero-bench-") as tmp:
        for kind in ("app", "ingress", "baseline"):
            data_dir = Path(tmp) / kind
            data_dir.mkdir()
            result = run_server(kind, args, data_dir)
            print(f"{kind:9} {result}", file=sys.stderr)
            for label, value in result.items():
                figures[f"{kind}_{label}"] = value
    for kind in ("app", "ingress"):
        if figures.get("baseline_rps"):
            figures[f"{kind}_vs_baseline"] = round(
                figures[f"{kind}_rps"] / figures["baseline_rps"], 2
            )
    print(f"ingress / baseline {figures.get('ingress_vs_baseline')}", file=sys.stderr)
    print(json.dumps({"benchmark": "webhook_ack", "figures": figures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
