"""Every outbound call has a timeout, and what called it copes: each one is pointed at a
local server that takes the connection and never answers (``conftest.SilentServer``).

* Graph API sends (``TENDERO_GRAPH_TIMEOUT``): a retryable ``timeout`` error; in the
  running app the outbox tries again and the reply is delivered once.
* Media downloads (``TENDERO_MEDIA_TIMEOUT``): a ``timeout`` error, the turn goes on
  (see test_media_limits.py and test_media_end_to_end.py).
* SMTP (``?timeout=`` of ``TENDERO_SMTP_URL``): the mail is kept for a later attempt.
* The LLM (the brain's timeout): the rules brain answers instead.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import pytest
from tendero.agent.llm import LLMBrain
from tendero.agent.rules import RulesBrain
from tendero.channels import OutboundMessage
from tendero.channels.meta import GraphClient, GraphError
from tendero.db import Database
from tendero.db.models import OutboxMessage
from tendero.notifications.mail import Mailer, SmtpServer
from tendero.settings import Settings
from tendero_facebook.channel import FacebookChannel
from tendero_whatsapp.channel import WhatsAppChannel

from tests.agent.test_llm_brain import make_store, make_turn, product, publish
from tests.channels.e2e import meta_channel, until
from tests.limits.conftest import SilentServer


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def test_the_graph_timeout_is_an_operator_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().graph_timeout == 15.0
    monkeypatch.setenv("TENDERO_GRAPH_TIMEOUT", "2.5")
    assert WhatsAppChannel(Settings()).graph_timeout == 2.5
    assert FacebookChannel(Settings()).graph_timeout == 2.5


async def test_a_graph_call_to_a_silent_server_times_out(
    silent: SilentServer, http: aiohttp.ClientSession
) -> None:
    started = time.monotonic()
    with pytest.raises(GraphError) as caught:
        await GraphClient(http, silent.url, "v25.0").request(
            "POST", "/123/messages", token="t", json={"x": 1}, timeout=0.5
        )
    assert time.monotonic() - started < 1.5
    assert caught.value.code == "timeout" and caught.value.retryable
    assert silent.connections == 1 and silent.received > 0  # it did reach the server


@pytest.mark.parametrize("channel_name", ["whatsapp", "facebook"])
async def test_channel_sends_to_a_silent_graph_time_out(
    silent: SilentServer, http: aiohttp.ClientSession, channel_name: str
) -> None:
    settings = Settings(
        graph_api_url=silent.url,
        graph_timeout=0.5,
        whatsapp_phone_number_id="106540352242922",
        whatsapp_access_token="t",
        facebook_page_id="104560000001",
        facebook_page_access_token="t",
    )
    channel = (WhatsAppChannel if channel_name == "whatsapp" else FacebookChannel)(settings)
    channel.attach(http)
    started = time.monotonic()
    with pytest.raises(GraphError) as caught:
        await channel.send(OutboundMessage(channel_name, "5215512345678", text="Hola"))
    assert time.monotonic() - started < 1.5
    assert caught.value.code == "timeout" and caught.value.retryable


async def test_the_outbox_retries_a_send_that_timed_out(settings: Settings) -> None:
    """Meta hangs (10 s) on the first three calls to the Send API: the mark-seen, the
    typing indicator and the first try of the reply. Each is given up after 0.4 s; the
    reply goes out on the next try, once, long before the hung calls would answer."""
    async with meta_channel("facebook", settings.model_copy(update={"graph_timeout": 0.4})) as fb:
        ana = fb.customer(1)
        fb.graph.fail_next(3, timeout=True, path_contains="/messages")
        async with fb.running() as live:
            started = time.monotonic()
            assert (await live.emitter.send(fb.delivery([fb.text(ana, "hola")])))[0] == 200
            await until(lambda: fb.replies_to(ana), what="the reply")
            elapsed = time.monotonic() - started
            await until(live.settled, what="the outbox settled")
            [row] = await live.rows(OutboxMessage)
        assert elapsed < fb.graph.hang_seconds
        assert fb.graph.counters["injected_failures"] == 3
        assert len(fb.replies_to(ana)) == 1
        assert row.status == "sent" and row.attempts >= 2


async def test_a_silent_smtp_server_keeps_the_mail(silent: SilentServer, tmp_path: Path) -> None:
    mailer = Mailer(
        tmp_path / "mail", SmtpServer.from_url(f"smtp://127.0.0.1:{silent.port}?timeout=0.5")
    )
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        "tienda@example.com",
        "dueña@example.com",
        "Pedido #1001",
    )
    message.set_content("Nuevo pedido")
    started = time.monotonic()
    sent = await mailer.send(message, "order-1001")
    assert time.monotonic() - started < 3
    assert silent.connections == 1
    assert sent.how in ("queued", "failed") and sent.path is not None
    assert "Pedido #1001" in sent.path.read_text()  # kept whole for a later attempt


async def test_a_silent_llm_provider_gives_way_to_the_rules_brain(
    db: Database, settings: Settings, silent: SilentServer
) -> None:
    store = await publish(db, make_store())
    await product(db, "Proteína Chocolate", "499.00")
    configured = settings.model_copy(
        update={
            "llm_model": "openai:tendero-test-model",
            "llm_base_url": f"{silent.url}/v1",
            "llm_api_key": "sk-test",
        }
    )
    brain = LLMBrain(configured, RulesBrain(), timeout=0.5, max_retries=0)
    turn = make_turn(db, store, "¿tienen proteína?", first_contact=True)
    started = time.monotonic()
    replies = await brain.respond(turn)
    assert time.monotonic() - started < 3
    assert silent.connections >= 1
    text = "\n".join(r.text for r in replies)
    assert "Proteína Chocolate" in text and "$499.00" in text
