"""The content destination's health as the deliver loop sees it: failures, pause, 507."""

from __future__ import annotations

from datetime import datetime

import structlog

from bodyworn.cdclient.errors import CDError, InsufficientStorage
from bodyworn.controller.events import CdState
from bodyworn.controller.health_state import HealthState
from bodyworn.controller.offload.base import OffloadConfig, backoff
from bodyworn.domain.clock import Clock

log = structlog.get_logger(__name__)


class CdHealthTracker:
    """Counts the CD's failures, pauses the loop after one, and tells the pages (health)."""

    def __init__(self, config: OffloadConfig, clock: Clock, health: HealthState) -> None:
        self._config = config
        self._clock = clock
        self._health = health
        self._failures = 0
        self._paused_until: datetime | None = None

    @property
    def storage_full(self) -> str | None:
        """Why the CD is out of storage (its 507), until it accepts a recording again."""
        return self._health.cd_storage_full

    def paused(self, now: datetime) -> bool:
        """Whether the loop waits out a back-off after the CD failed."""
        return self._paused_until is not None and now < self._paused_until

    def trouble(self, exc: CDError) -> None:
        """The CD failed a pass (or is full): pause, longer each time, and say so."""
        self._failures += 1
        if isinstance(exc, InsufficientStorage):
            self._health.cd_storage_full = str(exc)
        wait = backoff(self._config, self._failures)
        self._paused_until = self._clock.now() + wait
        self._report(False, str(exc))
        log.warning("offload.cd_paused", error=str(exc), seconds=wait.total_seconds())

    def accepted(self) -> None:
        """The CD took a recording: whatever it was, it is over."""
        self._health.cd_storage_full = None
        self._failures = 0
        self._report(True)

    def answered(self) -> None:
        """Nothing was due but users, devices and categories went through.

        The CD answers again; a full CD stays flagged until it accepts a recording.
        """
        if self._health.cd_storage_full is None:
            self._failures = 0
            self._report(True)

    def failed_all(self, detail: str) -> None:
        """Every delivery of a pass failed."""
        self._report(False, detail)

    def _report(self, ok: bool, detail: str = "") -> None:
        full = self._health.cd_storage_full
        if full:
            detail = f"out of storage: {detail}"
        state = CdState.OK if ok else (CdState.OUT_OF_STORAGE if full else CdState.LOST)
        self._health.set_cd(state, detail[:300])
