"""Small background loops that live as long as the app (started and stopped by its lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from starlette.concurrency import run_in_threadpool

log = structlog.get_logger(__name__)


class Repeating:
    """Calls a blocking function on a worker thread every `interval_s` seconds.

    For work that falls due with time rather than with a request (a GET must not write):
    the self-assign window lapsing after 15 s, for one.
    """

    def __init__(self, name: str, interval_s: float, fn: Callable[[], object]) -> None:
        self.name = name
        self.interval_s = interval_s
        self._fn = fn
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start on the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop and wait (a call under way finishes on its thread)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await run_in_threadpool(self._fn)
            except Exception:  # the loop outlives a bad round
                log.exception("loop.round_failed", loop=self.name)
            await asyncio.sleep(self.interval_s)
