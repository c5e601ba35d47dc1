"""A real SMTP server (aiosmtpd) the SMTP fault tests can take down, bring back and script.

:class:`FaultySmtp` listens on one fixed port of 127.0.0.1 (the address in
``TENDERO_SMTP_URL`` stays the same while the server is down: connections are refused,
as from a mail server that is off). It can answer the message's data with a temporary
``451`` a number of times, refuse chosen recipients for good with ``550``, or accept
connections and never say a word (a server that hangs). Every message it accepts is
kept, with the number of attempts it saw.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, Envelope, Session


def reserved_port() -> int:
    """A port nobody listens on (bound once, then released for the server to take)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Accepted:
    recipients: list[str]
    message: EmailMessage


@dataclass
class FaultySmtp:
    """See the module doc. ``temporary_failures``: how many DATA commands get ``451``
    before one is accepted; ``refused``: recipients answered ``550`` at RCPT."""

    port: int = field(default_factory=reserved_port)
    temporary_failures: int = 0
    refused: set[str] = field(default_factory=set)
    accepted: list[Accepted] = field(default_factory=list)
    data_attempts: int = 0
    rcpt_attempts: dict[str, int] = field(default_factory=dict)
    _server: asyncio.Server | None = None

    def url(self, **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return f"smtp://127.0.0.1:{self.port}" + (f"?{query}" if query else "")

    def to(self, address: str) -> list[EmailMessage]:
        return [a.message for a in self.accepted if address in a.recipients]

    async def start(self) -> None:
        """Listen (again) on the port: the server is up."""
        self._server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(self, hostname="smtp.test"), "127.0.0.1", self.port, reuse_address=True
        )

    async def start_silent(self) -> None:
        """Accept connections and never answer (no greeting): a server that hangs."""
        self._server = await asyncio.get_running_loop().create_server(
            asyncio.Protocol, "127.0.0.1", self.port, reuse_address=True
        )

    async def stop(self) -> None:
        """Stop listening: connections are refused until :meth:`start`."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    # aiosmtpd handler hooks

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        self.rcpt_attempts[address] = self.rcpt_attempts.get(address, 0) + 1
        if address in self.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.data_attempts += 1
        if self.temporary_failures > 0:
            self.temporary_failures -= 1
            return "451 4.3.0 Try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[arg-type]
        assert isinstance(message, EmailMessage)
        self.accepted.append(Accepted(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"
