"""The RFID reader for self-assign tags, and the enrolment of a tag for a user.

The reader works in two places: on a system controller, where each tap asks the system for
a camera, and on the administrator's computer, where taps register a new tag for a user.
The first time it is plugged into a controller it takes new firmware and its LED turns
green after about 15 seconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bodyworn.devices.feedback import AMBER, GREEN, OFF, LedState
from bodyworn.domain.clock import Clock

FIRMWARE_TIME = timedelta(seconds=15)
ENROLMENT_TAPS = 3
# Low-frequency (EM4100-style) tags carry 40 bits; high-frequency (ISO 14443) UIDs are 4,
# 7 or 10 bytes.
_TAG_DIGITS = {"125kHz": (10,), "13.56MHz": (8, 14, 20)}


class TagFrequency(StrEnum):
    """The two tag families the reader understands."""

    LF_125KHZ = "125kHz"
    HF_13_56MHZ = "13.56MHz"


@dataclass(frozen=True)
class Tag:
    """A self-assign tag: its frequency and its id as upper-case hex."""

    uid: str
    frequency: TagFrequency

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9A-F]+", self.uid):
            raise ValueError("tag id must be upper-case hexadecimal")
        if len(self.uid) not in _TAG_DIGITS[self.frequency.value]:
            raise ValueError(f"a {self.frequency.value} tag id has not {len(self.uid)} digits")

    @property
    def key(self) -> str:
        """One string naming the tag, for storage and lookup."""
        return f"{self.frequency.value}:{self.uid}"


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


class EnrolmentError(ValueError):
    """A tap during enrolment did not fit."""


class TagEnrolment:
    """Registering a tag for a user: the same tag must be tapped a few times in a row."""

    def __init__(self, taps_needed: int = ENROLMENT_TAPS) -> None:
        self.taps_needed = taps_needed
        self._tag: Tag | None = None
        self.taps = 0

    def __call__(self, tag: Tag) -> None:
        """Count a tap; a different tag starts the count again."""
        if self._tag is not None and tag != self._tag:
            self._tag, self.taps = tag, 1
            return
        self._tag = tag
        self.taps = min(self.taps + 1, self.taps_needed)

    @property
    def done(self) -> bool:
        """Whether every progress dot is filled."""
        return self.taps >= self.taps_needed

    @property
    def tag(self) -> Tag:
        """The enrolled tag once done."""
        if not self.done or self._tag is None:
            raise EnrolmentError("keep tapping the tag")
        return self._tag
