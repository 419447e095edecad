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
MAX_PRE_BUFFER = timedelta(seconds=120)


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
        if self.pre_buffer < timedelta(0) or self.pre_buffer > MAX_PRE_BUFFER:
            raise ProfileError(
                f"pre-buffer must be between 0 and {MAX_PRE_BUFFER}", "pre_buffer"
            )
        if self.max_clip_length < timedelta(seconds=10):
            raise ProfileError(
                "maximum clip length must be at least 10 seconds", "max_clip_length"
            )
        if self.periodic_reminder is not None and self.periodic_reminder not in REMINDER_CHOICES:
            raise ProfileError(
                "periodic reminder must be one of the offered intervals or off",
                "periodic_reminder",
            )
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
