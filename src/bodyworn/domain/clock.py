"""The clock every feature reads time from: UTC inside, moved by NTP or by hand."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current time (aware, UTC)."""
        ...


def utcnow() -> datetime:
    """Return the host's current time as an aware UTC datetime."""
    return datetime.now(UTC)


class SystemClock:
    """The host clock corrected by an offset (measured from NTP or set by hand)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    @property
    def offset(self) -> timedelta:
        """The correction applied to the host clock."""
        with self._lock:
            return self._offset

    def set_offset(self, offset: timedelta) -> None:
        """Apply a new correction, e.g. one measured from an NTP server."""
        with self._lock:
            self._offset = offset

    def set_time(self, when: datetime) -> None:
        """Set the clock by hand so that now() returns `when` at this instant."""
        if when.tzinfo is None:
            raise ValueError("time must be timezone-aware")
        with self._lock:
            self._offset = when.astimezone(UTC) - utcnow()

    def now(self) -> datetime:
        """Return the corrected current time."""
        with self._lock:
            return utcnow() + self._offset


class ManualClock:
    """A clock that only moves when told to; tests use it to jump weeks without sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime(2026, 1, 1, tzinfo=UTC)).astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the held time."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (or back, with a negative delta)."""
        with self._lock:
            self._now += delta

    def set_time(self, when: datetime) -> None:
        """Jump to `when`."""
        if when.tzinfo is None:
            raise ValueError("time must be timezone-aware")
        with self._lock:
            self._now = when.astimezone(UTC)
