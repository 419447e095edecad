"""The camera's feedback vocabulary and the tables of the user manual, kept as data.

Every LED state, button action and error signal a simulated camera can show is listed
here once. The camera model computes its output from its state; the tests drive a camera
into each row's condition and compare its output with the row, so a row here is a promise
the simulator keeps. Wording is ours; the facts (colour, pattern, sound) follow the manual.
The colours, patterns and LED states themselves are `bodyworn.domain.led`, shared with the
manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from bodyworn.domain.led import (
    AMBER,
    FLASHING_AMBER,
    FLASHING_GREEN,
    FLASHING_RED,
    GREEN,
    OFF,
    PULSING_AMBER,
    RED,
    LedState,
)


class Sound(StrEnum):
    """A beep or vibration (buzz) pattern."""

    NONE = "none"
    SHORT = "short"
    TWO_SHORT_ONE_LONG = "two_short_one_long"
    INTERMITTENT = "intermittent"

    @property
    def repeats(self) -> bool:
        """Whether the pattern keeps sounding while its condition lasts."""
        return self is Sound.INTERMITTENT


class Led(StrEnum):
    """The camera's status LEDs on its display, numbered as on the product overview."""

    DOCKING = "docking"
    RECORDING = "recording"
    OPERATION = "operation"
    BATTERY = "battery"
    STORAGE = "storage"
    MICROPHONE = "microphone"
    WIRELESS = "wireless"
    EXTENSION = "extension"

    @property
    def label(self) -> str:
        """The LED's name as shown to people."""
        return _LED_LABELS[self]


class Button(StrEnum):
    """The camera's buttons."""

    POWER = "power"
    FRONT = "front"
    FUNCTION = "function"
    TOP = "top"


_LED_LABELS = {
    Led.DOCKING: "Docking status",
    Led.RECORDING: "Recording status",
    Led.OPERATION: "Operation status",
    Led.BATTERY: "Battery status",
    Led.STORAGE: "Storage status",
    Led.MICROPHONE: "Microphone",
    Led.WIRELESS: "Wireless connectivity status",
    Led.EXTENSION: "Camera extension",
}

# The manual says the microphone LED "lights up" without naming a colour; amber is ours.
MICROPHONE_OFF_STATE = AMBER


def _read_only(leds: Mapping[Led, LedState]) -> Mapping[Led, LedState]:
    # Table rows are shared constants; no caller may change their LED maps.
    return MappingProxyType(dict(leds))


def all_leds(state: LedState) -> dict[Led, LedState]:
    """Every status LED in the same state."""
    return dict.fromkeys(Led, state)


# Thresholds shared by the battery and storage LEDs, in hours left.
GREEN_ABOVE_HOURS = 1.0
RED_BELOW_HOURS = 0.5


def level_state(hours_left: float) -> LedState:
    """The battery or storage LED for the hours of use (or recording) left."""
    if hours_left > GREEN_ABOVE_HOURS:
        return GREEN
    if hours_left >= RED_BELOW_HOURS:
        return AMBER
    return RED


@dataclass(frozen=True)
class LedRow:
    """One line of the status LED tables: an LED, the condition, and what it shows."""

    key: str
    led: Led
    condition: str
    state: LedState


LED_TABLE: tuple[LedRow, ...] = (
    LedRow("docking.ready", Led.DOCKING, "docked; charged, offloaded, software current", GREEN),
    LedRow("docking.busy", Led.DOCKING, "docked; charging, offloading or updating", PULSING_AMBER),
    LedRow("recording.on", Led.RECORDING, "a recording is running", RED),
    LedRow("operation.standby", Led.OPERATION, "idle and ready to record", GREEN),
    LedRow("operation.low_battery", Led.OPERATION, "under half an hour of battery", FLASHING_GREEN),
    LedRow("operation.low_storage", Led.OPERATION, "under half an hour of storage", FLASHING_GREEN),
    LedRow("operation.cannot_record", Led.OPERATION, "storage, software or other fault", AMBER),
    LedRow("battery.high", Led.BATTERY, "more than an hour of battery", GREEN),
    LedRow("battery.medium", Led.BATTERY, "half an hour to an hour of battery", AMBER),
    LedRow("battery.low", Led.BATTERY, "under half an hour of battery", RED),
    LedRow("storage.high", Led.STORAGE, "more than an hour of recording space", GREEN),
    LedRow("storage.medium", Led.STORAGE, "half an hour to an hour of space", AMBER),
    LedRow("storage.low", Led.STORAGE, "under half an hour of space", RED),
    LedRow(
        "microphone.off", Led.MICROPHONE, "the user turned the microphone off",
        MICROPHONE_OFF_STATE,
    ),
    LedRow("microphone.on", Led.MICROPHONE, "the microphone is on", OFF),
    LedRow("wireless.paired", Led.WIRELESS, "holster sensor paired", GREEN),
    LedRow("wireless.pairing", Led.WIRELESS, "holster sensor pairing under way", PULSING_AMBER),
    LedRow("wireless.failed", Led.WIRELESS, "holster sensor pairing failed", RED),
    LedRow("extension.connected", Led.EXTENSION, "camera extension connected", GREEN),
    LedRow("extension.switching", Led.EXTENSION, "switching camera source", PULSING_AMBER),
    LedRow("extension.error", Led.EXTENSION, "camera extension fault", RED),
)


class Effect(StrEnum):
    """What a daily-use action changes on the camera."""

    POWER_ON = "power_on"
    POWER_OFF = "power_off"
    RECORDING_START = "recording_start"
    RECORDING_STOP = "recording_stop"
    MICROPHONE_OFF = "microphone_off"
    MICROPHONE_ON = "microphone_on"
    SILENT_ON = "silent_on"
    SILENT_OFF = "silent_off"
    SHOW_BATTERY = "show_battery"
    SHOW_STORAGE = "show_storage"


@dataclass(frozen=True)
class DailyUseRow:
    """One line of the daily-use table: a button action and the camera's response.

    `hold` is the minimum press length in seconds (0 for a click); `clicks` counts clicks
    (the front button's count comes from the profile, so 0 there means "as configured").
    `leds` lists the LEDs the row speaks about; `beep`/`buzz` the one-shot signal given.
    """

    key: str
    effect: Effect
    button: Button
    hold: float
    clicks: int
    beep: Sound
    buzz: Sound
    leds: Mapping[Led, LedState] = field(default_factory=dict)
    front_indicator: LedState | None = None
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "leds", _read_only(self.leds))


# The manual does not name the beep and buzz of start, stop and power off; one short is ours.
DAILY_USE_TABLE: tuple[DailyUseRow, ...] = (
    DailyUseRow(
        "power.on", Effect.POWER_ON, Button.POWER, 0.0, 1, Sound.NONE, Sound.NONE,
        {Led.OPERATION: GREEN},
        note="status LEDs pulse amber for about 15 s while starting, then operation turns green",
    ),
    DailyUseRow(
        "power.off", Effect.POWER_OFF, Button.POWER, 5.0, 1, Sound.SHORT, Sound.SHORT,
        all_leds(OFF),
    ),
    DailyUseRow(
        "front.start", Effect.RECORDING_START, Button.FRONT, 0.0, 0, Sound.SHORT, Sound.SHORT,
        {Led.RECORDING: RED}, front_indicator=RED,
        note="single or double click, as the camera profile says",
    ),
    DailyUseRow(
        "front.stop", Effect.RECORDING_STOP, Button.FRONT, 4.0, 1, Sound.SHORT, Sound.SHORT,
        {Led.RECORDING: OFF}, front_indicator=OFF,
    ),
    DailyUseRow(
        "function.microphone_off", Effect.MICROPHONE_OFF, Button.FUNCTION, 3.0, 1,
        Sound.NONE, Sound.NONE, {Led.MICROPHONE: MICROPHONE_OFF_STATE},
        note="only when the profile allows audio recording off",
    ),
    DailyUseRow(
        "function.microphone_on", Effect.MICROPHONE_ON, Button.FUNCTION, 3.0, 1,
        Sound.NONE, Sound.NONE, {Led.MICROPHONE: OFF},
    ),
    DailyUseRow(
        "top.silent_on", Effect.SILENT_ON, Button.TOP, 3.0, 1, Sound.NONE, Sound.NONE,
        all_leds(OFF), front_indicator=OFF,
        note="display, front indicator, beep and vibration go off; only when allowed",
    ),
    DailyUseRow(
        "top.silent_off", Effect.SILENT_OFF, Button.TOP, 3.0, 1, Sound.NONE, Sound.NONE,
        {Led.OPERATION: GREEN},
    ),
    DailyUseRow(
        "top.battery", Effect.SHOW_BATTERY, Button.TOP, 0.0, 1, Sound.NONE, Sound.NONE,
        note="the battery LED shows the battery level (see the battery rows)",
    ),
    DailyUseRow(
        "top.storage", Effect.SHOW_STORAGE, Button.TOP, 0.0, 1, Sound.NONE, Sound.NONE,
        note="the storage LED shows the space left (see the storage rows)",
    ),
)


@dataclass(frozen=True)
class ErrorRow:
    """One line of the error feedback table: what the camera shows, and what it means."""

    key: str
    meaning: str
    leds: Mapping[Led, LedState]
    beep: Sound = Sound.NONE
    buzz: Sound = Sound.NONE
    exact: bool = False
    remedy: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "leds", _read_only(self.leds))


ERROR_TABLE: tuple[ErrorRow, ...] = (
    ErrorRow(
        "docked_no_user", "docked without a user (or ready for self-assign)", all_leds(OFF),
        exact=True, remedy="assign a user, or self-assign with a tag",
    ),
    ErrorRow(
        "docked_shipping", "docked in shipping mode, not yet seen by a system", all_leds(OFF),
        exact=True, remedy="add the camera to the system",
    ),
    ErrorRow(
        "battery_empty", "out of battery: no feedback, does not start", all_leds(OFF),
        exact=True, remedy="charge the camera",
    ),
    ErrorRow(
        "cannot_record", "recording not possible: software or operational fault",
        {Led.OPERATION: AMBER}, Sound.TWO_SHORT_ONE_LONG, Sound.TWO_SHORT_ONE_LONG,
        remedy="restart, update firmware, or reset the camera",
    ),
    ErrorRow(
        "extension_fault", "faulty sensor camera or body worn camera",
        {Led.EXTENSION: RED, Led.OPERATION: GREEN}, Sound.SHORT, Sound.SHORT,
        remedy="disconnect the sensor camera and press the top button to tell which is faulty",
    ),
    ErrorRow(
        "not_added", "docked camera not added to this system", all_leds(FLASHING_AMBER),
        exact=True, remedy="add the camera to the system",
    ),
    ErrorRow(
        "no_user", "undocked without an assigned user", all_leds(FLASHING_RED),
        Sound.INTERMITTENT, Sound.INTERMITTENT, exact=True,
        remedy="dock the camera and assign a user",
    ),
    ErrorRow(
        "general_error", "general error while docked", {Led.DOCKING: FLASHING_AMBER},
        remedy="restart, update firmware, or reset the camera",
    ),
    ErrorRow(
        "upload_error", "offloading to the system controller fails",
        {Led.DOCKING: FLASHING_AMBER, Led.STORAGE: RED},
        remedy="check camera to dock, and dock to controller connections",
    ),
    ErrorRow(
        "not_charging", "the battery is not charging",
        {Led.DOCKING: FLASHING_AMBER, Led.BATTERY: RED},
        remedy="restart, update firmware, or reset the camera",
    ),
)


@dataclass(frozen=True)
class LifecycleRow:
    """Feedback described outside the three tables (adding, self-assign, start-up, locks)."""

    key: str
    meaning: str
    leds: Mapping[Led, LedState]
    exact: bool = True
    ours: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "leds", _read_only(self.leds))


LIFECYCLE_TABLE: tuple[LifecycleRow, ...] = (
    LifecycleRow("starting", "starting up after power on or undock", all_leds(PULSING_AMBER)),
    LifecycleRow("self_assigned", "self-assigned, undock within 15 s", all_leds(FLASHING_GREEN)),
    LifecycleRow(
        "added_docked_ready", "just added and docked, ready", {Led.DOCKING: GREEN}, exact=False
    ),
    LifecycleRow(
        "unholstered", "unholstering started a recording", {Led.RECORDING: RED}, exact=False
    ),
    # The manual does not describe a locked camera's LEDs; we reuse the general fault signs.
    LifecycleRow(
        "locked_undocked", "locked after eight weeks undocked", {Led.OPERATION: AMBER},
        exact=False, ours=True,
    ),
    LifecycleRow(
        "locked_docked", "docked while locked, waiting for unlock",
        {Led.DOCKING: FLASHING_AMBER}, exact=False, ours=True,
    ),
)


def rows_by_key() -> dict[str, LedRow | DailyUseRow | ErrorRow | LifecycleRow]:
    """Every row of every table by its key, prefixed with its table's name."""
    found: dict[str, LedRow | DailyUseRow | ErrorRow | LifecycleRow] = {}
    for row in LED_TABLE:
        found[f"led.{row.key}"] = row
    for daily in DAILY_USE_TABLE:
        found[f"daily.{daily.key}"] = daily
    for error in ERROR_TABLE:
        found[f"error.{error.key}"] = error
    for life in LIFECYCLE_TABLE:
        found[f"lifecycle.{life.key}"] = life
    return found


@dataclass(frozen=True)
class Feedback:
    """What a camera shows at one instant: status LEDs, front indicators, repeating sounds."""

    leds: Mapping[Led, LedState]
    front_indicator: LedState = OFF
    mini_cube_indicator: LedState = OFF
    beep: Sound = Sound.NONE
    buzz: Sound = Sound.NONE

    def led(self, led: Led) -> LedState:
        """The state of one LED."""
        return self.leds.get(led, OFF)


@dataclass(frozen=True)
class Signal:
    """A one-shot beep and/or buzz the camera gave, and why."""

    reason: str
    beep: Sound
    buzz: Sound
