"""A real SMTP server (aiosmtpd) on loopback for the notification tests.

STARTTLS (required before anything else) or implicit TLS with a certificate of a test CA,
an optional login, and a behaviour that can change while it runs: accept, refuse every
mail (451), or drop the connection at DATA without an answer.
"""

from __future__ import annotations

import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.x509_factory import Issued, make_ca, server

ACCEPT, REFUSE, DROP = "accept", "refuse", "drop"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    """One mail the server accepted."""

    sender: str
    recipients: list[str]
    message: Message


@dataclass
class Handler:
    """What the server does with each mail."""

    behaviour: str = ACCEPT
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.attempts += 1
            behaviour = self.behaviour
        if behaviour == REFUSE:
            return "451 4.3.0 Try again later"
        if behaviour == DROP:
            server.transport.abort()
            return "421 gone"
        with self.lock:
            message = message_from_bytes(envelope.content, policy=policy.default)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


@dataclass
class SmtpServer:
    """A running server and what a client needs to reach it."""

    host: str
    port: int
    security: str
    ca_pem: str
    handler: Handler
    username: str | None
    password: str | None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)


@contextmanager
def tls_material() -> Iterator[tuple[Issued, Path, Path]]:
    """A test CA and a loopback server certificate written where ssl can load them."""
    ca = make_ca("Test mail CA")
    cert = server(ca)
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = Path(tmp) / "server.crt", Path(tmp) / "server.key"
        cert_path.write_bytes(cert.cert_pem)
        key_path.write_bytes(cert.key_pem)
        yield ca, cert_path, key_path


@contextmanager
def smtp_server(security: str = "starttls", *, username: str | None = None,
                password: str | None = None, port: int | None = None) -> Iterator[SmtpServer]:
    """Start a server; `security` is "starttls" or "tls" (implicit)."""
    handler = Handler()
    with tls_material() as (ca, cert_path, key_path):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_path, key_path)

        def authenticator(_server: Any, _session: Any, _envelope: Any, _mechanism: str,
                          data: Any) -> AuthResult:
            ok = (isinstance(data, LoginPassword) and username is not None
                  and data.login.decode() == username and data.password.decode() == password)
            return AuthResult(success=ok, handled=False)

        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": port or free_port(),
                                  "server_hostname": "localhost"}
        if security == "tls":
            kwargs["ssl_context"] = context
        else:
            kwargs.update(tls_context=context, require_starttls=True)
        if username is not None:
            kwargs.update(authenticator=authenticator, auth_required=True)
            if security == "tls":
                # aiosmtpd counts only STARTTLS as TLS for AUTH; this connection is TLS from
                # its first byte.
                kwargs["auth_require_tls"] = False
        controller = Controller(handler, **kwargs)
        controller.start()
        try:
            yield SmtpServer("127.0.0.1", kwargs["port"], security,
                             ca.cert_pem.decode(), handler, username, password)
        finally:
            controller.stop()
