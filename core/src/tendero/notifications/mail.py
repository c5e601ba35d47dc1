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
would have sent.

With an SMTP URL every message is first written to the spool, ``<data dir>/mail/outgoing/``
(complete or not at all: a hidden temporary file, synced, then linked into place), and
only then sent. It leaves the spool when the server has accepted it, so a crash, a
restart or a mail server that is down loses nothing: :meth:`Mailer.retry_due` (a
background job of the notifications plugin, also run at every start) sends what is due
again, with a growing delay (``first_delay`` doubling up to ``max_delay``). A spooled
file's modification time is the earliest time it may be tried again, so the schedule
survives restarts and is shared by every process that sees the folder. The server's
permanent refusal (a 5xx answer to the sender, a recipient or the message) moves the
message to ``<data dir>/mail/failed/`` at once, and so does a temporary problem (no
connection, a timeout, a 4xx answer) that lasts past ``TENDERO_MAIL_RETRY_HOURS``
(default 48): there it carries an ``X-Tendero-Error`` header saying why. Nothing raises
to the caller.

Each message is sent at most once per acceptance: it leaves the spool right after the
server took it. A crash between the server's acceptance and that removal (a few
microseconds) sends it again at the next attempt — at least once, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
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
OUTGOING_FOLDER = "outgoing"
DEFAULT_TIMEOUT_SECONDS = 30.0
#: A whole delivery (connect, TLS, login, every command) may take this many times the
#: per-operation ``timeout``: a server that answers each command slowly cannot hold a
#: send for ever.
DEADLINE_FACTOR = 4
#: Seconds a spooled message being sent is kept from other attempts beyond that deadline.
LEASE_MARGIN_SECONDS = 30.0
_STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_STAMP = re.compile(r"^(\d{8}T\d{6}\.\d{6}Z)-")
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

    @property
    def deadline(self) -> float:
        """Seconds one whole delivery may take (see :data:`DEADLINE_FACTOR`)."""
        return self.timeout * DEADLINE_FACTOR

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
class RetryPolicy:
    """When a spooled message is tried again, and when the spool gives up on it.

    After a temporary failure the next attempt waits as long as the message has waited
    so far (so the delays double), at least ``first_delay`` and at most ``max_delay``
    seconds; the last attempt is made ``give_up_after`` seconds after the message was
    spooled, and if that fails too the message goes to the failed folder.
    ``poll_interval``: seconds between two looks at the spool.
    """

    first_delay: float = 60.0
    max_delay: float = 15 * 60.0
    give_up_after: float = 48 * 3600.0
    poll_interval: float = 15.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(give_up_after=settings.mail_retry_hours * 3600.0)

    def next_attempt(self, queued_at: float | None, now: float) -> float:
        """When to try again a message spooled at ``queued_at`` that failed at ``now``."""
        if queued_at is None:
            return now + self.first_delay
        delay = min(self.max_delay, max(self.first_delay, now - queued_at))
        return max(now, min(now + delay, queued_at + self.give_up_after))

    def gave_up(self, queued_at: float | None, now: float) -> bool:
        """Whether a message spooled at ``queued_at`` has been retried long enough."""
        return queued_at is not None and now - queued_at >= self.give_up_after


@dataclass(frozen=True)
class Sent:
    """What became of one message: delivered to the SMTP server, written as a file
    (no SMTP configured), kept in the spool to be tried again, or written to the failed
    folder. ``error`` says why it was not delivered; ``server_down``: the failure was the
    server's (unreachable, too slow, refusing the login), not this message's."""

    how: Literal["smtp", "file", "queued", "failed"]
    path: Path | None = None
    error: str | None = None
    server_down: bool = False


class Mailer:
    """Sends through :class:`SmtpServer` when given, else writes ``.eml`` files.

    :meth:`send` never raises for a transport problem: the message waits in the spool
    for :meth:`retry_due`, or, refused for good, is kept in ``mail/failed/``; the reason
    is logged. See the module doc.
    """

    def __init__(
        self, mail_dir: Path, server: SmtpServer | None = None, retry: RetryPolicy | None = None
    ) -> None:
        self.mail_dir = mail_dir
        self.server = server
        self.retry = retry or RetryPolicy()
        self._parallel = asyncio.Semaphore(MAX_PARALLEL_SENDS)

    @classmethod
    def from_settings(cls, settings: Settings, retry: RetryPolicy | None = None) -> Mailer:
        """The mailer ``settings`` describe (:class:`MailSettingsError` when wrong)."""
        server = SmtpServer.from_url(settings.smtp_url) if settings.smtp_url.strip() else None
        return cls(
            settings.data_dir / MAIL_FOLDER, server, retry or RetryPolicy.from_settings(settings)
        )

    @property
    def outgoing_dir(self) -> Path:
        return self.mail_dir / OUTGOING_FOLDER

    @property
    def failed_dir(self) -> Path:
        return self.mail_dir / FAILED_FOLDER

    def describe(self) -> str:
        if self.server is None:
            return f"files in {self.mail_dir}"
        return self.server.describe()

    async def send(self, message: EmailMessage, slug: str) -> Sent:
        """Deliver ``message``; ``slug`` names its file (in the spool, or as the file
        it becomes without SMTP)."""
        if self.server is None:
            path = await asyncio.to_thread(write_eml, self.mail_dir, message, slug)
            log.info("email written", to=message["To"], subject=message["Subject"], path=str(path))
            return Sent("file", path)
        # Spooled under a lease: no retry round takes it while this attempt runs.
        path = await asyncio.to_thread(
            write_eml, self.outgoing_dir, message, slug, not_before=self._lease()
        )
        return await self._attempt(path, message)

    async def retry_due(self) -> int:
        """Send again every spooled message whose time has come, oldest first; return how
        many the server accepted. Stops at the first sign that the server is down (the
        rest wait for the next round). Run by one process at a time (the notifications
        plugin holds a ``JOBS`` advisory lock on PostgreSQL)."""
        if self.server is None:
            return 0
        delivered = 0
        for path in await asyncio.to_thread(due_files, self.outgoing_dir, time.time()):
            message = await asyncio.to_thread(self._claim, path)
            if message is None:  # sent or moved meanwhile
                continue
            sent = await self._attempt(path, message)
            if sent.how == "smtp":
                delivered += 1
            elif sent.server_down:
                break
        return delivered

    def _lease(self) -> float:
        """Until when an attempt starting now keeps the message to itself: it cannot
        run longer than the server's deadline."""
        assert self.server is not None
        return time.time() + self.server.deadline + LEASE_MARGIN_SECONDS

    def _claim(self, path: Path) -> EmailMessage | None:
        """Read a due spooled message and lease it to this attempt (``None``: gone)."""
        try:
            data = path.read_bytes()
            _set_not_before(path, self._lease())
        except FileNotFoundError:
            return None
        message = message_from_bytes(data, policy=policy.SMTP)
        assert isinstance(message, EmailMessage)
        return message

    async def _attempt(self, path: Path, message: EmailMessage) -> Sent:
        """One delivery attempt of the spooled ``path``; removes it once accepted."""
        server = self.server
        assert server is not None
        try:
            # The deadline covers the wait for a free connection too, so the attempt
            # always ends inside its lease.
            async with asyncio.timeout(server.deadline), self._parallel:
                refused, _ = await aiosmtplib.send(
                    message,
                    hostname=server.host,
                    port=server.port,
                    username=server.username,
                    password=server.password,
                    use_tls=server.use_tls,
                    start_tls=server.start_tls,
                    timeout=server.timeout,
                )
        except asyncio.CancelledError:
            # Stopped (shutdown): due again at once, for the next round here or elsewhere.
            with contextlib.suppress(OSError):
                _set_not_before(path, time.time())
            raise
        except Exception as exc:  # whatever went wrong, the message is kept
            return await asyncio.to_thread(self._after_failure, path, message, exc)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)
        if refused:  # some recipients taken, others not: the message went out
            log.warning("email refused for some recipients", to=message["To"], refused=refused)
        log.info("email sent", to=message["To"], subject=message["Subject"])
        return Sent("smtp")

    def _after_failure(self, path: Path, message: EmailMessage, exc: Exception) -> Sent:
        """Keep a message that was not delivered: in the spool with its next attempt
        time, or in the failed folder (refused for good, or retried long enough)."""
        reason = _one_line(f"{type(exc).__name__}: {exc}")[:800]
        now = time.time()
        queued_at = queued_time(path)
        context = {
            "to": message["To"],
            "subject": message["Subject"],
            "server": self.server.describe() if self.server else None,
            "error": reason,
        }
        if is_permanent_refusal(exc) or self.retry.gave_up(queued_at, now):
            if not is_permanent_refusal(exc):
                hours = self.retry.give_up_after / 3600
                reason = f"gave up after {hours:g} hours of retries; last error: {reason}"
            kept = self._move_to_failed(path, message, reason)
            log.error("email not sent; kept in the failed folder", **context, path=str(kept))
            return Sent("failed", kept, reason)
        retry_at = self.retry.next_attempt(queued_at, now)
        with contextlib.suppress(FileNotFoundError):
            _set_not_before(path, retry_at)
        log.warning("email not sent; will try again", **context, retry_in=round(retry_at - now, 1))
        return Sent("queued", path, reason, server_down=is_server_problem(exc))

    def _move_to_failed(self, path: Path, message: EmailMessage, reason: str) -> Path:
        del message["X-Tendero-Error"]
        message["X-Tendero-Error"] = reason
        kept = _write_new(self.failed_dir, path.stem, message.as_bytes(policy=policy.SMTP))
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return kept


def is_permanent_refusal(exc: BaseException) -> bool:
    """Whether the server refused this message for good: a 5xx answer to its sender, its
    recipients (all of them) or its content, or a message that names no recipient."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(r.code >= 500 for r in exc.recipients)
    if isinstance(
        exc,
        aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError,
    ):
        return exc.code >= 500
    return isinstance(exc, ValueError)


def is_server_problem(exc: BaseException) -> bool:
    """Whether a failure says nothing about the message: the server is unreachable, too
    slow, refuses the login or lacks something the settings ask for (STARTTLS). Every
    other message would fail the same way now."""
    return isinstance(
        exc,
        OSError  # connection refused or reset; TimeoutError is one too
        | aiosmtplib.SMTPConnectError
        | aiosmtplib.SMTPServerDisconnected
        | aiosmtplib.SMTPTimeoutError
        | aiosmtplib.SMTPAuthenticationError
        | aiosmtplib.SMTPNotSupported
        | aiosmtplib.SMTPHeloError,
    )


# --- files -----------------------------------------------------------------------------------


def write_eml(
    folder: Path, message: EmailMessage, slug: str, *, not_before: float | None = None
) -> Path:
    """Write ``message`` to ``folder/<UTC time>-<slug>.eml`` (never over another file),
    whole or not at all; ``not_before`` becomes its modification time (the spool's
    next-attempt time)."""
    stamp = datetime.now(UTC).strftime(_STAMP_FORMAT)
    return _write_new(
        folder, f"{stamp}-{_slug(slug)}", message.as_bytes(policy=policy.SMTP), not_before
    )


def _write_new(folder: Path, base: str, data: bytes, not_before: float | None = None) -> Path:
    """``data`` as a new file ``folder/<base>.eml`` (``<base>-2.eml``, … when taken):
    written to a hidden temporary file, synced, then linked into place."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".tmp-{secrets.token_hex(8)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if not_before is not None:
            _set_not_before(tmp, not_before)
        for n in range(1, 1000):
            path = folder / (f"{base}.eml" if n == 1 else f"{base}-{n}.eml")
            try:
                os.link(tmp, path)  # unlike a rename, never replaces a file
            except FileExistsError:
                continue
            _sync_folder(folder)
            return path
        raise FileExistsError(f"no free file name for {base}.eml in {folder}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def due_files(folder: Path, now: float) -> list[Path]:
    """The spooled messages in ``folder`` whose next-attempt time is ``now`` or earlier,
    the longest due first."""
    due: list[tuple[float, str, Path]] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        if entry.name.startswith(".") or not entry.name.endswith(".eml"):
            continue
        try:
            mtime = entry.stat().st_mtime
        except FileNotFoundError:
            continue
        if mtime <= now:
            due.append((mtime, entry.name, Path(entry.path)))
    return [path for _, _, path in sorted(due)]


def queued_time(path: Path) -> float | None:
    """When a spooled message was written (the time in its name; ``None`` for a file
    named otherwise, which is retried without a time limit)."""
    match = _STAMP.match(path.name)
    if match is None:
        return None
    stamp = datetime.strptime(match.group(1), _STAMP_FORMAT).replace(tzinfo=UTC)
    return stamp.timestamp()


def _set_not_before(path: Path, when: float) -> None:
    os.utime(path, (when, when))


def _sync_folder(folder: Path) -> None:
    """Make a new name in ``folder`` survive a power cut (best effort)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _slug(text: str) -> str:
    return _SLUG_UNSAFE.sub("-", text.lower()).strip("-")[:80] or "message"
