"""Notification tests: a real SMTP server (aiosmtpd) in the test's event loop, a published
store, orders placed through the orders service, and the app with the plugin loaded."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from tendero.app import DATABASE, PLUGINS, create_app
from tendero.conversations.turns import AcknowledgementRunner
from tendero.db import Database
from tendero.db.models import Product
from tendero.notifications.plugin import NOTIFIER
from tendero.orders import CartLine, create_order, order_to_json, order_transaction
from tendero.plugins import create_plugin_manager
from tendero.settings import Settings
from tendero.store.document import (
    BankAccount,
    Company,
    Location,
    Pickup,
    Shipping,
    StoreDocument,
    clabe_check_digit,
)
from tendero.store.service import get_published, publish_document

from tests.orders.conftest import ADDRESS, CUSTOMER

SMTP_USER = "tienda"
SMTP_PASSWORD = "s3cr@t:/"  # needs percent-encoding in the URL
SMTP_PASSWORD_IN_URL = "s3cr%40t%3A%2F"
MERCHANT = "duena@tienda.example"
CLABE = "01218000123456789" + str(clabe_check_digit("01218000123456789"))


# --- the SMTP server -------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class MailServer:
    """aiosmtpd in this event loop, requiring a login; keeps every message accepted."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"smtp://{SMTP_USER}:{SMTP_PASSWORD_IN_URL}@127.0.0.1:{self.port}"

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.recipients]

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            self.logins.append((login, password))
            if (login, password) == (SMTP_USER, SMTP_PASSWORD):
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
async def mail_server() -> AsyncIterator[MailServer]:
    sink = MailServer()

    def protocol() -> SMTP:
        with warnings.catch_warnings():
            # AUTH without TLS: fine on 127.0.0.1 in a test.
            warnings.simplefilter("ignore", UserWarning)
            return SMTP(
                sink,
                hostname="smtp.test",
                authenticator=sink.authenticate,
                auth_required=True,
                auth_require_tls=False,
            )

    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of ``message``."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


# --- the store, products and orders ----------------------------------------------------------


def store_document(language: str = "es", *, name: str = "Tienda Ñandú") -> StoreDocument:
    return StoreDocument(
        company=Company(name=name, language=language, timezone="America/Mexico_City"),
        currency="MXN",
        shipping=Shipping(flat_rate=Decimal("99"), free_threshold=Decimal("1000")),
        pickup=Pickup(advance_payment_percent=50, preparation_minutes=60),
        locations=[
            Location(
                name="Centro",
                address="Madero 10, Centro, CDMX",
                hours="L-S 10-19",
                map_url="https://maps.example/centro",
            )
        ],
        bank_accounts=[
            BankAccount(
                bank_name="BBVA",
                account_holder="Tienda Ñandú SA de CV",
                account_number=CLABE,
                default=True,
            )
        ],
    )


async def publish_store(db: Database, doc: StoreDocument) -> None:
    async with db.session() as session:
        await publish_document(session, doc, by="test")


async def add_product(
    db: Database, name: str = "Proteína Chocolate 1kg", price: str = "499.50", sku: str = "PRO-1"
) -> int:
    async with db.session() as session:
        product = Product(name=name, price=Decimal(price), stock=20, sku=sku)
        session.add(product)
        await session.flush()
        return product.id


async def place_order(
    app: web.Application,
    product_id: int,
    *,
    quantity: int = 2,
    method: str = "shipping",
    customer: dict[str, str] | None = None,
    channel: str = "whatsapp",
    lead_id: int | None = None,
    conversation_id: int | None = None,
) -> dict[str, Any]:
    """Create an order the way the agent does (hooks fire after commit); its JSON."""
    async with order_transaction(app[DATABASE], app[PLUGINS]) as session:
        store = await get_published(session)
        order = await create_order(
            session,
            lines=[CartLine(product_id, quantity)],
            channel=channel,
            customer=CUSTOMER if customer is None else customer,
            delivery_method=method,
            shipping_address=ADDRESS if method == "shipping" else None,
            pickup_location="Centro" if method == "pickup" else None,
            store=store,
            settings_version=1,
            lead_id=lead_id,
            conversation_id=conversation_id,
        )
        return order_to_json(order)


# --- the app ---------------------------------------------------------------------------------


@asynccontextmanager
async def notifying_app(settings: Settings, *extra: str) -> AsyncIterator[web.Application]:
    """The app started (no socket needed) with the core and notifications plugins and
    the channel plugins (unconfigured: they only lend their display names)."""
    pm = create_plugin_manager(
        allow=["core", "notifications", "whatsapp", "facebook", "instagram", *extra]
    )
    app = create_app(settings, plugin_manager=pm, turn_runner=AcknowledgementRunner())
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        yield app
    finally:
        await runner.cleanup()


async def settle(app: web.Application) -> None:
    """Until every notification scheduled so far has finished."""
    await app[NOTIFIER].drain()
