"""SMTP down, slow or refusing: order emails wait in the spool and go out once the mail
server takes them, exactly once each; a permanent refusal, or an outage longer than the
retry time, leaves the email in ``mail/failed/`` with the reason. The app, its plugin
manager, the notifications plugin and the SMTP server (aiosmtpd, on a real port that is
closed while it is "down") are all real; orders are placed through the orders service.
Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiohttp import web
from tendero.app import DATABASE, create_app
from tendero.conversations.turns import AcknowledgementRunner
from tendero.notifications.mail import RetryPolicy
from tendero.notifications.notifier import MAIL_RETRY
from tendero.notifications.plugin import NOTIFIER
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings

from tests.notifications.conftest import (
    MERCHANT,
    add_product,
    place_order,
    publish_store,
    store_document,
)

from ._smtp import FaultySmtp

CUSTOMER_EMAIL = "ana@example.com"  # the email of tests.orders.conftest.CUSTOMER
#: Retries in fractions of a second (production waits a minute, doubling to 15).
FAST = RetryPolicy(first_delay=0.2, max_delay=0.4, give_up_after=3600.0, poll_interval=0.05)


@asynccontextmanager
async def mailing_app(
    settings: Settings, retry: RetryPolicy = FAST
) -> AsyncIterator[web.Application]:
    """The app started with the core and notifications plugins and ``retry``'s timing."""
    pm = create_plugin_manager(allow=["core", "notifications", "whatsapp"])
    app = create_app(settings, plugin_manager=pm, turn_runner=AcknowledgementRunner())
    app[MAIL_RETRY] = retry
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        yield app
    finally:
        await runner.cleanup()


def mail_settings(settings: Settings, smtp_url: str) -> Settings:
    return settings.model_copy(
        update={
            "smtp_url": smtp_url,
            "mail_from": "ventas@tienda.example",
            "merchant_email": MERCHANT,
        }
    )


def emls(folder: Path) -> list[EmailMessage]:
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        found.append(message)
    return found


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


async def place_orders(app: web.Application, count: int) -> list[int]:
    await publish_store(app[DATABASE], store_document("es"))
    product = await add_product(app[DATABASE])
    numbers = [(await place_order(app, product, quantity=1))["number"] for _ in range(count)]
    await app[NOTIFIER].drain()  # every email was tried once (and spooled)
    return numbers


def subjects_by_number(messages: list[EmailMessage], numbers: list[int]) -> dict[int, int]:
    """How many of ``messages`` speak of each order number."""
    return {n: sum(f"#{n}" in str(m["Subject"]) for m in messages) for n in numbers}


def test_the_retry_delay_doubles_up_to_its_cap_and_ends_at_the_give_up_time() -> None:
    policy_ = RetryPolicy(first_delay=60, max_delay=900, give_up_after=3600)
    queued = 1_000.0
    delays = []
    now = queued
    for _ in range(8):
        next_at = policy_.next_attempt(queued, now)
        delays.append(next_at - now)
        now = next_at
    assert delays[:5] == [60, 60, 120, 240, 480]
    assert max(delays) == 900
    assert now == queued + 3600  # the last attempt is made at the give-up time
    assert policy_.gave_up(queued, now) and not policy_.gave_up(queued, now - 1)


async def test_orders_during_an_outage_are_spooled_then_sent_exactly_once(
    settings: Settings,
) -> None:
    smtp = FaultySmtp()  # down: its port refuses connections
    settings = mail_settings(settings, smtp.url())
    mail = settings.data_dir / "mail"
    async with mailing_app(settings) as app:
        numbers = await place_orders(app, 3)
        spooled = emls(mail / "outgoing")
        assert len(spooled) == 6  # merchant and customer, per order: none lost
        assert emls(mail / "failed") == []
        await asyncio.sleep(0.6)  # a few retry rounds find the server still down
        assert len(emls(mail / "outgoing")) == 6

        await smtp.start()
        try:
            await until(lambda: len(smtp.accepted) >= 6)
            await asyncio.sleep(0.6)  # more rounds: nothing is sent a second time
        finally:
            await smtp.stop()

    assert len(smtp.accepted) == 6
    assert len({str(a.message["Message-ID"]) for a in smtp.accepted}) == 6
    assert subjects_by_number(smtp.to(MERCHANT), numbers) == dict.fromkeys(numbers, 1)
    assert subjects_by_number(smtp.to(CUSTOMER_EMAIL), numbers) == dict.fromkeys(numbers, 1)
    # The spooled copies were these very messages.
    assert {str(m["Message-ID"]) for m in spooled} == {
        str(a.message["Message-ID"]) for a in smtp.accepted
    }
    assert emls(mail / "outgoing") == [] and emls(mail / "failed") == []


async def test_a_temporary_refusal_is_tried_again(settings: Settings) -> None:
    smtp = FaultySmtp(temporary_failures=3)
    await smtp.start()
    settings = mail_settings(settings, smtp.url())
    try:
        async with mailing_app(settings) as app:
            [number] = await place_orders(app, 1)
            await until(lambda: len(smtp.accepted) == 2)
            await asyncio.sleep(0.5)
    finally:
        await smtp.stop()
    assert smtp.data_attempts == 5  # three 451s, then the two emails
    assert [len(smtp.to(a)) for a in (MERCHANT, CUSTOMER_EMAIL)] == [1, 1]
    assert all(f"#{number}" in str(a.message["Subject"]) for a in smtp.accepted)
    mail = settings.data_dir / "mail"
    assert emls(mail / "outgoing") == [] and emls(mail / "failed") == []


async def test_a_permanent_refusal_goes_to_the_failed_folder_at_once_with_the_reason(
    settings: Settings,
) -> None:
    smtp = FaultySmtp(refused={CUSTOMER_EMAIL})
    await smtp.start()
    settings = mail_settings(settings, smtp.url())
    mail = settings.data_dir / "mail"
    try:
        async with mailing_app(settings) as app:
            [number] = await place_orders(app, 1)
            # Right after the one attempt, before any retry round could run again.
            [failed] = emls(mail / "failed")
            await asyncio.sleep(0.6)  # retry rounds come and go: it is not tried again
    finally:
        await smtp.stop()
    assert str(failed["To"]) == CUSTOMER_EMAIL
    assert f"#{number}" in str(failed["Subject"])
    reason = str(failed["X-Tendero-Error"])
    assert reason.startswith("SMTPRecipientsRefused") and "550" in reason
    assert "No such user here" in reason
    assert smtp.rcpt_attempts[CUSTOMER_EMAIL] == 1
    assert [len(smtp.to(MERCHANT)), len(smtp.to(CUSTOMER_EMAIL))] == [1, 0]
    assert emls(mail / "outgoing") == []


async def test_the_spool_survives_a_restart_and_is_sent_at_the_next_start(
    settings: Settings,
) -> None:
    smtp = FaultySmtp()
    settings = mail_settings(settings, smtp.url())
    mail = settings.data_dir / "mail"
    async with mailing_app(settings) as app:
        numbers = await place_orders(app, 2)
    spooled = emls(mail / "outgoing")
    assert len(spooled) == 4  # the app stopped with them unsent: kept on disk
    await asyncio.sleep(FAST.first_delay)  # down past their next attempt time

    await smtp.start()
    # No retry round would come within the test but the one at start.
    once = RetryPolicy(first_delay=600.0, max_delay=900.0, poll_interval=600.0)
    try:
        async with mailing_app(settings, once):
            await until(lambda: len(smtp.accepted) == 4)
            await asyncio.sleep(0.3)
    finally:
        await smtp.stop()
    assert subjects_by_number([a.message for a in smtp.accepted], numbers) == dict.fromkeys(
        numbers, 2
    )
    assert sorted(str(a.message["Message-ID"]) for a in smtp.accepted) == sorted(
        str(m["Message-ID"]) for m in spooled
    )
    assert emls(mail / "outgoing") == []


async def test_a_server_that_hangs_is_given_up_on_within_the_timeout(
    settings: Settings,
) -> None:
    smtp = FaultySmtp()
    await smtp.start_silent()  # takes the connection, never greets
    settings = mail_settings(settings, smtp.url(timeout="0.3"))
    try:
        async with mailing_app(settings) as app:
            started = time.monotonic()
            await place_orders(app, 1)
            took = time.monotonic() - started
            assert len(emls(settings.data_dir / "mail" / "outgoing")) == 2
    finally:
        await smtp.stop()
    # Each attempt ends at its timeout (0.3 s a step, at most 4 x 0.3 s in all), not
    # aiosmtplib's default minute; the two emails are tried side by side.
    assert took < 3.0


async def test_an_outage_longer_than_the_retry_time_ends_in_the_failed_folder(
    settings: Settings,
) -> None:
    smtp = FaultySmtp()  # down for good
    short = RetryPolicy(first_delay=0.2, max_delay=0.3, give_up_after=1.0, poll_interval=0.05)
    settings = mail_settings(settings, smtp.url())
    mail = settings.data_dir / "mail"
    async with mailing_app(settings, short) as app:
        await place_orders(app, 1)
        await until(lambda: len(emls(mail / "failed")) == 2, within=8)
    failed = emls(mail / "failed")
    assert {str(m["To"]) for m in failed} == {MERCHANT, CUSTOMER_EMAIL}
    for message in failed:
        reason = str(message["X-Tendero-Error"])
        assert reason.startswith("gave up after 0.000277778 hours of retries; last error:")
        assert "Connect" in reason  # the server refused the connection
    assert emls(mail / "outgoing") == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_processes_sharing_the_spool_send_each_email_once(
    settings: Settings,
) -> None:
    # Two apps on one data folder and one PostgreSQL database (as --workers runs them),
    # retrying every 20 ms: the JOBS advisory lock and the spool's leases keep their
    # rounds from sending one email twice when the server comes back.
    smtp = FaultySmtp()
    eager = RetryPolicy(first_delay=0.05, max_delay=0.1, poll_interval=0.02)
    settings = mail_settings(settings, smtp.url())
    async with mailing_app(settings, eager), mailing_app(settings, eager) as second:
        numbers = await place_orders(second, 8)
        assert len(emls(settings.data_dir / "mail" / "outgoing")) == 16
        await smtp.start()
        try:
            await until(lambda: len(smtp.accepted) >= 16)
            await asyncio.sleep(0.5)
        finally:
            await smtp.stop()
    assert len(smtp.accepted) == 16
    assert subjects_by_number(smtp.to(MERCHANT), numbers) == dict.fromkeys(numbers, 1)
    assert subjects_by_number(smtp.to(CUSTOMER_EMAIL), numbers) == dict.fromkeys(numbers, 1)
