"""Helpers for tests of request-size limits: stream a huge body at a real server.

In-process test clients read the whole request body before the app sees any of it, so a
test that a server refuses a body *without reading it all* needs a real socket: send the
head, then the body a chunk at a time, and stop as soon as the server answers.
"""

from __future__ import annotations

import select
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

MIB = 1024 * 1024
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Refusal:
    """What came back: the status (None: the connection closed first) and what was sent."""

    status: int | None
    body_bytes_sent: int


def deep_json(depth: int = 100_000) -> bytes:
    """An array nested `depth` levels deep."""
    return b"[" * depth + b"]" * depth


def stream_body(url: str, *, method: str = "POST", total: int = 50 * MIB,
                chunked: bool = False, headers: dict[str, str] | None = None,
                timeout: float = 20.0) -> Refusal:
    """Send a `total`-byte body to `url` (Content-Length, or chunked) until the server answers.

    Returns the status of the answer and how many body bytes were handed to the socket
    before it came (an upper bound of what the server may have read).
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    raw = socket.create_connection((host, port), timeout=timeout)
    sock: socket.socket = raw
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(raw, server_hostname=host)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    sent = 0  # body bytes (framing aside) fully handed to the socket
    piece = b"x" * CHUNK
    pending = b""
    with sock:
        sock.setblocking(False)
        try:
            while sent < total or pending:
                readable, writable, _ = select.select([sock], [sock], [], timeout)
                if readable or not writable:
                    break
                if not pending:
                    part = piece[: total - sent]
                    pending = (f"{len(part):x}\r\n".encode() + part + b"\r\n"
                               if chunked else part)
                    sent += len(part)
                    if chunked and sent >= total:
                        pending += b"0\r\n\r\n"
                try:
                    pending = pending[sock.send(pending):]
                except (BlockingIOError, ssl.SSLWantWriteError):
                    continue
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.setblocking(True)
        sock.settimeout(timeout)
        try:
            head = sock.recv(4096)
        except (ConnectionResetError, TimeoutError, ssl.SSLError):
            head = b""
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else None
    return Refusal(status, sent)
