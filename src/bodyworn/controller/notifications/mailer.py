"""Sending one mail: the Mailer protocol and its SMTP backend (aiosmtplib).

Anything that sends mail depends on `Mailer` only; the SMTP backend is chosen by the
settings (STARTTLS or implicit TLS, an optional login, an optional CA to trust). Features
that want a mail sent do not call a mailer themselves: they queue it with
`service.queue_mail` in their own transaction and the sender (sender.py) delivers it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

STARTTLS = "starttls"
TLS = "tls"
SECURITY_MODES: dict[str, str] = {STARTTLS: "STARTTLS", TLS: "TLS (implicit)"}
DEFAULT_PORTS: dict[str, int] = {STARTTLS: 587, TLS: 465}


class MailNotSent(Exception):
    """The SMTP server did not accept the mail; `message` says why (never a password)."""


class Mailer(Protocol):
    """Hands one mail to whatever delivers it; returns once it was accepted."""

    async def send(self, message: EmailMessage) -> None:
        """Deliver `message` (its From, To and Message-ID headers are set) or raise MailNotSent."""


@dataclass(frozen=True)
class SmtpConfig:
    """How to reach the SMTP server."""

    host: str
    port: int
    security: str
    from_address: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_pem: str | None = None
    timeout_s: float = 30.0

    def tls_context(self) -> ssl.SSLContext:
        """Verifies the server's certificate and host name, against the given CA if any."""
        if self.ca_pem:
            return ssl.create_default_context(cadata=self.ca_pem)
        return ssl.create_default_context()


def describe(exc: BaseException) -> str:
    """A short reason for the page and the log; aiosmtplib's errors hold no credentials."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"the server answered {exc.code}: {exc.message}".strip()
    if isinstance(exc, aiosmtplib.SMTPConnectError | ConnectionError):
        return f"no connection: {exc}"
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return f"the server closed the connection: {exc}"
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return "the server did not answer in time"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    return f"{type(exc).__name__}: {exc}"


class SmtpMailer:
    """One SMTP session per mail (mail is rare; a held connection would only go stale)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, message: EmailMessage) -> None:
        """Send over TLS (STARTTLS or implicit), logging in when a user name is set."""
        cfg = self.config
        try:
            await aiosmtplib.send(
                message,
                hostname=cfg.host,
                port=cfg.port,
                username=cfg.username or None,
                password=cfg.password if cfg.username else None,
                use_tls=cfg.security == TLS,
                start_tls=cfg.security == STARTTLS,
                tls_context=cfg.tls_context(),
                timeout=cfg.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailNotSent(describe(exc)) from None
