"""An ASGI app (the embedded CD's Swift API) served by uvicorn on a loopback port.

In-process (httpx's ASGI transport) there is no connection to drop and no client timeout
that applies, so tests of resets and slow answers talk to a real server: uvicorn in a
thread of its own, with its own event loop, on a port the kernel picks.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from bodyworn.destination.swift import SwiftApp


def loopback_socket() -> socket.socket:
    """A socket bound to a free loopback port (its URL known before anything serves it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(app: ASGIApp, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL (`http://127.0.0.1:<port>`).

    `sock`: a socket from `loopback_socket` to serve on (default: a fresh one).
    """
    sock = sock or loopback_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(
        app, lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=2,
    ))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def wait_idle(swift: SwiftApp, seconds: float = 5.0) -> None:
    """Wait until no request is open at the CD (a dropped one may take a moment)."""
    deadline = time.monotonic() + seconds
    while swift.requests.in_flight:
        if time.monotonic() > deadline:
            raise AssertionError(f"{swift.requests.in_flight} requests still open at the CD")
        time.sleep(0.01)


class RequestLog:
    """An ASGI wrapper noting the method and path of every request that passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.calls.append((str(scope["method"]), str(scope["path"])))
        await self.app(scope, receive, send)

    def paths(self, method: str, suffix: str = "") -> list[str]:
        """Paths of the `method` requests that end with `suffix`, in order."""
        return [p for m, p in self.calls if m == method and p.endswith(suffix)]
