"""Notification emails through the real plugin manager, the real app and a real SMTP
server: new orders, receipts, a conversation that needs a person, the .eml fallback and
a mail server that is down. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from tendero.app import DATABASE, PLUGINS
from tendero.conversations.media import store_media
from tendero.db.models import Conversation, Lead, Message
from tendero.orders import attach_receipt, get_order, order_transaction
from tendero.plugins import notify
from tendero.settings import Settings

from .conftest import (
    CLABE,
    CUSTOMER,
    MERCHANT,
    MailServer,
    add_product,
    notifying_app,
    parts,
    place_order,
    publish_store,
    settle,
    store_document,
)

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4 + b"\xff\xd9"


def with_mail(settings: Settings, **values: str) -> Settings:
    return settings.model_copy(update={"mail_from": "ventas@tienda.example", **values})


def eml_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.eml"))


def read_eml(path: Path) -> EmailMessage:
    return message_from_bytes(path.read_bytes(), policy=policy.default)


async def test_a_new_order_emails_the_merchant_and_the_customer(
    settings: Settings, mail_server: MailServer
) -> None:
    settings = with_mail(settings, smtp_url=mail_server.url, merchant_email=MERCHANT)
    async with notifying_app(settings) as app:
        await publish_store(app[DATABASE], store_document("es"))
        product = await add_product(app[DATABASE])
        order = await place_order(app, product, quantity=2)
        await settle(app)

    assert order["number"] == 1001
    assert set(mail_server.logins) == {("tienda", "s3cr@t:/")}  # percent-decoded
    [merchant] = mail_server.to(MERCHANT)
    assert merchant["Subject"] == "Nuevo pedido #1001 — Ana Núñez — $1,098.00"
    assert merchant["From"].addresses[0].display_name == "Tienda Ñandú"
    assert merchant["From"].addresses[0].addr_spec == "ventas@tienda.example"
    assert merchant["Reply-To"] == "ana@example.com"
    assert merchant["Auto-Submitted"] == "auto-generated"
    text, html = parts(merchant)
    for expected in (
        "Llegó un pedido nuevo por WhatsApp",
        "Ana Núñez",
        "+52 55 1234 5678",
        "2 × Proteína Chocolate 1kg (PRO-1) — $999.00 ($499.50)",
        "Envío: $99.00",
        "Total: $1,098.00",
        "Insurgentes Sur 1602, Int. 4B",
        "03940 Ciudad de México, CDMX",
        "Pendiente de pago",
    ):
        assert expected in text
    assert "<td" in html and "Proteína Chocolate 1kg (PRO-1)" in html

    [customer] = mail_server.to("ana@example.com")
    assert customer["Subject"] == "Tu pedido #1001 en Tienda Ñandú"
    assert customer["Reply-To"] == MERCHANT
    text, html = parts(customer)
    for expected in (
        "Hola, Ana Núñez:",
        "Recibimos tu pedido #1001",
        "Total: $1,098.00",
        "Para pagar, transfiere $1,098.00 a esta cuenta:",
        "Banco: BBVA",
        f"CLABE: {CLABE}",
        "foto o captura del comprobante",
        "— Tienda Ñandú",
    ):
        assert expected in text
    assert f">{CLABE}</td>" in html


async def test_no_customer_email_without_an_address(
    settings: Settings, mail_server: MailServer
) -> None:
    settings = with_mail(settings, smtp_url=mail_server.url, merchant_email=MERCHANT)
    async with notifying_app(settings) as app:
        await publish_store(app[DATABASE], store_document("es"))
        product = await add_product(app[DATABASE])
        await place_order(app, product, customer={**CUSTOMER, "email": ""})
        await settle(app)
    assert [r.recipients for r in mail_server.received] == [[MERCHANT]]


@pytest.mark.parametrize(
    ("language", "merchant_subject", "customer_subject", "pickup_line"),
    [
        ("es", "Nuevo pedido #1001", "Tu pedido #1001 en Tienda Ñandú", "Recoger en tienda"),
        ("en", "New order #1001", "Your order #1001 at Tienda Ñandú", "Store pickup"),
    ],
)
async def test_emails_speak_the_store_language(
    settings: Settings,
    mail_server: MailServer,
    language: str,
    merchant_subject: str,
    customer_subject: str,
    pickup_line: str,
) -> None:
    settings = with_mail(settings, smtp_url=mail_server.url, merchant_email=MERCHANT)
    async with notifying_app(settings) as app:
        await publish_store(app[DATABASE], store_document(language))
        product = await add_product(app[DATABASE])
        await place_order(app, product, method="pickup", quantity=1)
        await settle(app)
    [merchant] = mail_server.to(MERCHANT)
    [customer] = mail_server.to("ana@example.com")
    assert merchant["Subject"].startswith(merchant_subject)
    assert customer["Subject"] == customer_subject
    text, html = parts(customer)
    assert pickup_line in text
    assert "Madero 10, Centro, CDMX" in text and "L-S 10-19" in text
    # Pickup with a 50% advance: the deposit is what is asked for.
    assert "$249.75" in text and "$499.50" in text
    assert f'<html lang="{language}">' in html


async def test_customer_text_is_escaped_in_html_and_cannot_add_headers(
    settings: Settings, mail_server: MailServer
) -> None:
    settings = with_mail(settings, smtp_url=mail_server.url, merchant_email=MERCHANT)
    name = "<script>alert('x')</script>\r\nBcc: intruso@example.com"
    async with notifying_app(settings) as app:
        await publish_store(app[DATABASE], store_document("en"))
        product = await add_product(app[DATABASE], name="Gorra <b>edición</b> & co")
        await place_order(app, product, customer={**CUSTOMER, "name": name})
        await settle(app)

    [merchant] = mail_server.to(MERCHANT)
    assert all("intruso@example.com" not in r.recipients for r in mail_server.received)
    assert merchant["Bcc"] is None
    assert merchant["Subject"].startswith("New order #1001 — <script>alert('x')</script> Bcc:")
    text, html = parts(merchant)
    assert "<script>" in text  # plain text shows the name as written
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "Gorra &lt;b&gt;edición&lt;/b&gt; &amp; co" in html


async def test_a_receipt_emails_the_merchant_with_the_image_and_thanks_the_customer(
    settings: Settings, mail_server: MailServer
) -> None:
    settings = with_mail(settings, smtp_url=mail_server.url, merchant_email=MERCHANT)
    async with notifying_app(settings) as app:
        await publish_store(app[DATABASE], store_document("es"))
        product = await add_product(app[DATABASE])
        order = await place_order(app, product)
        await settle(app)
        mail_server.received.clear()

        path = store_media(settings.data_dir, JPEG, "image/jpeg")
        async with order_transaction(app[DATABASE], app[PLUGINS]) as session:
            await attach_receipt(session, order["number"], path, "image/jpeg")
        await settle(app)

    [merchant] = mail_server.to(MERCHANT)
    assert merchant["Subject"] == "Comprobante de pago recibido — pedido #1001 — Ana Núñez"
    text, _ = parts(merchant)
    assert "Ana Núñez envió un comprobante de pago del pedido #1001 por $1,098.00." in text
    assert "El comprobante va adjunto." in text
    [image] = list(merchant.iter_attachments())
    assert image.get_content_type() == "image/jpeg"
    assert image.get_filename() == "comprobante-1001.jpg"
    assert image.get_content() == JPEG

    [customer] = mail_server.to("ana@example.com")
    assert customer["Subject"] == "Recibimos tu comprobante — pedido #1001"
    assert "Lo revisaremos" in parts(customer)[0]


async def test_without_smtp_emails_are_written_as_eml_files(settings: Settings) -> None:
    # No TENDERO_SMTP_URL and no TENDERO_MERCHANT_EMAIL: a local install still shows the
    # merchant's email, addressed to TENDERO_MAIL_FROM.
    settings = with_mail(settings)
    async with notifying_app(settings) as app:
        await publish_store(app[DATABASE], store_document("en"))
        product = await add_product(app[DATABASE])
        await place_order(app, product)
        await settle(app)

    files = eml_files(settings.data_dir / "mail")
    assert {f.name.split("-", 1)[1] for f in files} == {
        "order-1001-new-order-merchant.eml",
        "order-1001-new-order-customer.eml",
    }
    by_recipient = {str(read_eml(f)["To"]): read_eml(f) for f in files}
    assert by_recipient["ventas@tienda.example"]["Subject"].startswith("New order #1001")
    assert by_recipient["ana@example.com"]["Subject"] == "Your order #1001 at Tienda Ñandú"
    assert not (settings.data_dir / "mail" / "failed").exists()


async def test_a_mail_server_that_is_down_loses_nothing_and_breaks_nothing(
    settings: Settings,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = with_mail(settings, smtp_url=f"smtp://127.0.0.1:{port}", merchant_email=MERCHANT)
    async with notifying_app(settings) as app:
        await publish_store(app[DATABASE], store_document("es"))
        product = await add_product(app[DATABASE])
        order = await place_order(app, product)  # no exception reaches the order flow
        await settle(app)
        async with app[DATABASE].read_session() as session:
            assert (await get_order(session, order["number"])).status == "new"

    # Spooled to be sent again (tests/faults/test_smtp_outage.py follows them through).
    spooled = eml_files(settings.data_dir / "mail" / "outgoing")
    assert {str(read_eml(f)["To"]) for f in spooled} == {MERCHANT, "ana@example.com"}
    assert eml_files(settings.data_dir / "mail" / "failed") == []
    assert eml_files(settings.data_dir / "mail") == []


async def test_emails_scheduled_before_shutdown_are_still_sent(
    settings: Settings, mail_server: MailServer
) -> None:
    settings = with_mail(settings, smtp_url=mail_server.url, merchant_email=MERCHANT)
    async with notifying_app(settings) as app:
        await publish_store(app[DATABASE], store_document("es"))
        product = await add_product(app[DATABASE])
        await place_order(app, product)
        # No settle: the app stops right away and drains the notifications.
    assert sorted(r.recipients[0] for r in mail_server.received) == ["ana@example.com", MERCHANT]


async def test_a_conversation_that_needs_a_person_emails_the_merchant(
    settings: Settings, mail_server: MailServer
) -> None:
    settings = with_mail(settings, smtp_url=mail_server.url, merchant_email=MERCHANT)
    async with notifying_app(settings) as app:
        await publish_store(app[DATABASE], store_document("es"))
        async with app[DATABASE].session() as session:
            lead = Lead(channel="instagram", platform_id="17840001", name="Luis <Pérez>")
            session.add(lead)
            await session.flush()
            conversation = Conversation(lead_id=lead.id, channel="instagram")
            session.add(conversation)
            await session.flush()
            for author, direction, text in (
                ("customer", "in", "Hola, ¿tienen envíos a Monterrey?"),
                ("agent", "out", "¡Sí! Enviamos a todo México."),
                ("customer", "in", "Quiero hablar con una persona"),
            ):
                session.add(
                    Message(
                        conversation_id=conversation.id,
                        direction=direction,
                        author=author,
                        text=text,
                    )
                )
        await notify(
            app[PLUGINS],
            "conversation_needs_human",
            conversation=conversation,
            reason="el cliente pidió una persona",
        )
        await settle(app)

    [email] = mail_server.to(MERCHANT)
    assert email["Subject"] == "Un cliente necesita atención — Luis <Pérez> (Instagram)"
    text, html = parts(email)
    assert "Motivo: el cliente pidió una persona" in text
    assert "Cliente: Hola, ¿tienen envíos a Monterrey?" in text
    assert "Asistente: ¡Sí! Enviamos a todo México." in text
    assert text.index("Monterrey") < text.index("Quiero hablar con una persona")
    assert "Luis &lt;Pérez&gt;" in html
