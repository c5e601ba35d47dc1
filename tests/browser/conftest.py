"""Fixtures of the browser tests: the real ``tendero serve`` process, Debian's Chromium.

* ``fresh_server`` (per module): a migrated demo store with no account yet; its
  ``setup_url`` is the one-time link ``tendero serve`` printed.
* ``demo_server`` (per package, SQLite): the demo store with generated orders and the
  owner account; ``orders_server`` is it on SQLite and the same on PostgreSQL.
* ``browser`` (per package): one Chromium; ``page`` a fresh context per test,
  ``owner_page`` the same already logged in; ``shot("step")`` saves a screenshot to
  ``test-artifacts/screenshots/<test>-<step>.png`` (also saved on failure).

The tests use Playwright's sync API, so they are plain functions: nothing here may call
``asyncio.run`` while the browser is open (data is seeded by separate processes, as
another server or the CLI would).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    CLI,
    IN_CI,
    ROOT,
    TENDERO_BIN,
    fresh_postgres_database,
    skip_or_fail,
)
from tests.test_serve import free_port

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
OWNER_EMAIL = "owner@tienda.test"
OWNER_PASSWORD = "correct horse battery"
DEMO_ORDERS = 60
TIMEOUT_MS = 10_000


# --- the server as a process ----------------------------------------------------------


@dataclass
class Server:
    """A running ``tendero serve`` with its data folder, database and CLI."""

    base_url: str
    cli: CLI
    engine: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def setup_url(self) -> str | None:
        """The one-time set-up link printed at start-up (``None`` when there is an owner)."""
        match = re.search(r"(http://\S+/setup\?token=[\w-]+)", self.log)
        return match.group(1) if match else None

    def tendero(self, *args: str, input: str | None = None) -> str:
        """Run ``tendero ARGS`` against this server's data; its standard output."""
        return self.cli(*args, input=input, check=True, timeout=120).stdout

    def seed(self, *args: str) -> dict[str, Any]:
        """Run ``python -m tests.browser.seed ARGS`` (another process on the same data)."""
        result = subprocess.run(
            [sys.executable, "-m", "tests.browser.seed", *args],
            capture_output=True,
            text=True,
            env=self.cli.env | {"PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            timeout=120,
        )
        if result.returncode != 0:
            raise AssertionError(f"seed {args} failed:\n{result.stdout}\n{result.stderr}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def order(self, name: str, **options: Any) -> int:
        """Create an order for customer ``name``; options as the seed's flags."""
        args = ["order", "--name", name]
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                args.append(flag)
            elif value not in (False, None):
                args += [flag, str(value)]
        return int(self.seed(*args)["number"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _wait_healthy(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"tendero serve exited {server.proc.returncode}:\n{server.log}")
        try:
            with urllib.request.urlopen(server.url("/healthz"), timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"tendero serve did not answer /healthz:\n{server.log}")


def start_server(
    folder: Path,
    database_url: str,
    engine: str,
    *,
    orders: int = DEMO_ORDERS,
    owner: bool = True,
) -> Server:
    """Migrate, load the demo store (and ``orders``), create the owner, then serve."""
    data_dir = folder / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    cli = CLI(data_dir, database_url)
    cli("db", "upgrade", check=True)
    demo = ["demo", "--orders", str(orders)] if orders else ["demo"]
    cli(*demo, check=True)
    if owner:
        cli("users", "create", OWNER_EMAIL, "--password-stdin", input=OWNER_PASSWORD, check=True)
    port = free_port()
    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(TENDERO_BIN), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=cli.env,
            cwd=cli.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", cli, engine, proc, log_path)
    try:
        _wait_healthy(server)
    except BaseException:
        server.stop()
        raise
    return server


def _sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'tendero.db'}"


@pytest.fixture(scope="package")
def browser_postgres() -> Iterator[str]:
    """An empty PostgreSQL database of its own for the browser tests' server (which
    migrates it itself)."""
    with fresh_postgres_database("tendero_browser", migrate=False) as url:
        yield url


@pytest.fixture(scope="package")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo store on SQLite with the owner account, shared by the browser tests."""
    folder = tmp_path_factory.mktemp("browser-demo")
    server = start_server(folder, _sqlite_url(folder), "sqlite")
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def orders_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The demo store with the owner account on each engine: on SQLite the session's
    ``demo_server``; on PostgreSQL a server of its own (per module)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("demo_server")
        return
    url = request.getfixturevalue("browser_postgres")
    server = start_server(tmp_path_factory.mktemp("browser-postgresql"), url, "postgresql")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo store with no account: ``tendero serve`` prints the set-up link."""
    folder = tmp_path_factory.mktemp("browser-fresh")
    server = start_server(folder, _sqlite_url(folder), "sqlite", orders=0, owner=False)
    yield server
    server.stop()


# --- the browser --------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the browser tests (Debian's; Playwright never downloads one)."""
    if not CHROMIUM.exists():
        skip_or_fail(
            f"{CHROMIUM} is missing: install Debian's chromium "
            "(apt-get install chromium fonts-dejavu-core)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the dev group installs it
        skip_or_fail("the playwright package is not installed (uv sync --all-packages)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    if report.failed:
        # What the server said goes with the failure (tracebacks of a 500 are there).
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, Server):
                tail = "\n".join(value.log.splitlines()[-60:])
                report.sections.append((f"tendero serve ({value.engine}) log", tail))
    return report


def _test_slug(node: pytest.Item) -> str:
    return re.sub(r"[^\w.-]+", "_", node.name).strip("_")


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """``shot(page, "step")`` saves a full-page screenshot for this test and step."""

    def take(page: Any, step: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{_test_slug(request.node)}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def _console_error(message: Any, errors: list[str]) -> None:
    """Keep console errors, except the 4xx answers tests ask for (a wrong password is 401)."""
    if message.type != "error" or re.match(
        r"Failed to load resource: .* status of 4\d\d", message.text
    ):
        return
    errors.append(f"console: {message.text} ({message.location.get('url')})")


def _new_page(browser: Any, request: pytest.FixtureRequest, **options: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport=options.pop("viewport", {"width": 1280, "height": 900}),
        locale="en-US",
        accept_downloads=True,
        **options,
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: _console_error(message, errors))
    page.js_errors = errors  # type: ignore[attr-defined]
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(
                path=str(SCREENSHOTS / f"{_test_slug(request.node)}-failure.png"), full_page=True
            )
        except Exception:  # the page may be gone; the report already says why
            pass
    context.close()
    if report is not None and report.passed and errors:
        # Scripts refused by the Content-Security-Policy, failed loads, JS exceptions.
        pytest.fail("the browser reported errors:\n" + "\n".join(errors))


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a fresh browser context (no cookies), desktop size."""
    yield from _new_page(browser, request)


def log_in(page: Any, server: Server, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD):
    """Log in through the form; ends on the page the panel sends the owner to."""
    page.goto(server.url("/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


_LOGGED_IN_STATES: dict[str, Any] = {}


def logged_in_page(
    browser: Any, request: pytest.FixtureRequest, server: Server, **options: Any
) -> Iterator[Any]:
    """A fresh context carrying the owner's session cookie (logged in once per server)."""
    state = _LOGGED_IN_STATES.get(str(server.log_path))
    if state is None:
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        first = context.new_page()
        log_in(first, server)
        assert "/login" not in first.url, f"log-in failed: {first.content()[:2000]}"
        state = _LOGGED_IN_STATES[str(server.log_path)] = context.storage_state()
        context.close()
    yield from _new_page(browser, request, storage_state=state, **options)


@pytest.fixture
def owner_page(browser: Any, request: pytest.FixtureRequest, demo_server: Server) -> Iterator[Any]:
    """A desktop page logged in as the owner of ``demo_server``."""
    yield from logged_in_page(browser, request, demo_server)


@pytest.fixture(autouse=True, scope="session")
def _clean_screenshots() -> None:
    """Screenshots of an earlier run do not mix with this one's (CI keeps the folder)."""
    if SCREENSHOTS.exists() and not IN_CI:
        shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    os.makedirs(SCREENSHOTS, exist_ok=True)
