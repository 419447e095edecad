"""What every job of the offload engine shares: its tunables, the back-off, a transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from bodyworn.cdclient.client import RetryPolicy
from bodyworn.controller.settings import ControllerSettings

T = TypeVar("T")


@dataclass(frozen=True)
class OffloadConfig:
    """Tunables of the engine (the defaults suit one controller with a few docks)."""

    max_ingests: int = 4
    # Clips of one camera in flight at once: while one is fsynced and confirmed, the next
    # one is already arriving.
    ingests_per_camera: int = 4
    max_deliveries: int = 4
    # Clips of a recording still arriving that may go to the CD at once ahead of the rest
    # (0: none; a recording is then sent once it is whole in the spool).
    early_uploads: int = 2
    interval_s: float = 2.0
    # A recording's own failures (the CD took others) wait this long, doubling, capped.
    backoff_initial_s: float = 5.0
    backoff_max_s: float = 600.0
    # While the CD is down as a whole, how long between two probes of it (one cheap
    # request each): it is used again at most this long after it answers.
    probe_interval_s: float = 10.0
    categories_max_age: timedelta = timedelta(days=1)
    # How long (real seconds) a docking camera waits for the deliver loop to read the
    # CD's categories when the list it has is too old.
    categories_wait_s: float = 120.0
    # The client's own retries per request; the loop's back-off comes on top.
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(
        attempts=4, timeout=60.0, wait_initial=0.5, wait_max=5.0))

    @classmethod
    def from_settings(cls, settings: ControllerSettings) -> OffloadConfig:
        """The tunables the controller's start-up settings give."""
        return cls(
            interval_s=settings.offload_interval_s,
            max_ingests=settings.offload_max_ingests,
            ingests_per_camera=settings.offload_ingests_per_camera,
            max_deliveries=settings.offload_max_deliveries,
            early_uploads=settings.offload_early_uploads,
        )


def backoff(cfg: OffloadConfig, failures: int) -> timedelta:
    """How long to wait after `failures` failures in a row (doubling, capped)."""
    seconds = cfg.backoff_initial_s * (2 ** max(0, min(failures - 1, 16)))
    return timedelta(seconds=min(seconds, cfg.backoff_max_s))


async def in_transaction(factory: sessionmaker[Session], fn: Callable[[Session], T]) -> T:
    """`fn(session)` in one transaction, on a worker thread (from the deliver loop)."""

    def run() -> T:
        with factory() as session, session.begin():
            return fn(session)

    return await asyncio.to_thread(run)
