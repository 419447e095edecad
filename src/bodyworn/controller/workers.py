"""The controller's background services as one: started and stopped with the app, and
restarted in place after a firmware install.

A restart here is in-process: each service's loop is stopped (an upload in flight is
abandoned and redone, as after any stop), the system's settings are read again, every
loop is started afresh, and each known docking station is asked what its bays hold so
that docked cameras go through the on-dock sequence again (which upgrades their
firmware). On-dock work already running on its threads finishes as it would have; the
web server and its open connections are not touched. docs/operations.md says what this
means for an administrator.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import Protocol

import structlog

from bodyworn.controller.context import ControllerContext
from bodyworn.controller.system import service as system

log = structlog.get_logger(__name__)


class Service(Protocol):
    """A background service: started on the running event loop, stopped and awaited."""

    def start(self) -> None:
        """Start on the running event loop."""
        ...

    async def stop(self) -> None:
        """Stop and wait for it."""
        ...


class Workers:
    """The services in their start order (ports.Services)."""

    def __init__(self, ctx: ControllerContext, services: list[tuple[str, Service]]) -> None:
        self.ctx = ctx
        self._services = services
        self.started_at: datetime | None = None
        self.restarts = 0
        self.last_reason: str | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def names(self) -> list[str]:
        """The services, in start order."""
        return [name for name, _ in self._services]

    def start(self) -> None:
        """Start every service (the app's lifespan)."""
        for _, service in self._services:
            service.start()
        self.started_at = self.ctx.clock.now()

    async def stop(self) -> None:
        """Stop every service, the last started first."""
        for name, service in reversed(self._services):
            try:
                await service.stop()
            except Exception:  # the others must still stop
                log.exception("services.stop_failed", service=name)

    async def restart(self, reason: str) -> None:
        """Stop everything, read the settings again, start everything, resync the docks."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            log.info("services.restarting", reason=reason, services=self.names)
            await self.stop()
            with self.ctx.factory() as session:
                row = system.settings_if_set_up(session)
            if row is not None:
                self.ctx.apply_system(row)
            self.start()
            self.restarts += 1
            self.last_reason = reason
            self.resync()
            log.info("services.restarted", reason=reason, restarts=self.restarts)

    def resync(self) -> None:
        """Cameras in their bays go through the on-dock sequence again (a thread)."""
        docking = self.ctx.docking
        if docking is not None:
            threading.Thread(target=docking.resync, name="dock-resync", daemon=True).start()
