"""What the background work found out, for the pages: the CD, the spool, the disk, time.

The offload engine writes the content destination's state and the spool's trouble (and,
through integrity/, the system binding and audit anchoring at the CD), the dashboard's
storage check writes how full the disk is, docks/ whether each docking station answers,
the time loop (system/) the last NTP measurement, and every answer of the CD its clock
(its `Date` header); pages read them. Each change of the CD's, a station's or the disk's
state is published once on the event bus (CdHealthChanged, StationHealthChanged,
StorageLow), never a repeat.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from bodyworn.controller.events import (
    CdHealthChanged,
    CdState,
    EventBus,
    StationHealthChanged,
    StorageLow,
)
from bodyworn.domain.clock import Clock


@dataclass(frozen=True)
class CdHealth:
    """The content destination's connection as the deliver loop last found it.

    `detail` is the last error as the CD (or the network) gave it, replaced by each new
    one; `retry_at` when the loop tries the CD again (None while it is fine).
    """

    state: CdState = CdState.OK
    detail: str = ""
    checked_at: datetime | None = None
    retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        """Whether recordings can be delivered."""
        return self.state is CdState.OK


class BindingState(StrEnum):
    """What the controller knows of its binding to the CD (docs/integrity.md)."""

    UNCHECKED = "unchecked"
    BOUND = "bound"
    UNSUPPORTED = "unsupported"
    REFUSED = "refused"


@dataclass(frozen=True)
class Binding:
    """The binding as last checked, and against which CD client (its id())."""

    state: BindingState = BindingState.UNCHECKED
    detail: str = ""
    checked_at: datetime | None = None
    client: int | None = None


@dataclass(frozen=True)
class AnchorStatus:
    """Where audit anchoring at the CD stands (a conflict stops it)."""

    kept: bool = True
    conflict: str = ""
    last_seq: int = 0
    last_entry: int = 0


@dataclass(frozen=True)
class StationHealth:
    """Whether a docking station answered when last asked, and since when it does (not)."""

    answering: bool
    checked_at: datetime
    since: datetime
    detail: str = ""


@dataclass(frozen=True)
class NtpStatus:
    """The last time measurement: which server answered and the correction, or why none."""

    measured_at: datetime
    server: str | None
    offset_s: float | None
    error: str | None = None
    from_cd: bool = False

    @property
    def ok(self) -> bool:
        """Whether the last measurement succeeded."""
        return self.error is None


@dataclass(frozen=True)
class CdClock:
    """The content destination's clock as its last answer's Date header gave it."""

    cd_time: datetime
    seen_at: datetime

    @property
    def skew_s(self) -> float:
        """How far the CD's clock is ahead of ours (negative: behind). The header counts
        whole seconds, so this is known to within a second."""
        return (self.cd_time - self.seen_at).total_seconds()


class HealthState:
    """Shared by the engine (writes) and the pages (read); safe from any thread."""

    def __init__(self, events: EventBus, clock: Clock) -> None:
        self._events = events
        self._clock = clock
        self._lock = threading.Lock()
        self._cd = CdHealth()
        self._storage_low = False
        self._stations: dict[str, StationHealth] = {}
        # Set while the spool cannot be written (disk full or failing): ingest pauses and
        # cameras keep their clips.
        self.spool_trouble: str | None = None
        # The system binding at the CD and audit anchoring there (integrity/ writes them;
        # each is replaced whole, so readers on other threads see one or the other).
        self.binding = Binding()
        self.anchors = AnchorStatus()
        # The last NTP measurement (system/timekeeping.py), the CD's clock as last seen.
        self.ntp: NtpStatus | None = None
        self.cd_clock: CdClock | None = None

    @property
    def cd(self) -> CdHealth:
        """The CD's last known state (fine until told otherwise)."""
        return self._cd

    @property
    def cd_storage_full(self) -> str | None:
        """Why the CD is out of storage (its 507) while that is its state, else None."""
        cd = self._cd
        if cd.state is not CdState.OUT_OF_STORAGE:
            return None
        return cd.detail or "out of storage"

    def set_cd(self, state: CdState, detail: str = "", retry_at: datetime | None = None
               ) -> None:
        """Record the CD's state; CdHealthChanged when it differs from the last one."""
        now = self._clock.now()
        with self._lock:
            changed = state is not self._cd.state
            self._cd = CdHealth(state, detail, now, retry_at)
        if changed:
            self._events.publish(CdHealthChanged(state, detail, now))

    def station(self, serial: str) -> StationHealth | None:
        """A docking station's state as last checked (None: not checked yet)."""
        return self._stations.get(serial)

    def note_station(self, serial: str, answering: bool, detail: str = "") -> None:
        """Record a check of a station; StationHealthChanged when it changed (a first
        check that finds it answering is no change)."""
        now = self._clock.now()
        with self._lock:
            old = self._stations.get(serial)
            changed = (old.answering if old else True) != answering
            since = old.since if old is not None and old.answering == answering else now
            self._stations[serial] = StationHealth(answering, now, since, detail)
        if changed:
            self._events.publish(StationHealthChanged(serial, answering, detail, now))

    @property
    def storage_low(self) -> bool:
        """Whether the controller's storage was below the low mark when last checked."""
        return self._storage_low

    def note_storage(self, free_fraction: float, low: bool) -> None:
        """Record the storage check; StorageLow when it crosses the mark either way."""
        with self._lock:
            changed = low != self._storage_low
            self._storage_low = low
        if changed:
            self._events.publish(StorageLow(low, free_fraction, self._clock.now()))

    def cd_answered(self, status: int | None, date: str | None) -> None:
        """An answer of the CD (any request): keep its clock when it gave a Date header."""
        if not date:
            return
        try:
            cd_time = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return
        if cd_time.tzinfo is None:
            return
        self.cd_clock = CdClock(cd_time, self._clock.now())
