"""Secrets stay secret: never in the log of a server run that starts with every
``TENDERO_*`` secret set, logs in, and fails in many ways (a refused Graph token, an
unreachable SMTP server with a password, bad webhooks); never in the panel, which shows
setting names and the verify token (Meta's console needs it) but no app secret, access
token, key or password."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import sqlalchemy as sa
import structlog
import tendero_facebook.plugin as facebook_plugin
import tendero_instagram.plugin as instagram_plugin
import tendero_whatsapp.plugin as whatsapp_plugin
from tendero.db.models import Message, OutboxMessage
from tendero.db.types import utcnow
from tendero.logging import MASK, configure_logging, hide_secrets
from tendero.settings import Settings

from tests.conftest import CLI, TENDERO_BIN
from tests.fakes import graph_whatsapp as wa
from tests.fakes import webhooks as wh
from tests.fakes.graph import FakeGraph
from tests.security.conftest import route_calls
from tests.test_serve import free_port
from tests.web.harness import OWNER_EMAIL, OWNER_PASSWORD, Panel, csrf_of, running_panel
from tests.web.orders_data import seed_orders

LONG_TOKEN = "EAAGm0PbQ" + "x7Kd" * 40  # Meta's tokens run to 200 characters
SMTP_PASSWORD = "p@ss:w0rd/smtp-Zq9"
SECRETS = {
    "TENDERO_SECRET_KEY": "sk-panel-" + "k" * 30,
    "TENDERO_WHATSAPP_APP_SECRET": "wa-app-secret-5f2e9c1d7b",
    "TENDERO_WHATSAPP_VERIFY_TOKEN": "wa-verify-token-77aa01",
    "TENDERO_WHATSAPP_ACCESS_TOKEN": LONG_TOKEN,
    "TENDERO_FACEBOOK_APP_SECRET": "fb-app-secret-0c4d2e8f61",
    "TENDERO_FACEBOOK_VERIFY_TOKEN": "fb-verify-token-88bb02",
    "TENDERO_FACEBOOK_PAGE_ACCESS_TOKEN": "EAAPage" + "p3Qr" * 30,
    "TENDERO_INSTAGRAM_APP_SECRET": "ig-app-secret-9a8b7c6d5e",
    "TENDERO_INSTAGRAM_VERIFY_TOKEN": "ig-verify-token-99cc03",
    "TENDERO_INSTAGRAM_ACCESS_TOKEN": "IGAAT" + "i5Jk" * 30,
    "TENDERO_LLM_API_KEY": "sk-proj-llmkey-" + "L" * 24,
}
VERIFY_TOKENS = {k: v for k, v in SECRETS.items() if k.endswith("VERIFY_TOKEN")}
NEVER_SHOWN = {k: v for k, v in SECRETS.items() if k not in VERIFY_TOKENS} | {
    "SMTP password": SMTP_PASSWORD
}
WA_NUMBER = "106540352242922"


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """Which secrets show up in ``text``: whole, URL-quoted, or a 12-character piece."""
    found = []
    for name, value in secrets.items():
        pieces = {value, quote(value, safe="")}
        pieces.update(value[i : i + 12] for i in range(0, len(value) - 11, 6))
        if any(piece in text for piece in pieces):
            found.append(name)
    return found


def settings_kwargs() -> dict[str, Any]:
    return {key.removeprefix("TENDERO_").lower(): value for key, value in SECRETS.items()}


# --- the log ---------------------------------------------------------------------------


@pytest.fixture
def captured_log() -> Any:
    """A buffer for :func:`log_to`; the previous logging set-up is put back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield io.StringIO()
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def log_to(buffer: io.StringIO, fmt: str) -> None:
    """``configure_logging`` as ``serve`` calls it, writing to ``buffer`` instead of
    stderr (which pytest swaps for its own while a test runs)."""
    stderr = sys.stderr
    sys.stderr = buffer
    try:
        configure_logging("debug", fmt)
    finally:
        sys.stderr = stderr


def failing_graph_call(token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}  # a local a rich traceback would show
    raise RuntimeError(f"Graph refused GET /me?access_token={quote(token)} {headers}")


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_the_log_masks_secrets_in_messages_values_and_tracebacks(
    captured_log: io.StringIO, fmt: str
) -> None:
    log_to(captured_log, fmt)
    hide_secrets(SECRETS.values())
    hide_secrets([SMTP_PASSWORD])
    log = structlog.get_logger("test")
    log.info("configured", token=LONG_TOKEN, smtp=f"smtp://shop:{quote(SMTP_PASSWORD)}@h:25")
    for logger in (log, logging.getLogger("aiohttp.server")):
        try:
            failing_graph_call(LONG_TOKEN)
        except RuntimeError:
            logger.exception("request failed")
    logging.getLogger("aiohttp.access").info(
        '"GET /webhooks/x?hub.verify_token=%s"', "wa-verify-token-77aa01"
    )
    output = captured_log.getvalue()
    assert output.count("request failed") == 2 and "failing_graph_call" in output
    assert leaks(output, SECRETS | {"smtp": SMTP_PASSWORD}) == []
    assert output.count(MASK) >= 6
    if fmt == "json":
        assert all(json.loads(line) for line in output.splitlines() if line.startswith("{"))


# --- a real server run -----------------------------------------------------------------


async def test_a_server_run_logs_no_secret(cli: CLI, tmp_path: Path) -> None:
    port, closed_port = free_port(), free_port()
    graph = FakeGraph("facebook")
    whatsapp = wa.install_whatsapp(graph)
    async with graph:
        # Meta knows the number with another token: every send fails with error 190.
        number = whatsapp.add_number(WA_NUMBER, "EAAG-the-real-token")
        env = (
            cli.env
            | SECRETS
            | {
                "TENDERO_GRAPH_API_URL": graph.url,
                "TENDERO_WHATSAPP_PHONE_NUMBER_ID": WA_NUMBER,
                "TENDERO_SMTP_URL": f"smtp://shop:{quote(SMTP_PASSWORD, safe='')}@127.0.0.1:{closed_port}",
                "TENDERO_MERCHANT_EMAIL": "owner@tienda.test",
                "TENDERO_LOG_LEVEL": "debug",
            }
        )
        cli("users", "create", OWNER_EMAIL, "--password-stdin", input=OWNER_PASSWORD, check=True)
        log_file = tmp_path / "serve.log"
        with log_file.open("w") as sink:
            proc = await asyncio.create_subprocess_exec(
                str(TENDERO_BIN),
                "serve",
                "--port",
                str(port),
                env=env,
                cwd=cli.cwd,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_healthy(base)
            await exercise(base, number)
            await wait_for(log_file, "message not delivered", "send will be retried")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    output = log_file.read_text()
    assert "tendero started" in output
    assert "Invalid OAuth access token" in output  # Meta refused the token: logged
    assert leaks(output, SECRETS | {"smtp": SMTP_PASSWORD}) == [], output[-3000:]


async def wait_healthy(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not start")


async def wait_for(path: Path, *patterns: str) -> None:
    for _ in range(300):
        text = await asyncio.to_thread(path.read_text)
        if any(p in text for p in patterns):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"none of {patterns} logged:\n{text[-3000:]}")


async def exercise(base: str, number: wa.Number) -> None:
    """Log in (wrong, then right), verify handshakes (right and wrong token), a bad
    signature, an unknown page, a bad API token, and a customer message whose reply
    Meta refuses."""
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for password in ("wrong password", OWNER_PASSWORD):
            async with http.get("/login") as resp:
                token = csrf_of(await resp.text())
            data = {"email": OWNER_EMAIL, "password": password, "csrf_token": token}
            async with http.post("/login", data=data) as resp:
                await resp.read()
        for path in ("/channels", "/no-such-page", "/orders/424242"):
            async with http.get(path) as resp:
                await resp.read()
        async with http.get(
            "/api/v1/orders", headers={"Authorization": "Bearer tdr_not-a-token"}
        ) as resp:
            assert resp.status == 401
        for verify in (SECRETS["TENDERO_WHATSAPP_VERIFY_TOKEN"], "wrong-token"):
            query = {"hub.mode": "subscribe", "hub.verify_token": verify, "hub.challenge": "42"}
            async with http.get("/webhooks/whatsapp", params=query) as resp:
                await resp.read()
    emitter = wh.MetaWebhookEmitter(
        f"{base}/webhooks/whatsapp", SECRETS["TENDERO_WHATSAPP_APP_SECRET"]
    )
    async with emitter:
        await emitter.send_wrong_secret({"object": "whatsapp_business_account", "entry": []})
        customer = "5215500000001"
        message = wa.text_message(customer, "hola, quiero ver sus productos")
        number_fake = number
        payload = wa.delivery(
            wa.change(number_fake, messages=[message], contacts=[wa.contact(customer, "Ana")])
        )
        status, _ = await emitter.send(payload)
        assert status == 200


# --- the panel -------------------------------------------------------------------------


async def test_the_panel_never_shows_a_secret(settings: Settings) -> None:
    configured = settings.model_copy(
        update=settings_kwargs()
        | {
            "smtp_url": f"smtp://shop:{quote(SMTP_PASSWORD, safe='')}@mail.test:587",
            "whatsapp_phone_number_id": WA_NUMBER,
            "facebook_page_id": "104560000001",
            "instagram_account_id": "17841400000000001",
        }
    )
    channels = (whatsapp_plugin, facebook_plugin, instagram_plugin)
    async with running_panel(configured, extra_plugins=channels) as panel:
        await panel.create_owner()
        seeded = await seed_orders(panel, configured.data_dir)
        # A send error whose text (from outside) carries a token is shown masked.
        await add_failed_send(panel, seeded.conversation_id, LONG_TOKEN)
        client = await panel.logged_in()
        seen = await every_page(panel, client, seeded)
    assert leaks(seen["/channels"], NEVER_SHOWN) == []
    assert MASK in seen["/channels"]
    for value in VERIFY_TOKENS.values():  # the merchant copies it into Meta's console
        assert f'readonly value="{value}" data-testid="verify-token"' in seen["/channels"]
    for path, html in seen.items():
        assert leaks(html, NEVER_SHOWN) == [], path
    # The bank account is for customers to pay into: shown, it is no secret.
    assert "002010077777777771" in seen["/settings"]


async def add_failed_send(panel: Panel, conversation_id: int, token: str) -> None:
    async with panel.db.session() as session:
        message_id = await session.scalar(
            sa.select(Message.id).where(Message.conversation_id == conversation_id).limit(1)
        )
        session.add(
            OutboxMessage(
                message_id=message_id,
                conversation_id=conversation_id,
                channel="whatsapp",
                body={"text": "hola"},
                status="failed",
                attempts=5,
                next_attempt_at=utcnow(),
                last_error=f"proxy refused https://graph.test/v25.0/me?access_token={token}",
            )
        )


async def every_page(panel: Panel, client: aiohttp.ClientSession, seeded: Any) -> dict[str, str]:
    seen = {}
    for call in route_calls(panel.app, seeded, {"GET"}):
        if call.path.startswith(("/webhooks/", "/orders/events", "/static")):
            continue
        async with client.get(call.path) as resp:
            seen[call.path] = (await resp.read()).decode("utf-8", "replace")
    return seen
