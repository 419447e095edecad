"""The RFID reader for self-assign tags (the tags and their enrolment: domain/rfid.py).

The reader works in two places: on a system controller, where each tap asks the system for
a camera, and on the administrator's computer, where taps register a new tag for a user.
The first time it is plugged into a controller it takes new firmware and its LED turns
green after about 15 seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum

from bodyworn.domain.clock import Clock
from bodyworn.domain.led import AMBER, GREEN, OFF, LedState
from bodyworn.domain.rfid import Tag

FIRMWARE_TIME = timedelta(seconds=15)


class Host(StrEnum):
    """Where the reader is plugged in."""

    NONE = "none"
    CONTROLLER = "controller"
    COMPUTER = "computer"


TapListener = Callable[[Tag], None]


class RfidReader:
    """A USB RFID reader: reports taps to whatever it is plugged into."""

    def __init__(self, serial: str, clock: Clock) -> None:
        self.serial = serial
        self._clock = clock
        self.host = Host.NONE
        self._listener: TapListener | None = None
        self._controller_firmware = False
        self._ready_at: datetime | None = None

    def plug_into(self, host: Host, listener: TapListener) -> None:
        """Plug the reader into a controller or a computer; taps go to `listener`."""
        self.host = host
        self._listener = listener
        now = self._clock.now()
        if host is Host.CONTROLLER and not self._controller_firmware:
            self._ready_at = now + FIRMWARE_TIME
        else:
            self._ready_at = now

    def unplug(self) -> None:
        """Unplug the reader."""
        self._settle()
        self.host = Host.NONE
        self._listener = None
        self._ready_at = None

    def _settle(self) -> None:
        ready = self._ready_at is not None and self._clock.now() >= self._ready_at
        if self.host is Host.CONTROLLER and ready:
            self._controller_firmware = True

    @property
    def ready(self) -> bool:
        """Whether a tap would be reported now."""
        self._settle()
        return (
            self.host is not Host.NONE
            and self._ready_at is not None
            and self._clock.now() >= self._ready_at
        )

    @property
    def led(self) -> LedState:
        """The reader's LED: amber while it takes firmware, green when ready."""
        if self.host is Host.NONE:
            return OFF
        return GREEN if self.ready else AMBER

    def tap(self, tag: Tag) -> bool:
        """Hold `tag` to the reader; return whether the tap was reported."""
        if not self.ready or self._listener is None:
            return False
        self._listener(tag)
        return True
