"""Serving the active certificate, and switching to another one without a restart.

The server's TLS context has an SNI callback, which OpenSSL runs for every new connection
(with or without a server name in it). The callback hands the connection the context of
the active certificate, built when that was activated. Connections made before keep the
certificate they started with; new ones get the new one. The private key never touches
the disk: it is handed to OpenSSL through an anonymous in-memory file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import ssl
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives import serialization

from bodyworn.controller.certificates.service import ServedPair


@contextlib.contextmanager
def _private_file(data: bytes) -> Iterator[str]:
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("bodyworn-tls", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.NamedTemporaryFile() as fh:  # 0600, removed on close
        fh.write(data)
        fh.flush()
        yield fh.name


def server_context(pair: ServedPair) -> ssl.SSLContext:
    """A TLS 1.2+ server context for one certificate chain and key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # The key is encrypted on its way through the in-memory file with a one-time password.
    password = secrets.token_bytes(32)
    key = serialization.load_pem_private_key(pair.key_pem, None)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(password))
    with _private_file(pair.chain_pem + encrypted) as path:
        context.load_cert_chain(path, password=password)
    return context


class CertificateSwitch:
    """The one context the server listens with, serving whichever certificate is active."""

    def __init__(self, pair: ServedPair) -> None:
        self._lock = threading.Lock()
        self._active = server_context(pair)
        self.fingerprint_sha256 = pair.fingerprint_sha256
        self.context = server_context(pair)
        self.context.sni_callback = self._pick

    def _pick(self, connection: Any, _server_name: str | None, _base: ssl.SSLContext) -> None:
        active = self._active
        if connection.context is not active:
            connection.context = active

    def switch(self, pair: ServedPair) -> None:
        """Serve `pair` on every connection from now on."""
        context = server_context(pair)
        with self._lock:
            self._active = context
            self.fingerprint_sha256 = pair.fingerprint_sha256

    def uvicorn_factory(self, _config: Any, _default: Any) -> ssl.SSLContext:
        """For uvicorn's `ssl_context_factory`."""
        return self.context
