"""`tendero serve` as a real process: migrates, prints the links, answers /healthz,
stops cleanly on SIGTERM; `create_app` over a real socket in-process."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from tendero.app import DATABASE, HTTP_CLIENT, create_app
from tendero.builtin import EXPIRY_TASK
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings

from tests.conftest import CLI, TENDERO_BIN


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_line(proc: subprocess.Popen[str], pattern: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise AssertionError(f"{pattern!r} not printed; got:\n{''.join(seen)}")


def test_serve_process_health_setup_link_and_sigterm(cli: CLI, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [str(TENDERO_BIN), "serve", "--port", str(port)],
        env=cli.env,
        cwd=cli.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_line(proc, rf"http://127\.0\.0\.1:{port}/orders")
        setup = wait_for_line(proc, r"/setup\?token=")
        assert re.search(r"token=[\w-]{20,}", setup)
        deadline = time.monotonic() + 30
        body = None
        while time.monotonic() < deadline:
            try:
                import urllib.request

                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    body = r.read().decode()
                    break
            except OSError:
                time.sleep(0.2)
        assert body is not None and '"status": "ok"' in body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The secret key was generated into the data folder with owner-only permissions.
    key = Path(cli.env["TENDERO_DATA_DIR"]) / "secret_key"
    assert key.exists() and key.stat().st_mode & 0o077 == 0


async def test_create_app_over_a_real_socket(settings: Settings) -> None:
    pm = create_plugin_manager(allow=["core"])
    app = create_app(settings, plugin_manager=pm)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        assert isinstance(app[HTTP_CLIENT], aiohttp.ClientSession)
        async with aiohttp.ClientSession() as client:
            async with client.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200
                data = await resp.json()
        assert data["status"] == "ok"
        assert data["database"] == app[DATABASE].dialect
        expiry = app[EXPIRY_TASK]  # the core plugin started the unpaid-order expiry job
        assert not expiry.done()
    finally:
        await runner.cleanup()
    assert app[HTTP_CLIENT].closed
    assert expiry.cancelled()


async def test_healthz_reports_an_unreachable_database(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "x.db"
    settings = Settings(data_dir=tmp_path / "data", database_url=f"sqlite+aiosqlite:///{missing}")
    app = create_app(settings, plugin_manager=create_plugin_manager(allow=["core"]))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as client:
            async with client.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 503
                assert (await resp.json())["database"] == "unreachable"
    finally:
        await runner.cleanup()


CONTRACT_COMMANDS = [
    "serve",
    "db",
    "demo",
    "products",
    "orders",
    "settings",
    "users",
    "tokens",
    "plugins",
    "chat",
]


@pytest.mark.parametrize("command", CONTRACT_COMMANDS)
def test_every_contract_command_has_help(sqlite_cli: CLI, command: str) -> None:
    result = sqlite_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
