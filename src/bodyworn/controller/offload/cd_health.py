"""The content destination's health as the deliver loop sees it: down, probes, recovery.

The CD is *down* when it failed as a whole: busy or unreachable through every retry,
out of storage (507), our credentials or its certificate refused. Either on the service
path (users, devices, categories) or on the recordings' path (none of a pass's
recordings went through, and one failed that way; a single 507 is enough). While it is
down the loop leaves it alone for `probe_interval_s`, then probes it with one cheap
request on the recordings' path; when that is answered, every waiting recording may go
again at once and one goes first. The state follows the last error: a 507 reads "out of
storage" until another error or a delivery replaces it.

Only a recording the CD takes again ends an outage on the recordings' path: users,
devices and categories going through say nothing about recordings (the dashboard stayed
green through 503s on recordings when it listened to them).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from bodyworn.cdclient.errors import (
    CDAuthError,
    CDError,
    CDTLSError,
    CDUnavailable,
    InsufficientStorage,
)
from bodyworn.controller.events import CdState
from bodyworn.controller.health_state import HealthState
from bodyworn.controller.offload.base import OffloadConfig
from bodyworn.domain.clock import Clock

log = structlog.get_logger(__name__)

# Failures of the CD as a whole, not of one recording: they pause every delivery.
CD_DOWN: tuple[type[CDError], ...] = (CDUnavailable, InsufficientStorage, CDAuthError,
                                      CDTLSError)


def is_cd_down(exc: BaseException) -> bool:
    """Whether a failure is the CD's as a whole (see CD_DOWN)."""
    return isinstance(exc, CD_DOWN)


class CdHealthTracker:
    """Whether the CD is down, until when the loop leaves it alone, and what pages show."""

    def __init__(self, config: OffloadConfig, clock: Clock, health: HealthState) -> None:
        self._config = config
        self._clock = clock
        self._health = health
        # When the next probe is due while the CD is down (None: not down).
        self._retry_at: datetime | None = None
        # Whether the recordings' path failed: then only a delivered recording ends it.
        self._recordings = False

    @property
    def down(self) -> bool:
        """Whether the CD failed as a whole and no probe or delivery has found it back."""
        return self._retry_at is not None

    @property
    def retry_at(self) -> datetime | None:
        """When the loop probes the CD next (None while it is not down)."""
        return self._retry_at

    def paused(self, now: datetime) -> bool:
        """Whether the loop leaves the CD alone now (down, and the next probe not due)."""
        return self._retry_at is not None and now < self._retry_at

    def trouble(self, exc: CDError, *, recordings: bool = False) -> datetime:
        """The CD failed as a whole: down until a probe; when that probe is due.

        The same short wait every time, not a growing one: a probe costs one request,
        and the CD should be used again as soon as it answers.
        """
        self._recordings = self._recordings or recordings
        retry_at = self._clock.now() + timedelta(seconds=self._config.probe_interval_s)
        self._retry_at = retry_at
        state = CdState.OUT_OF_STORAGE if isinstance(exc, InsufficientStorage) else CdState.LOST
        self._health.set_cd(state, str(exc)[:300], retry_at)
        log.warning("offload.cd_down", state=str(state), error=str(exc),
                    recordings=self._recordings, retry_at=retry_at.isoformat())
        return retry_at

    def refused(self, exc: CDError) -> datetime | None:
        """The CD answered, but refused every recording of a pass (403, 404, …).

        Each recording waits its own back-off; the recordings' path is not working, so
        it reads as lost (with these words) until a recording is taken. While the CD is
        down this was the probe's canary: it stays down until the next probe, returned.
        """
        self._recordings = True
        if self._retry_at is not None:
            self._retry_at = self._clock.now() + timedelta(
                seconds=self._config.probe_interval_s)
        self._health.set_cd(CdState.LOST, str(exc)[:300], self._retry_at)
        return self._retry_at

    def accepted(self) -> bool:
        """The CD took a recording: whatever it was, it is over. True if it was down."""
        was = not self._health.cd.ok
        self._retry_at, self._recordings = None, False
        self._health.set_cd(CdState.OK)
        return was

    @property
    def recordings_failing(self) -> bool:
        """Whether the recordings' path failed last (only a delivery ends that)."""
        return self._recordings

    def answered(self, *, waiting: bool) -> None:
        """Users, devices and categories went through, and no recording was due.

        That ends an outage of the service path. One of the recordings' path lasts while
        a recording waits for delivery (`waiting`), however well the rest goes.
        """
        if self._recordings and waiting:
            return
        self._retry_at, self._recordings = None, False
        self._health.set_cd(CdState.OK)
