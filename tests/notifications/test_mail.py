"""Pure rules of the mail transport: the SMTP URL, the From address, header safety, files."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from tendero.notifications.mail import (
    MailSettingsError,
    SmtpServer,
    compose,
    sender_address,
    write_eml,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", SmtpServer("mail.example.com")),
        (
            "smtp://shop:p%40ss%3Aword@mail.example.com:587?starttls=true",
            SmtpServer("mail.example.com", 587, "shop", "p@ss:word", start_tls=True),
        ),
        ("smtp://127.0.0.1:2525?starttls=false", SmtpServer("127.0.0.1", 2525, start_tls=False)),
        (
            "smtps://ventas%40tienda.mx:secret@smtp.example.com?timeout=5",
            SmtpServer(
                "smtp.example.com",
                None,
                "ventas@tienda.mx",
                "secret",
                use_tls=True,
                start_tls=False,
                timeout=5.0,
            ),
        ),
    ],
)
def test_smtp_urls_are_parsed(url: str, expected: SmtpServer) -> None:
    assert SmtpServer.from_url(url) == expected


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mail.example.com", "must start with smtp:// or smtps://"),
        ("mail.example.com:25", "must start with smtp://"),
        ("smtp://:25", "names no host"),
        ("smtp://mail.example.com:99999", "invalid port"),
        ("smtp://mail.example.com?tls=yes", "unknown TENDERO_SMTP_URL options: tls"),
        ("smtp://mail.example.com?starttls=maybe", "starttls must be true, false or auto"),
        ("smtps://mail.example.com?starttls=true", "smtps:// is TLS already"),
        ("smtp://mail.example.com?timeout=soon", "timeout must be seconds above 0"),
    ],
)
def test_bad_smtp_urls_are_refused_clearly(url: str, problem: str) -> None:
    with pytest.raises(MailSettingsError, match=problem):
        SmtpServer.from_url(url)


def test_the_password_never_shows_in_logs() -> None:
    server = SmtpServer.from_url("smtps://shop:hunter2@mail.example.com:465")
    assert server.describe() == "smtps://shop@mail.example.com:465"


def test_the_from_address_shows_the_shop_unless_the_setting_names_someone() -> None:
    assert str(sender_address("ventas@tienda.mx", "Tienda Ñandú")) == (
        "Tienda Ñandú <ventas@tienda.mx>"
    )
    assert sender_address("ventas@tienda.mx", "Tienda Ñandú").display_name == "Tienda Ñandú"
    assert sender_address("Pedidos <pedidos@tienda.mx>", "Tienda").display_name == "Pedidos"
    with pytest.raises(MailSettingsError, match="not an email address"):
        sender_address("tienda", "Tienda")


def test_header_values_stay_on_one_line() -> None:
    message = compose(
        sender=sender_address("ventas@tienda.mx", "Tienda\r\nBcc: x@example.com"),
        to="ana@example.com",
        subject="Pedido #1 de Ana\r\nBcc: intruso@example.com",
        text="hola",
        html="<p>hola</p>",
    )
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Pedido #1 de Ana Bcc: intruso@example.com"
    assert parsed["From"].addresses[0].display_name == "Tienda Bcc: x@example.com"


def test_eml_files_never_overwrite_each_other(tmp_path) -> None:
    message = compose(
        sender=sender_address("ventas@tienda.mx", "Tienda"),
        to="ana@example.com",
        subject="Hola",
        text="hola",
        html="<p>hola</p>",
    )
    paths = {write_eml(tmp_path, message, "Pedido #1001 / cliente") for _ in range(5)}
    assert len(paths) == 5
    assert all(p.name.endswith(".eml") and "-pedido-1001-cliente" in p.name for p in paths)
