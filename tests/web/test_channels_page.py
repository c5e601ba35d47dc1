"""The Channels page: configured or not, webhook URL, verify token, last message
received and last send error — with WhatsApp against the fake Graph API and signed
webhooks (SQLite and PostgreSQL)."""

from __future__ import annotations

import html
import re

import aiohttp
import sqlalchemy as sa
import tendero_whatsapp.plugin as whatsapp_plugin
from tendero.db.models import InboxEvent, OutboxMessage
from tendero.settings import Settings
from tendero.store.service import get_published
from tendero_web.i18n import Formats

from tests.channels.e2e import meta_channel, until
from tests.fakes import webhooks as wh
from tests.web.harness import Panel, running_panel

WHATSAPP_SETTINGS = (
    "TENDERO_WHATSAPP_APP_SECRET",
    "TENDERO_WHATSAPP_VERIFY_TOKEN",
    "TENDERO_WHATSAPP_ACCESS_TOKEN",
    "TENDERO_WHATSAPP_PHONE_NUMBER_ID",
)


async def channels_html(
    client: aiohttp.ClientSession, headers: dict[str, str] | None = None
) -> str:
    async with client.get("/channels", headers=headers or {}, allow_redirects=False) as resp:
        assert resp.status == 200
        return await resp.text()


def card(page: str, name: str) -> str:
    """The HTML of one channel's card."""
    match = re.search(rf'<section[^>]*data-testid="channel-{name}".*?</section>', page, re.S)
    assert match, f"no card for {name}"
    return match.group(0)


def by_testid(markup: str, name: str) -> str:
    """The text of the element with ``data-testid=name`` (up to its first tag end)."""
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)</', markup, re.S)
    assert match, name
    return match.group(1).strip()


async def english_client(panel: Panel) -> aiohttp.ClientSession:
    client = await panel.logged_in()
    async with client.get("/lang?to=en", allow_redirects=False):
        pass
    return client


async def test_an_unconfigured_channel_lists_what_is_missing(settings: Settings) -> None:
    async with running_panel(settings, extra_plugins=(whatsapp_plugin,)) as panel:
        await panel.create_owner()
        client = await english_client(panel)
        page = await channels_html(client)
    whatsapp = card(page, "whatsapp")
    assert by_testid(whatsapp, "status") == "Not configured"
    for name in WHATSAPP_SETTINGS:
        assert f"<code>{name}</code>" in whatsapp
    assert 'data-testid="verify-token-missing"' in whatsapp
    assert 'role="img" aria-label="WhatsApp"' in whatsapp and "<svg" in whatsapp
    assert f'value="{panel.url}/webhooks/whatsapp"' in whatsapp
    assert by_testid(whatsapp, "last-event") == '<span class="muted">None yet'
    assert 'data-testid="https-warning"' in page  # the test server speaks plain http

    # A plugin channel (the sample one) is listed too; it has no verify handshake.
    sample = card(page, "sample")
    assert by_testid(sample, "status") == "Configured"
    assert 'aria-label="Sample"' in sample and "verify-token" not in sample
    assert page.index('data-testid="channel-whatsapp"') < page.index('data-testid="channel-sample"')


async def test_configured_whatsapp_shows_url_token_last_event_and_last_error(
    settings: Settings,
) -> None:
    async with (
        meta_channel("whatsapp", settings) as channel,
        running_panel(channel.settings, extra_plugins=(whatsapp_plugin,)) as panel,
    ):
        await panel.create_owner()
        client = await english_client(panel)
        page = await channels_html(client)
        whatsapp = card(page, "whatsapp")
        assert by_testid(whatsapp, "status") == "Configured"
        assert "TENDERO_WHATSAPP" not in whatsapp
        assert 'value="whatsapp-verify"' in whatsapp  # the token to paste into Meta
        assert by_testid(whatsapp, "last-error") == '<span class="muted">None'

        # Behind a reverse proxy the URL is the public one.
        proxied = await channels_html(
            client, {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example"}
        )
        assert 'value="https://shop.example/webhooks/whatsapp"' in card(proxied, "whatsapp")
        assert 'data-testid="https-warning"' not in proxied
        odd = await channels_html(client, {"X-Forwarded-Host": 'evil"><script>'})
        assert f'value="{panel.url}/webhooks/whatsapp"' in card(odd, "whatsapp")

        # A signed message arrives; the reply to it fails for good at the Graph API.
        channel.faults.fail_next_send(400, 100)
        customer = channel.customer(1)
        async with wh.MetaWebhookEmitter(
            f"{panel.url}/webhooks/whatsapp", channel.secret
        ) as emitter:
            status, _ = await emitter.send(channel.delivery([channel.text(customer, "hola")]))
        assert status == 200

        async def failed() -> bool:
            async with panel.db.read_session() as session:
                return bool(
                    await session.scalar(
                        sa.select(sa.func.count()).where(OutboxMessage.status == "failed")
                    )
                )

        await until(failed, what="the reply to fail")
        page = await channels_html(client)
        async with panel.db.read_session() as session:
            received = await session.scalar(sa.select(InboxEvent.received_at))
            error = await session.scalar(sa.select(OutboxMessage.last_error))
            doc = await get_published(session)

    whatsapp = card(page, "whatsapp")
    fmt = Formats("en", doc.company.country, doc.currency, doc.company.timezone)
    assert by_testid(whatsapp, "last-event") == fmt.datetime(received)
    last_error = re.search(r'data-testid="last-error">(.*?)</dd>', whatsapp, re.S)
    assert last_error and error and "(#100)" in error
    assert html.escape(error) in last_error.group(1)
    # Secrets never reach the page.
    for secret in (
        channel.settings.whatsapp_app_secret,
        channel.settings.whatsapp_access_token,
        settings.ensure_secret_key(),
    ):
        assert secret not in page


async def test_the_page_needs_login(settings: Settings) -> None:
    async with running_panel(settings) as panel:
        client = panel.client()
        async with client.get("/channels", allow_redirects=False) as resp:
            assert resp.status == 303
            assert resp.headers["Location"].startswith("/login")
