"""The content destination's categories: read by the deliver loop, used by docking cameras.

The deliver loop reads them on its own event loop with its one client (the client keeps
them a day) and leaves them here. A camera docking on a worker thread takes them from
here; when they are older than a day it asks the loop to read them and waits for that one
read (cameras docked together wait for the same read). Nothing here starts an event loop
of its own: a thread that finds no deliver loop running (tests driving the engine by
hand) uses what it has.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import httpx
import structlog

from bodyworn.cdclient.capabilities import Category
from bodyworn.cdclient.errors import CDError
from bodyworn.domain.clock import Clock

log = structlog.get_logger(__name__)
# After a failed read, cameras docking in the next minute do not wait for another.
QUIET_AFTER_FAILURE = timedelta(minutes=1)


class CategoriesCache:
    """The last list the loop read, and when."""

    def __init__(self, clock: Clock, max_age: timedelta, wait_s: float,
                 read: Callable[[], Awaitable[tuple[Category, ...]]]) -> None:
        self._clock = clock
        self._max_age = max_age
        self._wait_s = wait_s
        self._read = read
        self._found: tuple[tuple[Category, ...], datetime] | None = None
        self._failed_at: datetime | None = None
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """The deliver loop's event loop while it runs (None when it stops)."""
        self._loop = loop

    def current(self) -> tuple[Category, ...]:
        """What was read last, however old (empty before the first read)."""
        found = self._found
        return found[0] if found else ()

    async def refresh(self) -> tuple[Category, ...]:
        """Read them now (on the loop); CDError and LookupError go to the caller."""
        found = await self._read()
        self._found, self._failed_at = (found, self._clock.now()), None
        return found

    def get(self) -> tuple[Category, ...]:
        """From a worker thread: fresh ones, reading them through the loop when too old."""
        with self._lock:
            now = self._clock.now()
            found = self._found
            if found is not None and now - found[1] < self._max_age:
                return found[0]
            failed = self._failed_at
            loop = self._loop
            if (failed is not None and now - failed < QUIET_AFTER_FAILURE) or loop is None \
                    or loop.is_closed() or _running_loop() is loop:
                return self.current()
            future = asyncio.run_coroutine_threadsafe(self.refresh(), loop)
            try:
                return future.result(self._wait_s)
            except (CDError, LookupError, httpx.HTTPError, RuntimeError,
                    concurrent.futures.TimeoutError, concurrent.futures.CancelledError) as exc:
                future.cancel()
                log.info("offload.categories_unavailable", error=str(exc))
                self._failed_at = now
                return self.current()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
