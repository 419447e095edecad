"""Holster sensors and their wireless link to a camera.

A sensor is paired once with a user's camera (the camera shows pairing on its wireless LED:
pulsing amber, then green or red). In daily use the camera connects to the sensor only if
the sensor comes within range in the first ten minutes after undocking; once connected,
drawing the weapon from the holster starts a recording.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bodyworn.devices.camera import Camera, CameraError, Holster, Power
from bodyworn.domain.clock import Clock
from bodyworn.domain.profile import Trigger

CONNECT_WINDOW = timedelta(minutes=10)
# Pairing may take up to 20 s per the manual; we settle after 8 s.
PAIRING_TIME = timedelta(seconds=8)
MIN_RANGE_M, MAX_RANGE_M = 5.0, 10.0


class HolsterSensor:
    """A holster sensor with its 6-digit serial number."""

    def __init__(self, serial: str, *, range_m: float = 7.5) -> None:
        if not re.fullmatch(r"\d{6}", serial):
            raise ValueError("a holster sensor serial number has 6 digits")
        if not MIN_RANGE_M <= range_m <= MAX_RANGE_M:
            raise ValueError(f"range must be {MIN_RANGE_M}-{MAX_RANGE_M} m")
        self.serial = serial
        self.range_m = range_m
        self.powered = False
        self.holstered = True


class HolsterLink:
    """The radio between one camera and one holster sensor at a given distance."""

    def __init__(self, camera: Camera, sensor: HolsterSensor, clock: Clock) -> None:
        self.camera = camera
        self.sensor = sensor
        self._clock = clock
        self.distance_m = 1.0
        self.paired = False
        self.connected = False
        self._pairing_until: datetime | None = None
        self._connected_session: datetime | None = None

    @property
    def in_range(self) -> bool:
        """Whether the sensor is close enough to hear."""
        return self.sensor.powered and self.distance_m <= self.sensor.range_m

    def _camera_listening(self) -> bool:
        return (
            not self.camera.docked
            and self.camera.power is Power.ON
            and self.camera.expected_holster == self.sensor.serial
        )

    def sync(self) -> None:
        """Settle pairing and connection up to now."""
        now = self._clock.now()
        if self._pairing_until is not None and now >= self._pairing_until:
            self._pairing_until = None
            self.paired = self.in_range and self._camera_listening()
            self.camera.holster_pairing(Holster.PAIRED if self.paired else Holster.FAILED)
            self.connected = self.paired
        if self.connected and (self.camera.docked or not self.in_range):
            self.connected = False
            if self.camera.holster is Holster.PAIRED:
                self.camera.holster_pairing(Holster.NONE)
        if self.paired and not self.connected and self._camera_listening() and self.in_range:
            undocked = self.camera.undocked_at
            # Past the window the camera stops looking, unless it already found the sensor
            # since this undock (then it picks the link up again when back in range).
            in_window = undocked is not None and now - undocked <= CONNECT_WINDOW
            if in_window or (undocked is not None and self._connected_session == undocked):
                self.connected = True
                self._connected_session = undocked
                self.camera.holster_pairing(Holster.PAIRED)

    def power_sensor(self, on: bool = True) -> None:
        """Connect (or cut) the sensor's power; a first power-up near a listening camera pairs."""
        self.sync()
        self.sensor.powered = on
        if on and not self.paired and self._camera_listening():
            self.camera.holster_pairing(Holster.PAIRING)
            self._pairing_until = self._clock.now() + PAIRING_TIME
        self.sync()

    def move_to(self, distance_m: float) -> None:
        """Put the sensor `distance_m` metres from the camera."""
        self.sync()
        self.distance_m = distance_m
        self.sync()

    def unholster(self) -> bool:
        """Draw from the holster; return whether that started a recording."""
        self.sync()
        self.sensor.holstered = False
        if not self.connected:
            return False
        try:
            return self.camera.trigger(Trigger.UNHOLSTER) is not None
        except CameraError:  # pragma: no cover - trigger refuses by returning None
            return False

    def holster(self) -> None:
        """Put the weapon back."""
        self.sync()
        self.sensor.holstered = True
