"""The camera's vocabulary: timings from the manual, states, faults, clips and recordings."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from bodyworn.devices.gnss import Position
from bodyworn.domain.profile import CameraProfile, Trigger

MODEL = "AXIS W100"
DEFAULT_FIRMWARE = "10.2.0.3"

POWER_ON_TIME = timedelta(seconds=15)
UNDOCK_RESTART_TIME = timedelta(seconds=20)
DOCK_RESTART_DARK = timedelta(seconds=10)
DOCK_RESTART_STARTING = timedelta(seconds=10)
SELF_ASSIGN_WINDOW = timedelta(seconds=15)
LOCK_AFTER_UNDOCKED = timedelta(weeks=8)
# Not given by the manual: how long a top-button press shows levels in silent mode, and how
# long switching to a connected camera extension takes.
PEEK_TIME = timedelta(seconds=5)
EXTENSION_SWITCH_TIME = timedelta(seconds=3)

TRACK_STEP = timedelta(seconds=10)
# Lines the camera keeps in its log (a controller reads them over the dock link).
LOG_LINES = 500

POWER_OFF_HOLD = 5.0
STOP_HOLD = 4.0
FUNCTION_HOLD = 3.0
SILENT_HOLD = 3.0

class CameraError(Exception):
    """A request the camera cannot carry out in its present state."""


class Power(StrEnum):
    """Whether the camera runs, undocked."""

    OFF = "off"
    STARTING = "starting"
    ON = "on"


class Fault(StrEnum):
    """Faults a test or scenario can inject."""

    SOFTWARE = "software"
    STORAGE = "storage"
    GENERAL = "general"
    UPLOAD = "upload"
    BATTERY_NOT_CHARGING = "battery_not_charging"


class Holster(StrEnum):
    """The wireless link to a holster sensor."""

    NONE = "none"
    PAIRING = "pairing"
    PAIRED = "paired"
    FAILED = "failed"


class Extension(StrEnum):
    """A camera extension (sensor camera) on the USB port."""

    NONE = "none"
    SWITCHING = "switching"
    CONNECTED = "connected"
    ERROR = "error"


class StopReason(StrEnum):
    """Why a recording ended."""

    BUTTON = "button"
    MINI_CUBE_BUTTON = "mini_cube_button"
    POWER_OFF = "power_off"
    BATTERY_EMPTY = "battery_empty"
    STORAGE_FULL = "storage_full"
    DOCKED = "docked"
    LOCKED = "locked"
    FAULT = "fault"


@dataclass
class Clip:
    """One file of a recording: recordings are split at the profile's maximum clip length."""

    recording_id: str
    index: int
    start: datetime
    end: datetime | None = None
    nominal_bytes: float = 0.0
    path: Path | None = None
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None
    # The camera's signed statement over the closed clip (a JWS; None before the camera
    # holds a certificate from its system).
    signature: str | None = None

    @property
    def duration(self) -> timedelta:
        """How long the clip is (zero while still open)."""
        return (self.end - self.start) if self.end else timedelta(0)


@dataclass
class Recording:
    """A recording: from its start (pre-buffer included) to its stop, made of clips."""

    id: str
    camera_serial: str
    user_id: str
    profile: CameraProfile
    trigger: Trigger
    trigger_on: datetime
    started_at: datetime
    pre_buffer: timedelta
    firmware: str
    timezone: str = "UTC"
    power_line_frequency: int = 50
    trigger_off: datetime | None = None
    stopped_at: datetime | None = None
    stop_reason: StopReason | None = None
    clips: list[Clip] = field(default_factory=list)
    muted: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    start_position: Position | None = None
    stop_position: Position | None = None
    track: list[Position] = field(default_factory=list)
    # The camera's signed statement over the finished recording (signed again when a
    # category or note is added).
    signature: str | None = None

    @property
    def duration(self) -> timedelta:
        """Length from start (pre-buffer included) to stop."""
        return (self.stopped_at - self.started_at) if self.stopped_at else timedelta(0)

    @property
    def nominal_bytes(self) -> float:
        """Bytes the recording takes on the camera's storage."""
        return sum(clip.nominal_bytes for clip in self.clips)


ClipSink = Callable[[Recording, Clip], None]


def moment_after(start: datetime, hours: float) -> datetime:
    """`hours` after `start`, rounded up to the next microsecond."""
    # Round up so the battery is truly empty (or the disk truly full) at the event time.
    return start + timedelta(microseconds=max(1, math.ceil(hours * 3600e6)))
