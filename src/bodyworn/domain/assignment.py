"""Camera assignment rules: fixed assignment refusals, self-assign readiness and its window.

Pure: the controller's services gather the facts (from the database and the dock link) and
ask these functions what the rules say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# The manual: undock within 15 seconds of tapping the tag.
SELF_ASSIGN_WINDOW = timedelta(seconds=15)
DEFAULT_SHIFT_HOURS = 8.0
MAX_SHIFT_HOURS = 24.0


class Mode(StrEnum):
    """How cameras reach users, decided once at setup."""

    FIXED = "fixed"
    SELF_ASSIGN = "self-assign"


@dataclass(frozen=True)
class CameraFacts:
    """What the rules need to know about one camera."""

    serial: str
    added: bool
    locked: bool
    docked: bool = False
    firmware: str = ""
    battery_hours: float = 0.0
    storage_hours: float = 0.0
    user: str | None = None
    removal_pending: bool = False


@dataclass(frozen=True)
class ReadinessPolicy:
    """What a camera needs to be handed out by a tag tap."""

    shift_hours: float = DEFAULT_SHIFT_HOURS
    firmware: str | None = None  # None: any firmware will do

    def __post_init__(self) -> None:
        if not 0 < self.shift_hours <= MAX_SHIFT_HOURS:  # NaN fails too
            raise ValueError(f"shift_hours must be more than 0 and at most {MAX_SHIFT_HOURS:g}")


def fixed_assign_refusal(mode: Mode, camera: CameraFacts) -> str | None:
    """Why an administrator may not assign this camera to a user now (None: allowed)."""
    if mode is not Mode.FIXED:
        return "this system uses self-assign: users take cameras with their tag"
    if not camera.added:
        return "the camera belongs to no system: add it first"
    if camera.removal_pending:
        return "the camera is being removed"
    if camera.locked:
        return "the camera is locked: unlock it first"
    return None


def readiness_problems(camera: CameraFacts, policy: ReadinessPolicy) -> list[str]:
    """Why a camera cannot be self-assigned now (empty: it is ready)."""
    problems: list[str] = []
    if not camera.added:
        problems.append("not added to the system")
    if camera.removal_pending:
        problems.append("being removed")
    if not camera.docked:
        problems.append("not docked")
    if camera.locked:
        problems.append("locked")
    if camera.user is not None:
        problems.append("assigned to a user")
    if camera.battery_hours < policy.shift_hours:
        problems.append("not enough battery for a shift")
    if camera.storage_hours < policy.shift_hours:
        problems.append("not enough storage for a shift")
    if policy.firmware is not None and camera.firmware != policy.firmware:
        problems.append("firmware differs from the system's")
    return problems


def pick_ready(cameras: Iterable[CameraFacts], policy: ReadinessPolicy) -> CameraFacts | None:
    """The ready camera to hand out: the one with the most battery, then by serial."""
    ready = [c for c in cameras if not readiness_problems(c, policy)]
    if not ready:
        return None
    return sorted(ready, key=lambda c: (-c.battery_hours, c.serial))[0]


def window_open(tapped_at: datetime, now: datetime) -> bool:
    """Whether a self-assigned camera may still be undocked (within 15 s of the tap)."""
    return tapped_at <= now <= tapped_at + SELF_ASSIGN_WINDOW


def firmware_key(version: str) -> tuple[int, ...]:
    """Sort key of a dotted firmware version (unreadable parts count as 0)."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))
