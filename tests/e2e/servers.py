"""ASGI apps served by uvicorn on a thread of the test process, on a free port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from tests.e2e.conftest import free_port


@contextmanager
def serving(app: Any, *, cert: tuple[Path, Path] | None = None) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (HTTPS with `cert`); yields its base URL."""
    port = free_port()
    options: dict[str, Any] = {}
    if cert is not None:
        options = {"ssl_certfile": str(cert[0]), "ssl_keyfile": str(cert[1])}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", timeout_graceful_shutdown=1,
                                           **options))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"{'https' if cert else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
