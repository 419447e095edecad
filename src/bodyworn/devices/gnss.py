"""A GNSS position source that walks a scripted route, with a time to first fix.

Only outdoors gives a fix (the manual advises turning location data off indoors). Assisted
GNSS (ephemeris from the system) shortens the first fix; the figures are our assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

COLD_FIRST_FIX = timedelta(seconds=35)
ASSISTED_FIRST_FIX = timedelta(seconds=6)


@dataclass(frozen=True)
class Position:
    """A fix: latitude and longitude in degrees (WGS 84) at a time."""

    latitude: float
    longitude: float
    at: datetime

    def __post_init__(self) -> None:
        if not -90 <= self.latitude <= 90 or not -180 <= self.longitude <= 180:
            raise ValueError("latitude or longitude out of range")

    def __str__(self) -> str:
        north = "N" if self.latitude >= 0 else "S"
        east = "E" if self.longitude >= 0 else "W"
        return f"{abs(self.latitude):.5f} {north} {abs(self.longitude):.5f} {east}"


@dataclass(frozen=True)
class Waypoint:
    """Where the route is at a time (UTC)."""

    at: datetime
    latitude: float
    longitude: float


class Route:
    """A path in time: straight lines between waypoints, standing still before and after."""

    def __init__(self, waypoints: list[Waypoint]) -> None:
        if not waypoints:
            raise ValueError("a route needs at least one waypoint")
        self.waypoints = sorted(waypoints, key=lambda point: point.at)

    def at(self, moment: datetime) -> tuple[float, float]:
        """Latitude and longitude at `moment`."""
        points = self.waypoints
        if moment <= points[0].at:
            return points[0].latitude, points[0].longitude
        for before, after in pairwise(points):
            if moment <= after.at:
                span = (after.at - before.at).total_seconds()
                share = (moment - before.at).total_seconds() / span if span else 1.0
                return (
                    before.latitude + (after.latitude - before.latitude) * share,
                    before.longitude + (after.longitude - before.longitude) * share,
                )
        return points[-1].latitude, points[-1].longitude


class Receiver:
    """The camera's GNSS receiver: switched on with the camera, fixes after a while outdoors."""

    def __init__(self, route: Route | None = None) -> None:
        self.route = route
        self._on_since: datetime | None = None
        self._assisted = False

    def switch_on(self, now: datetime, *, assisted: bool) -> None:
        """Start searching for satellites."""
        if self._on_since is None:
            self._on_since = now
            self._assisted = assisted

    def switch_off(self) -> None:
        """Stop the receiver (the next start is a new first fix)."""
        self._on_since = None

    @property
    def on(self) -> bool:
        """Whether the receiver runs."""
        return self._on_since is not None

    def first_fix_at(self) -> datetime | None:
        """When the first fix comes (None while switched off)."""
        if self._on_since is None:
            return None
        return self._on_since + (ASSISTED_FIRST_FIX if self._assisted else COLD_FIRST_FIX)

    def position(self, now: datetime, *, outdoor: bool) -> Position | None:
        """The fix at `now`, or None without one."""
        fix_at = self.first_fix_at()
        if self.route is None or fix_at is None or now < fix_at or not outdoor:
            return None
        latitude, longitude = self.route.at(now)
        return Position(latitude, longitude, now)

    def track(
        self, start: datetime, end: datetime, step: timedelta, *, outdoor: bool
    ) -> list[Position]:
        """Fixes from `start` to `end` every `step` (times without a fix are left out)."""
        found: list[Position] = []
        moment = start
        while moment <= end:
            fix = self.position(moment, outdoor=outdoor)
            if fix is not None:
                found.append(fix)
            moment += step
        return found
