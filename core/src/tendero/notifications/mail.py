"""Email transport: compose a message, then send it by SMTP or keep it as an ``.eml`` file.

``TENDERO_SMTP_URL`` says where mail goes::

    smtp://mail.example.com                   port 25; STARTTLS when the server offers it
    smtp://shop:secret@mail.example.com:587?starttls=true   STARTTLS required
    smtps://shop:secret@mail.example.com      TLS from the first byte (port 465)

User and password are percent-decoded (write ``@`` as ``%40``). Query options:
``starttls`` = ``true`` (required), ``false`` (never) or ``auto`` (the default, when the
server offers it; ``smtp://`` only) and ``timeout`` (seconds, default 30). The port
defaults as aiosmtplib does: 465 with ``smtps``, 587 with ``starttls=true``, else 25.

Without an SMTP URL every message is written to ``<data dir>/mail/`` as
``<time>-<slug>.eml`` (any mail program opens it), so a local install shows what it
would have sent. A message the SMTP server did not take is written to
``<data dir>/mail/failed/`` instead, with an ``X-Tendero-Error`` header saying why:
nothing is lost, and nothing raises to the caller.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

import aiosmtplib
import structlog

from tendero.settings import Settings

log = structlog.get_logger(__name__)

MAIL_FOLDER = "mail"
FAILED_FOLDER = "failed"
DEFAULT_TIMEOUT_SECONDS = 30.0
# At most this many SMTP connections at once (a burst of orders must not open dozens).
MAX_PARALLEL_SENDS = 4
_SLUG_UNSAFE = re.compile(r"[^a-z0-9]+")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class MailSettingsError(ValueError):
    """``TENDERO_SMTP_URL`` (or ``TENDERO_MAIL_FROM``) cannot be used as written."""


# --- where mail goes -------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpServer:
    """An SMTP server parsed from ``TENDERO_SMTP_URL``; see the module doc."""

    host: str
    port: int | None = None  # None: aiosmtplib's default for the TLS mode
    username: str | None = None
    password: str | None = None
    use_tls: bool = False  # smtps: implicit TLS
    start_tls: bool | None = None  # None: upgrade when the server offers STARTTLS
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """Parse ``smtp://`` / ``smtps://`` URLs; :class:`MailSettingsError` when wrong."""
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps"):
            raise MailSettingsError(
                f"TENDERO_SMTP_URL must start with smtp:// or smtps:// (got {scheme or 'none'}://)"
            )
        try:
            port = parts.port
        except ValueError:
            raise MailSettingsError("TENDERO_SMTP_URL has an invalid port") from None
        if not parts.hostname:
            raise MailSettingsError("TENDERO_SMTP_URL names no host (smtp://host:port)")
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = set(options) - {"starttls", "timeout"}
        if unknown:
            raise MailSettingsError(
                f"unknown TENDERO_SMTP_URL options: {', '.join(sorted(unknown))} "
                "(known: starttls, timeout)"
            )
        start_tls = _start_tls(options.get("starttls", "auto"))
        use_tls = scheme == "smtps"
        if use_tls and start_tls:
            raise MailSettingsError("smtps:// is TLS already; starttls=true is for smtp://")
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            use_tls=use_tls,
            start_tls=False if use_tls else start_tls,
            timeout=_timeout(options.get("timeout")),
        )

    def describe(self) -> str:
        """The server for logs, without the password."""
        scheme = "smtps" if self.use_tls else "smtp"
        user = f"{self.username}@" if self.username else ""
        port = f":{self.port}" if self.port else ""
        return f"{scheme}://{user}{self.host}{port}"


def _start_tls(value: str) -> bool | None:
    value = value.strip().lower()
    if value in ("", "auto"):
        return None
    if value in _BOOLEANS:
        return _BOOLEANS[value]
    raise MailSettingsError(
        f"TENDERO_SMTP_URL starttls must be true, false or auto (got {value!r})"
    )


def _timeout(value: str | None) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise MailSettingsError(f"TENDERO_SMTP_URL timeout must be seconds above 0 (got {value!r})")
    return seconds


# --- composing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    """A file to attach: its bytes, media type (``image/jpeg``) and file name."""

    content: bytes
    media_type: str
    filename: str


def sender_address(mail_from: str, display_name: str) -> Address:
    """``TENDERO_MAIL_FROM`` as a From address; the shop's name is shown when the
    setting gives none (``Shop <shop@example.com>`` keeps its own)."""
    name, address = parseaddr(mail_from)
    if not address or "@" not in address:
        raise MailSettingsError(f"TENDERO_MAIL_FROM is not an email address: {mail_from!r}")
    local, _, domain = address.rpartition("@")
    return Address(display_name=_one_line(name or display_name), username=local, domain=domain)


def compose(
    *,
    sender: Address,
    to: str,
    subject: str,
    text: str,
    html: str,
    reply_to: str | None = None,
    attachments: Iterable[Attachment] = (),
    now: datetime | None = None,
) -> EmailMessage:
    """A plain-text email with an HTML alternative (and attachments, if any).

    Header values are folded to one line, so a customer's name cannot add headers.
    """
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = _one_line(subject)
    message["From"] = sender
    message["To"] = _one_line(to)
    if reply_to:
        message["Reply-To"] = _one_line(reply_to)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender.domain or "localhost")
    # RFC 3834: an automatic message; well-behaved autoresponders stay quiet.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.media_type.partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return message


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


# --- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """What became of one message: delivered to the SMTP server, written as a file
    (no SMTP configured), or written to the failed folder."""

    how: Literal["smtp", "file", "failed"]
    path: Path | None = None


class Mailer:
    """Sends through :class:`SmtpServer` when given, else writes ``.eml`` files.

    :meth:`send` never raises for a transport problem: a refused or unreachable server
    leaves the message in ``mail/failed/`` and the reason in the log.
    """

    def __init__(self, mail_dir: Path, server: SmtpServer | None = None) -> None:
        self.mail_dir = mail_dir
        self.server = server
        self._parallel = asyncio.Semaphore(MAX_PARALLEL_SENDS)

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer:
        """The mailer ``settings`` describe (:class:`MailSettingsError` when wrong)."""
        server = SmtpServer.from_url(settings.smtp_url) if settings.smtp_url.strip() else None
        return cls(settings.data_dir / MAIL_FOLDER, server)

    def describe(self) -> str:
        if self.server is None:
            return f"files in {self.mail_dir}"
        return self.server.describe()

    async def send(self, message: EmailMessage, slug: str) -> Sent:
        """Deliver ``message``; ``slug`` names its file if it ends up as one."""
        if self.server is None:
            path = await asyncio.to_thread(write_eml, self.mail_dir, message, slug)
            log.info("email written", to=message["To"], subject=message["Subject"], path=str(path))
            return Sent("file", path)
        server = self.server
        try:
            async with self._parallel:
                await aiosmtplib.send(
                    message,
                    hostname=server.host,
                    port=server.port,
                    username=server.username,
                    password=server.password,
                    use_tls=server.use_tls,
                    start_tls=server.start_tls,
                    timeout=server.timeout,
                )
        except Exception as exc:  # whatever went wrong, the message is kept
            reason = f"{type(exc).__name__}: {exc}"
            message["X-Tendero-Error"] = _one_line(reason)[:900]
            path = await asyncio.to_thread(write_eml, self.mail_dir / FAILED_FOLDER, message, slug)
            log.error(
                "email not sent; kept as a file",
                to=message["To"],
                subject=message["Subject"],
                server=server.describe(),
                error=reason,
                path=str(path),
            )
            return Sent("failed", path)
        log.info("email sent", to=message["To"], subject=message["Subject"])
        return Sent("smtp")


def write_eml(folder: Path, message: EmailMessage, slug: str) -> Path:
    """Write ``message`` to ``folder/<UTC time>-<slug>.eml`` (never over another file)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    base = f"{stamp}-{_slug(slug)}"
    data = message.as_bytes(policy=policy.SMTP)
    for n in range(1, 1000):
        path = folder / (f"{base}.eml" if n == 1 else f"{base}-{n}.eml")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return path
    raise FileExistsError(f"no free file name for {base}.eml in {folder}")


def _slug(text: str) -> str:
    return _SLUG_UNSAFE.sub("-", text.lower()).strip("-")[:80] or "message"
