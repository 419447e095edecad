"""Camera profile settings: what a camera does when it records and how it tells its user."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum


class Resolution(StrEnum):
    """Image resolution a profile records at."""

    P1080 = "1080p"
    P720 = "720p"

    @property
    def size(self) -> tuple[int, int]:
        """Width and height in pixels."""
        return (1920, 1080) if self is Resolution.P1080 else (1280, 720)


class RecordingActivation(StrEnum):
    """How the front button starts a recording."""

    SINGLE_CLICK = "single_click"
    DOUBLE_CLICK = "double_click"


class FrontIndicator(StrEnum):
    """How the front recording indicator behaves while recording."""

    ON = "on"
    OFF = "off"
    FLASHING = "flashing"


class Notification(StrEnum):
    """Camera feedback when a recording starts or stops."""

    BEEP_AND_VIBRATION = "beep_and_vibration"
    BEEP = "beep"
    VIBRATION = "vibration"

    @property
    def beeps(self) -> bool:
        """Whether this choice includes a beep."""
        return self is not Notification.VIBRATION

    @property
    def vibrates(self) -> bool:
        """Whether this choice includes a vibration."""
        return self is not Notification.BEEP


class Trigger(StrEnum):
    """What can start a recording."""

    BUTTON = "button"
    FALL = "fall"
    UNHOLSTER = "unholster"
    MINI_CUBE_BUTTON = "mini_cube_button"


class OverlayField(StrEnum):
    """Data that the text overlay can show."""

    USER_ID = "user_id"
    DATE_TIME = "date_time"
    LOCATION = "location"


class ProfileError(ValueError):
    """A profile setting is out of range or contradicts another; `field` names the setting."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# The manager offers these reminder intervals; None turns the reminder off.
REMINDER_CHOICES: tuple[timedelta, ...] = tuple(timedelta(minutes=m) for m in (1, 2, 5, 10, 15))
# The manual gives the pre-buffer as a length in seconds (its example uses 90 s); the
# camera's dedicated pre-buffer space holds two minutes at most.
MAX_PRE_BUFFER = timedelta(seconds=120)
# The manual names no clip length: the camera splits a recording into clips so that a
# break in an offload costs at most one clip. Ten seconds to one hour keeps a clip
# between a few megabytes and a couple of gigabytes at 1080p.
MIN_CLIP_LENGTH = timedelta(seconds=10)
MAX_CLIP_LENGTH = timedelta(hours=1)
# Every duration a profile holds, with the range it must fall in (both ends allowed).
DURATION_LIMITS: dict[str, tuple[timedelta, timedelta]] = {
    "pre_buffer": (timedelta(0), MAX_PRE_BUFFER),
    "periodic_reminder": (REMINDER_CHOICES[0], REMINDER_CHOICES[-1]),
    "max_clip_length": (MIN_CLIP_LENGTH, MAX_CLIP_LENGTH),
}


def _seconds(value: timedelta) -> str:
    return f"{value.total_seconds():g}"


def duration_problem(field: str, value: timedelta | None) -> str | None:
    """Why `value` is not allowed for the duration setting `field`, or None.

    Messages leave the setting's name out (the caller shows it beside the message).
    """
    if value is None:
        return None if field == "periodic_reminder" else "is required"
    low, high = DURATION_LIMITS[field]
    if field == "periodic_reminder" and value not in REMINDER_CHOICES:
        offered = ", ".join(_seconds(c) for c in REMINDER_CHOICES)
        return f"must be one of {offered} seconds, or off"
    if not low <= value <= high:
        return f"must be between {_seconds(low)} and {_seconds(high)} seconds"
    return None


def duration_from_seconds(field: str, seconds: object) -> timedelta | None:
    """A duration setting from a number of seconds off the wire; ProfileError when wrong.

    The range is checked before any arithmetic, so no value can overflow a timedelta.
    """
    if seconds is None and field == "periodic_reminder":
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ProfileError(f"{_LABELS[field]} must be a number of seconds", field)
    low, high = DURATION_LIMITS[field]
    if not low.total_seconds() <= seconds <= high.total_seconds():  # NaN fails too
        raise ProfileError(
            f"{_LABELS[field]} must be between {_seconds(low)} and {_seconds(high)} seconds",
            field,
        )
    value = timedelta(seconds=seconds)
    problem = duration_problem(field, value)
    if problem:
        raise ProfileError(f"{_LABELS[field]} {problem}", field)
    return value


# How each setting is called where people read it.
_LABELS: dict[str, str] = {
    "pre_buffer": "pre-buffer",
    "periodic_reminder": "periodic reminder",
    "max_clip_length": "maximum clip length",
}


@dataclass(frozen=True)
class CameraProfile:
    """The settings a group of users' cameras record and behave with."""

    name: str = "Default"
    resolution: Resolution = Resolution.P1080
    audio: bool = True
    optimize_for_post_processing: bool = False
    pre_buffer: timedelta = timedelta(seconds=30)
    pre_buffer_audio: bool = True
    overlay: frozenset[OverlayField] = field(
        default_factory=lambda: frozenset({OverlayField.USER_ID, OverlayField.DATE_TIME})
    )
    location_data: bool = False
    assisted_gnss: bool = False
    activation: RecordingActivation = RecordingActivation.SINGLE_CLICK
    fall_detection: bool = False
    front_indicator: FrontIndicator = FrontIndicator.ON
    notification: Notification = Notification.BEEP_AND_VIBRATION
    periodic_reminder: timedelta | None = None
    allow_silent_mode: bool = False
    allow_audio_off: bool = False
    disable_front_button_with_mini_cube: bool = False
    allow_assistant_access: bool = True
    max_clip_length: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ProfileError("profile name must not be empty", "name")
        for name in DURATION_LIMITS:
            problem = duration_problem(name, getattr(self, name))
            if problem:
                raise ProfileError(f"{_LABELS[name]} {problem}", name)
        if self.optimize_for_post_processing and not self.audio:
            raise ProfileError(
                "optimize for post processing needs audio on", "optimize_for_post_processing"
            )
        if self.assisted_gnss and not self.location_data:
            raise ProfileError("assisted GNSS needs location data on", "assisted_gnss")
        if OverlayField.LOCATION in self.overlay and not self.location_data:
            raise ProfileError("a location overlay needs location data on", "overlay")

    @property
    def triggers(self) -> frozenset[Trigger]:
        """Triggers that may start a recording (holster and mini cube also need pairing)."""
        found = {Trigger.BUTTON, Trigger.UNHOLSTER, Trigger.MINI_CUBE_BUTTON}
        if self.fall_detection:
            found.add(Trigger.FALL)
        return frozenset(found)

    @property
    def audio_channels(self) -> int:
        """Audio channels recorded: two raw channels when optimised for post processing."""
        if not self.audio:
            return 0
        return 2 if self.optimize_for_post_processing else 1

    @property
    def video_bitrate(self) -> int:
        """Nominal video bitrate in bit/s for a scene of average complexity."""
        return 5_000_000 if self.resolution is Resolution.P1080 else 2_500_000

    @property
    def audio_bitrate(self) -> int:
        """Audio bitrate in bit/s: raw 48 kHz 16-bit PCM when optimised, else compressed."""
        if not self.audio:
            return 0
        if self.optimize_for_post_processing:
            return 48_000 * 16 * 2
        return 64_000

    @property
    def bitrate(self) -> int:
        """Nominal total bitrate in bit/s."""
        return self.video_bitrate + self.audio_bitrate
