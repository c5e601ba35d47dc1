"""The notifications of one running app.

* A new order: an email to the merchant; a confirmation to the customer when the order
  has an email (what was ordered, totals, how to pay or where to pick it up).
* A payment receipt (payment status ``proof_received``): an email to the merchant, with
  the receipt image attached, and a short "we got it" to the customer.
* A conversation that needs a person: an email to the merchant with the latest messages.
* An order marked ``shipped`` or ``ready_for_pickup``: a chat message to the customer
  (:mod:`tendero.notifications.chat`).

Each event becomes a background task, so the caller (an agent turn, a panel request)
never waits for a mail server. A failure is logged and never reaches the order flow.
With SMTP, an email is written to the spool ``mail/outgoing/`` before it is sent and
stays there until the server takes it; a background job (:meth:`Notifier.retry_mail`,
one process at a time on PostgreSQL) sends again what the server did not take, after a
restart too, and mail refused for good, or retried past ``TENDERO_MAIL_RETRY_HOURS``, is
kept in ``mail/failed/`` (:mod:`tendero.notifications.mail`). :meth:`Notifier.close`
lets running tasks finish at shutdown, within a grace period. Between the event and the
spool (reading the store settings, writing the email) a notification lives in memory
only: a crash in those milliseconds loses it (the chat message, once queued, is in the
durable outbox).

Merchant emails go to ``TENDERO_MERCHANT_EMAIL``. Without it they are written as files
only when no SMTP server is set (so a local install still shows them), addressed to
``TENDERO_MAIL_FROM``; with an SMTP server they are skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable, Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from aiohttp import web

from tendero.app import CHANNELS, DATABASE, PIPELINE, SETTINGS
from tendero.db import Database
from tendero.db.locks import MAIL_RETRY_JOB, job_lock
from tendero.db.models import Conversation, Message
from tendero.notifications.chat import STATUS_UPDATES, StatusMessenger
from tendero.notifications.emails import EmailContent, EmailWriter
from tendero.notifications.mail import (
    Attachment,
    Mailer,
    RetryPolicy,
    compose,
    sender_address,
)
from tendero.orders.service import get_order
from tendero.settings import Settings
from tendero.store.document import StoreDocument
from tendero.store.service import get_published

log = structlog.get_logger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
RECENT_MESSAGES = 6
RECENT_MESSAGE_CHARS = 500
PROOF_RECEIVED = "proof_received"

#: Tests set this on an app before it starts, for retries in fractions of a second.
MAIL_RETRY = web.AppKey("tendero.mail_retry", RetryPolicy)


class Notifier:
    """Turns order and conversation events into emails and chat messages; see the
    module doc. Build it with :meth:`for_app` at startup; :meth:`close` at shutdown."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        mailer: Mailer,
        status_messenger: StatusMessenger,
        channel_names: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.mailer = mailer
        self.status_messenger = status_messenger
        self.channel_names = dict(channel_names or {})
        self._tasks: set[asyncio.Task[None]] = set()
        self._retry_task: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    def for_app(cls, app: web.Application) -> Notifier:
        """The notifier of a starting app; raises
        :class:`~tendero.notifications.mail.MailSettingsError` when ``TENDERO_SMTP_URL``
        or ``TENDERO_MAIL_FROM`` cannot be used (the app then refuses to start)."""
        settings, db = app[SETTINGS], app[DATABASE]
        names = {name: channel.display_name for name, channel in app.get(CHANNELS, {}).items()}
        mailer = Mailer.from_settings(settings, app.get(MAIL_RETRY))
        sender_address(settings.mail_from, "Tendero")  # a bad TENDERO_MAIL_FROM fails now
        notifier = cls(settings, db, mailer, StatusMessenger(db, app.get(PIPELINE), names), names)
        if notifier.merchant_address is None:
            log.warning("merchant emails are off: set TENDERO_MERCHANT_EMAIL")
        log.info("notifications ready", mail=mailer.describe(), merchant=notifier.merchant_address)
        return notifier

    @property
    def merchant_address(self) -> str | None:
        """Where merchant emails go (``None``: nowhere); see the module doc."""
        if self.settings.merchant_email.strip():
            return self.settings.merchant_email.strip()
        if self.mailer.server is None:
            return parseaddr(self.settings.mail_from)[1] or None
        return None

    # --- the events ---------------------------------------------------------------------------

    def order_created(self, order: Mapping[str, Any]) -> None:
        number = order["number"]
        if self.merchant_address:
            self.schedule(self.mail_new_order_to_merchant(order), f"order {number}: merchant email")
        if _customer_email(order):
            self.schedule(self.mail_new_order_to_customer(order), f"order {number}: customer email")

    def payment_status_changed(self, order: Mapping[str, Any], new_status: str) -> None:
        if new_status != PROOF_RECEIVED:
            return
        number = order["number"]
        if self.merchant_address:
            self.schedule(self.mail_receipt_to_merchant(order), f"order {number}: receipt email")
        if _customer_email(order):
            self.schedule(
                self.mail_receipt_to_customer(order), f"order {number}: customer receipt email"
            )

    def order_status_changed(self, order: Mapping[str, Any], new_status: str) -> None:
        if new_status in STATUS_UPDATES:
            self.schedule(
                self.status_messenger.send(order, new_status),
                f"order {order['number']}: {new_status} chat message",
            )

    def conversation_needs_human(self, conversation_id: int, reason: str) -> None:
        if self.merchant_address:
            self.schedule(
                self.mail_needs_human(conversation_id, reason),
                f"conversation {conversation_id}: needs-human email",
            )

    # --- background tasks ---------------------------------------------------------------------

    def schedule(self, job: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[None] | None:
        """Run ``job`` in the background; failures are logged with ``what``."""
        if self._closing:
            job.close()
            log.warning("notification dropped: shutting down", what=what)
            return None
        task = asyncio.create_task(self._run(job, what), name=f"tendero-notification: {what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, job: Coroutine[Any, Any, Any], what: str) -> None:
        try:
            await job
        except asyncio.CancelledError:
            log.warning("notification abandoned at shutdown", what=what)
            raise
        except Exception:
            log.exception("notification failed", what=what)

    def start(self) -> None:
        """Start the mail spool's retry job (with SMTP only). Its first round runs at
        once: what an earlier run left in the spool and is due goes out at start, the
        rest at its time (at most ``max_delay`` away)."""
        if self.mailer.server is not None and self._retry_task is None:
            self._retry_task = asyncio.create_task(self._retry_loop(), name="tendero-mail-retry")

    async def retry_mail(self) -> int:
        """One round of the spool's retries; the number of emails delivered. With several
        processes on one PostgreSQL database, one process at a time runs a round (the
        others skip it), so no two attempts of one email overlap."""
        async with job_lock(self.db.engine, MAIL_RETRY_JOB) as mine:
            return await self.mailer.retry_due() if mine else 0

    async def _retry_loop(self) -> None:
        while not self._closing:
            try:
                await self.retry_mail()
            except Exception:  # e.g. the database (its lock) is down: next round
                log.exception("mail retry round failed; trying again later")
            await asyncio.sleep(self.mailer.retry.poll_interval)

    async def drain(self) -> None:
        """Wait until every scheduled notification has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Take no new work; give running notifications ``grace`` seconds, then cancel."""
        self._closing = True
        if self._retry_task is not None:
            # An email cut off mid-attempt is due again at once (next start, or another
            # process).
            self._retry_task.cancel()
            await asyncio.gather(self._retry_task, return_exceptions=True)
            self._retry_task = None
        tasks = list(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # --- the jobs -----------------------------------------------------------------------------

    async def mail_new_order_to_merchant(self, order: Mapping[str, Any]) -> None:
        store, _ = await self._store_and_language(order)
        writer = EmailWriter(store, channel_names=self.channel_names)
        await self._mail(
            store,
            self.merchant_address,
            writer.new_order_for_merchant(order),
            f"order-{order['number']}-new-order-merchant",
            reply_to=_customer_email(order),
        )

    async def mail_new_order_to_customer(self, order: Mapping[str, Any]) -> None:
        store, language = await self._store_and_language(order)
        writer = EmailWriter(store, language, self.channel_names)
        await self._mail(
            store,
            _customer_email(order),
            writer.new_order_for_customer(order, store.default_bank_account),
            f"order-{order['number']}-new-order-customer",
            reply_to=self.settings.merchant_email.strip() or None,
        )

    async def mail_receipt_to_merchant(self, order: Mapping[str, Any]) -> None:
        store, _ = await self._store_and_language(order)
        writer = EmailWriter(store, channel_names=self.channel_names)
        receipt = await self._latest_receipt(int(order["number"]), writer.language)
        await self._mail(
            store,
            self.merchant_address,
            writer.receipt_for_merchant(order, attached=receipt is not None),
            f"order-{order['number']}-receipt-merchant",
            reply_to=_customer_email(order),
            attachments=[receipt] if receipt else [],
        )

    async def mail_receipt_to_customer(self, order: Mapping[str, Any]) -> None:
        store, language = await self._store_and_language(order)
        writer = EmailWriter(store, language, self.channel_names)
        await self._mail(
            store,
            _customer_email(order),
            writer.receipt_for_customer(order),
            f"order-{order['number']}-receipt-customer",
            reply_to=self.settings.merchant_email.strip() or None,
        )

    async def mail_needs_human(self, conversation_id: int, reason: str) -> None:
        async with self.db.read_session() as session:
            store = await get_published(session)
            conversation = await session.get(Conversation, conversation_id)
            if conversation is None:
                log.warning("needs-human email: no such conversation", conversation=conversation_id)
                return
            rows = await session.execute(
                sa.select(Message.author, Message.text)
                .where(Message.conversation_id == conversation_id, Message.text != "")
                .order_by(Message.id.desc())
                .limit(RECENT_MESSAGES)
            )
            recent = [(author, _clip(text)) for author, text in reversed(rows.all())]
        lead = conversation.lead
        customer = {
            "name": lead.name,
            "phone": lead.phone,
            "email": lead.email,
            "platform_id": lead.platform_id,
        }
        content = EmailWriter(store, channel_names=self.channel_names).needs_human_for_merchant(
            customer, conversation.channel, reason, conversation_id, recent
        )
        await self._mail(
            store,
            self.merchant_address,
            content,
            f"conversation-{conversation_id}-needs-human",
            reply_to=lead.email or None,
        )

    # --- helpers ------------------------------------------------------------------------------

    async def _mail(
        self,
        store: StoreDocument,
        to: str | None,
        content: EmailContent,
        slug: str,
        *,
        reply_to: str | None = None,
        attachments: Iterable[Attachment] = (),
    ) -> None:
        if not to:
            return
        message = compose(
            sender=sender_address(self.settings.mail_from, store.company.name),
            to=to,
            subject=content.subject,
            text=content.text(),
            html=content.html(),
            reply_to=reply_to,
            attachments=attachments,
        )
        await self.mailer.send(message, slug)

    async def _store_and_language(self, order: Mapping[str, Any]) -> tuple[StoreDocument, str]:
        """The live store settings and the language of the order's conversation ("" when
        unknown: the store's language is used)."""
        async with self.db.read_session() as session:
            store = await get_published(session)
            language = ""
            if order.get("conversation_id"):
                language = await session.scalar(
                    sa.select(Conversation.language).where(
                        Conversation.id == order["conversation_id"]
                    )
                )
        return store, language or ""

    async def _latest_receipt(self, number: int, language: str) -> Attachment | None:
        """The order's newest receipt image as an attachment (``None`` when there is none,
        the file is gone, or it is too big to mail)."""
        async with self.db.read_session() as session:
            order = await get_order(session, number)
            if not order.receipts:
                return None
            receipt = order.receipts[-1]
        data_dir = self.settings.data_dir.resolve()
        path = (data_dir / receipt.file_path).resolve()
        if not path.is_relative_to(data_dir):
            log.warning("receipt outside the data folder; not attached", order=number)
            return None
        content = await asyncio.to_thread(_read_small, path, MAX_ATTACHMENT_BYTES)
        if content is None:
            return None
        name = "comprobante" if language == "es" else "receipt"
        return Attachment(content, receipt.media_type, f"{name}-{number}{path.suffix}")


def _customer_email(order: Mapping[str, Any]) -> str | None:
    email = str((order.get("customer") or {}).get("email") or "").strip()
    return email or None


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= RECENT_MESSAGE_CHARS else text[: RECENT_MESSAGE_CHARS - 1] + "…"


def _read_small(path: Path, limit: int) -> bytes | None:
    try:
        if path.stat().st_size > limit:
            log.warning("receipt too big to attach", path=str(path))
            return None
        return path.read_bytes()
    except OSError as exc:
        log.warning("receipt not attached", path=str(path), error=str(exc))
        return None
