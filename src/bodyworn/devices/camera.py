"""A simulated body worn camera (W100 behaviour) as a state machine on an injected clock.

The camera never reads the host time: every public method first catches the model up to
`clock.now()`, replaying in order whatever fell due in between (start-up finishing, clip
splits, reminders, the battery running out, the eight-week lock), so a test can jump a
ManualClock by weeks and see exactly what the hardware would have done.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bodyworn.devices import battery as battery_model
from bodyworn.devices.battery import Battery
from bodyworn.devices.environment import Environment
from bodyworn.devices.feedback import (
    MICROPHONE_OFF_STATE,
    Button,
    Feedback,
    Led,
    Signal,
    Sound,
    all_leds,
    level_state,
)
from bodyworn.devices.gnss import Position, Receiver
from bodyworn.devices.storage import Storage, bitrate, effective_pre_buffer
from bodyworn.docklink.signing import SignatureVerifier, check_public_key_pem, verify_signature
from bodyworn.docklink.wire import unlock_message
from bodyworn.domain.clock import Clock
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
from bodyworn.domain.profile import (
    CameraProfile,
    FrontIndicator,
    RecordingActivation,
    Trigger,
)

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

    @property
    def duration(self) -> timedelta:
        """Length from start (pre-buffer included) to stop."""
        return (self.stopped_at - self.started_at) if self.stopped_at else timedelta(0)

    @property
    def nominal_bytes(self) -> float:
        """Bytes the recording takes on the camera's storage."""
        return sum(clip.nominal_bytes for clip in self.clips)


ClipSink = Callable[[Recording, Clip], None]


def _after(start: datetime, hours: float) -> datetime:
    # Round up so the battery is truly empty (or the disk truly full) at the event time.
    return start + timedelta(microseconds=max(1, math.ceil(hours * 3600e6)))


class Camera:
    """A body worn camera: life cycle, buttons, LEDs, battery, storage and recordings."""

    def __init__(
        self,
        serial: str,
        clock: Clock,
        *,
        model: str = MODEL,
        firmware: str = DEFAULT_FIRMWARE,
        battery: Battery | None = None,
        storage: Storage | None = None,
        environment: Environment | None = None,
        clip_sink: ClipSink | None = None,
        verifier: SignatureVerifier = verify_signature,
        gnss: Receiver | None = None,
    ) -> None:
        self.serial = serial
        self.model = model
        self.firmware = firmware
        self._clock = clock
        self._battery = battery or Battery()
        self._storage = storage or Storage()
        self._env = environment or Environment()
        self._clip_sink = clip_sink
        self._verifier = verifier
        self.gnss = gnss or Receiver()
        self._signals: list[tuple[datetime, Signal]] = []
        self.recordings: list[Recording] = []
        self._last = clock.now()
        self._factory_state()

    def _factory_state(self) -> None:
        self.system_id: str | None = None
        self.identity_key_pem: str | None = None
        self._user_id: str | None = None
        self.profile = CameraProfile()
        self.docked = False
        self.link_up = False
        self.dock_powered = False
        self.expected_holster: str | None = None
        self.timezone = "UTC"
        self.categories: list[str] = []
        self._power = Power.OFF
        self._locked = False
        self.faults: set[Fault] = set()
        self.holster = Holster.NONE
        self._extension = Extension.NONE
        self.mini_cube = False
        self.usb_power = False
        self._recording: Recording | None = None
        self._microphone_on = True
        self._silent = False
        self._extension_fault_in_camera = False
        self._ready_at: datetime | None = None
        self._docked_at: datetime | None = None
        self._undocked_at: datetime | None = None
        self._self_assign_until: datetime | None = None
        self._peek_until: datetime | None = None
        self._extension_until: datetime | None = None
        self._extension_target = Extension.NONE
        self._firmware_until: datetime | None = None
        self._buffer_since: datetime | None = None
        self._next_reminder: datetime | None = None
        self._unlock_nonce: str | None = None
        self._counter = 0

    # ---- state read from outside (each read catches the model up first) --------------

    @property
    def battery(self) -> Battery:
        """The battery, caught up to now."""
        self._sync()
        return self._battery

    @property
    def storage(self) -> Storage:
        """The recording storage, caught up to now."""
        self._sync()
        return self._storage

    @property
    def signals(self) -> list[tuple[datetime, Signal]]:
        """Every one-shot beep or buzz given so far, with its time."""
        self._sync()
        return self._signals

    @property
    def power(self) -> Power:
        """Whether the camera runs, off the dock."""
        self._sync()
        return self._power

    @property
    def recording(self) -> Recording | None:
        """The recording under way, if any."""
        self._sync()
        return self._recording

    @property
    def locked(self) -> bool:
        """Whether the camera is locked for being undocked too long."""
        self._sync()
        return self._locked

    @property
    def user_id(self) -> str | None:
        """The assigned user, if any."""
        self._sync()
        return self._user_id

    @property
    def silent(self) -> bool:
        """Whether silent mode is on."""
        self._sync()
        return self._silent

    @property
    def microphone_on(self) -> bool:
        """Whether the microphone records (the user may turn it off if allowed)."""
        self._sync()
        return self._microphone_on

    @property
    def extension(self) -> Extension:
        """The camera extension's state."""
        self._sync()
        return self._extension

    # ---- time -------------------------------------------------------------------------

    def _now(self) -> datetime:
        self._sync()
        return self._last

    @property
    def environment(self) -> Environment:
        """The conditions the camera works in."""
        return self._env

    def set_environment(self, env: Environment) -> None:
        """Change the conditions from now on (earlier time is accounted at the old ones)."""
        self._sync()
        self._env = env

    def _running(self) -> bool:
        return not self.docked and self._power is not Power.OFF

    def _next_event(self, after: datetime) -> datetime | None:
        due: list[datetime] = []
        for moment in (
            self._ready_at,
            self._self_assign_until,
            self._extension_until,
            self._next_reminder if self._recording else None,
        ):
            if moment is not None:
                due.append(moment)
        if self._recording and self._recording.clips:
            due.append(self._recording.clips[-1].start + self.profile.max_clip_length)
        if self._running() and not self._on_mains():
            hours = self._battery.hours_until_empty(self._drain_per_hour())
            if hours is not None:
                due.append(_after(after, hours))
        if self._recording:
            per_second = bitrate(self.profile, self._env) / 8
            due.append(_after(after, self._storage.free_bytes(self.profile) / per_second / 3600))
        if self._undocked_at and self.system_id and not self.docked and not self._locked:
            due.append(self._undocked_at + LOCK_AFTER_UNDOCKED)
        later = [moment for moment in due if moment > after]
        return min(later) if later else None

    def _drain_per_hour(self) -> float:
        if self._recording:
            return battery_model.recording_drain_per_hour(self.profile, self._env)
        return battery_model.standby_drain_per_hour(self.profile, self._env)

    def sync(self) -> None:
        """Catch the model up to the clock (reading any state does this too)."""
        self._sync()

    def _sync(self) -> None:
        now = self._clock.now()
        for _ in range(1_000_000):
            self._fire_due()
            if now <= self._last:
                return
            upcoming = self._next_event(self._last)
            step_to = now if upcoming is None or upcoming > now else upcoming
            self._integrate(self._last, step_to)
            self._last = step_to
        raise RuntimeError("camera model did not settle")  # pragma: no cover

    def _integrate(self, start: datetime, end: datetime) -> None:
        hours = (end - start).total_seconds() / 3600
        if hours <= 0:
            return
        if self._on_mains():
            if Fault.BATTERY_NOT_CHARGING not in self.faults:
                self._battery.charge_for(hours, self._env)
        elif self._running():
            self._battery.drain(hours, self._drain_per_hour())
            if self._battery.charge < 1e-9:
                self._battery.charge = 0.0
        if self._recording:
            written = self._storage.write(hours * 3600, self.profile, self._env)
            per_second = bitrate(self.profile, self._env) / 8
            self._recording.clips[-1].nominal_bytes += written * per_second

    def _on_mains(self) -> bool:
        # A dock charges only a camera that has left shipping mode; a USB charger always does.
        return self.usb_power or (
            self.docked and self.dock_powered and self.system_id is not None
        )

    def _fire_due(self) -> None:
        now = self._last
        if self._ready_at and now >= self._ready_at:
            self._ready_at = None
            self._power = Power.ON
            self._buffer_since = now
            if self.profile.location_data:
                self.gnss.switch_on(now, assisted=self.profile.assisted_gnss)
        if self._self_assign_until and now >= self._self_assign_until:
            self._self_assign_until = None
            if self.docked:
                self._user_id = None
        if self._extension_until and now >= self._extension_until:
            self._extension_until = None
            self._extension = self._extension_target
        if self._running() and self._battery.empty:
            self._power_off(StopReason.BATTERY_EMPTY)
        if self._recording and self._storage.full(self.profile):
            self._stop(StopReason.STORAGE_FULL)
        if (
            self._undocked_at
            and self.system_id
            and not self.docked
            and not self._locked
            and now >= self._undocked_at + LOCK_AFTER_UNDOCKED
        ):
            self._lock()
        while self._recording:
            boundary = self._recording.clips[-1].start + self.profile.max_clip_length
            if now < boundary:
                break
            self._split(boundary)
        if self._recording and self._next_reminder and now >= self._next_reminder:
            self._signal("reminder", Sound.NONE, Sound.SHORT)
            interval = self.profile.periodic_reminder
            self._next_reminder = now + interval if interval else None

    # ---- feedback ---------------------------------------------------------------------

    def _signal(self, reason: str, beep: Sound, buzz: Sound) -> None:
        if self._silent or (beep is Sound.NONE and buzz is Sound.NONE):
            return
        self._signals.append((self._last, Signal(reason, beep, buzz)))

    def _notify(self, reason: str) -> None:
        note = self.profile.notification
        self._signal(
            reason,
            Sound.SHORT if note.beeps else Sound.NONE,
            Sound.SHORT if note.vibrates else Sound.NONE,
        )

    @property
    def last_signal(self) -> Signal | None:
        """The most recent one-shot beep or buzz."""
        self._sync()
        return self._signals[-1][1] if self._signals else None

    def feedback(self) -> Feedback:
        """What the camera shows now: LEDs, front indicator, repeating sounds."""
        now = self._now()
        if self.docked:
            return Feedback(self._docked_leds(now))
        if self._power is Power.OFF:
            return Feedback(all_leds(OFF))
        if self._power is Power.STARTING:
            return Feedback(all_leds(PULSING_AMBER))
        if self._user_id is None:
            return Feedback(
                all_leds(FLASHING_RED), beep=Sound.INTERMITTENT, buzz=Sound.INTERMITTENT
            )
        leds = all_leds(OFF)
        if self._locked:
            leds[Led.OPERATION] = AMBER
            return Feedback(leds)
        if self._silent:
            if self._peek_until and now < self._peek_until:
                leds[Led.BATTERY] = self._battery_state()
                leds[Led.STORAGE] = self._storage_state()
            return Feedback(leds)
        leds[Led.RECORDING] = RED if self._recording else OFF
        leds[Led.OPERATION] = self._operation_state()
        leds[Led.BATTERY] = self._battery_state()
        leds[Led.STORAGE] = self._storage_state()
        leds[Led.MICROPHONE] = OFF if self._microphone_on else MICROPHONE_OFF_STATE
        leds[Led.WIRELESS] = {
            Holster.NONE: OFF,
            Holster.PAIRING: PULSING_AMBER,
            Holster.PAIRED: GREEN,
            Holster.FAILED: RED,
        }[self.holster]
        leds[Led.EXTENSION] = {
            Extension.NONE: OFF,
            Extension.SWITCHING: PULSING_AMBER,
            Extension.CONNECTED: GREEN,
            Extension.ERROR: RED,
        }[self._extension]
        front = self._front_state()
        return Feedback(
            leds, front_indicator=front, mini_cube_indicator=front if self.mini_cube else OFF
        )

    def _docked_leds(self, now: datetime) -> dict[Led, LedState]:
        if not self.dock_powered:
            return all_leds(OFF)
        if self.system_id is None:
            return all_leds(FLASHING_AMBER if self.link_up else OFF)
        since = now - (self._docked_at or now)
        if since < DOCK_RESTART_DARK:
            return all_leds(OFF)
        if since < DOCK_RESTART_DARK + DOCK_RESTART_STARTING:
            return all_leds(PULSING_AMBER)
        leds = all_leds(OFF)
        if self._locked:
            leds[Led.DOCKING] = FLASHING_AMBER
            return leds
        if self._self_assign_until:
            return all_leds(FLASHING_GREEN)
        if self._user_id is None:
            return leds
        if Fault.UPLOAD in self.faults:
            leds[Led.DOCKING] = FLASHING_AMBER
            leds[Led.STORAGE] = RED
        elif self._not_charging():
            leds[Led.DOCKING] = FLASHING_AMBER
            leds[Led.BATTERY] = RED
        elif Fault.GENERAL in self.faults:
            leds[Led.DOCKING] = FLASHING_AMBER
        elif self.busy_docked:
            leds[Led.DOCKING] = PULSING_AMBER
        else:
            leds[Led.DOCKING] = GREEN
        return leds

    def _not_charging(self) -> bool:
        if self._battery.full:
            return False
        return Fault.BATTERY_NOT_CHARGING in self.faults or not battery_model.can_charge(self._env)

    @property
    def busy_docked(self) -> bool:
        """Whether charging, offloading or a firmware update is still going on."""
        firmware_busy = self._firmware_until is not None and self._last < self._firmware_until
        return not self._battery.full or bool(self.recordings) or firmware_busy

    def battery_hours_left(self) -> float:
        """Hours of recording the battery has left under present conditions."""
        self._sync()
        return self._battery.hours_left(self.profile, self._env)

    def storage_hours_left(self) -> float:
        """Hours of recording the free storage holds under present conditions."""
        self._sync()
        return self._storage.hours_left(self.profile, self._env)

    def _battery_state(self) -> LedState:
        return level_state(self._battery.hours_left(self.profile, self._env))

    def _storage_state(self) -> LedState:
        return level_state(self._storage.hours_left(self.profile, self._env))

    def _cannot_record(self) -> bool:
        return bool(self.faults & {Fault.SOFTWARE, Fault.STORAGE}) or self._storage.error

    def _operation_state(self) -> LedState:
        if self._cannot_record():
            return AMBER
        if RED in (self._battery_state(), self._storage_state()):
            return FLASHING_GREEN
        return GREEN

    def _front_state(self) -> LedState:
        if not self._recording:
            return OFF
        return {
            FrontIndicator.ON: RED,
            FrontIndicator.FLASHING: FLASHING_RED,
            FrontIndicator.OFF: OFF,
        }[self.profile.front_indicator]

    # ---- life cycle -------------------------------------------------------------------

    def dock(self, *, link_up: bool = True, powered: bool = True) -> None:
        """Put the camera in a dock; `link_up` says whether the dock reaches a controller."""
        now = self._now()
        if self.docked:
            return
        if self._recording:
            self._stop(StopReason.DOCKED)
        self.docked = True
        self.link_up = link_up
        self.dock_powered = powered
        self._docked_at = now
        self._undocked_at = None
        self._restart()

    def set_link(self, up: bool) -> None:
        """The dock's connection to a controller came up or went down."""
        self._sync()
        self.link_up = up

    def set_dock_power(self, on: bool) -> None:
        """The dock's power supply came or went (no charging without it)."""
        self._sync()
        self.dock_powered = on

    @property
    def undocked_at(self) -> datetime | None:
        """When the camera last left its dock (None while docked)."""
        return self._undocked_at

    @property
    def offload_ready(self) -> bool:
        """Whether a controller can read recordings: docked, linked, restarted, unlocked."""
        now = self._now()
        if not self.docked or not self.link_up or self.system_id is None or self._locked:
            return False
        restart = DOCK_RESTART_DARK + DOCK_RESTART_STARTING
        return self._docked_at is not None and now - self._docked_at >= restart

    def undock(self) -> None:
        """Take the camera out of its dock: an added camera restarts and runs on battery."""
        now = self._now()
        if not self.docked:
            return
        self.docked = False
        self.link_up = False
        self.dock_powered = False
        self._undocked_at = now
        self._docked_at = None
        self._restart()
        if self.system_id is None or self._battery.empty:
            self._power = Power.OFF
            return
        if self._self_assign_until:
            self._self_assign_until = None
        self._power = Power.STARTING
        self._ready_at = now + UNDOCK_RESTART_TIME

    def _restart(self) -> None:
        self.gnss.switch_off()
        self._power = Power.OFF
        self._ready_at = None
        self._buffer_since = None
        self._silent = False
        self._microphone_on = True
        self._peek_until = None

    def add_to_system(self, system_id: str, identity_public_key_pem: str) -> None:
        """Leave shipping mode and belong to `system_id`, trusting its identity key."""
        self._sync()
        if not self.docked:
            raise CameraError("a camera is added while docked")
        if self.system_id is not None:
            raise CameraError(f"camera already belongs to system {self.system_id}")
        try:
            check_public_key_pem(identity_public_key_pem)
        except ValueError as exc:
            raise CameraError(f"not a usable identity key: {exc}") from exc
        self.system_id = system_id
        self.identity_key_pem = identity_public_key_pem

    @property
    def shipping_mode(self) -> bool:
        """Whether the camera has not been added to a system."""
        return self.system_id is None

    def factory_reset(self) -> None:
        """Forget system, user and settings and go back to shipping mode (docked, offloaded)."""
        self._sync()
        if not self.docked:
            raise CameraError("a camera is reset while docked")
        if self.recordings:
            raise CameraError("recordings are still on the camera; offload them first")
        docked_at, link_up, powered = self._docked_at, self.link_up, self.dock_powered
        self._factory_state()
        self.docked, self.link_up, self._docked_at = True, link_up, docked_at
        self.dock_powered = powered
        self._storage.used_bytes = 0.0
        self._storage.error = False

    def _require_added(self) -> None:
        if self.system_id is None:
            raise CameraError("camera is not added to a system")

    def assign(self, user_id: str, profile: CameraProfile) -> None:
        """Give the camera a user and that user's profile (fixed assignment)."""
        self._sync()
        self._require_added()
        if self._locked:
            raise CameraError("camera is locked")
        self._user_id = user_id
        self.profile = profile

    def self_assign(self, user_id: str, profile: CameraProfile) -> None:
        """Assign after a tag tap: the user must undock within the self-assign window."""
        now = self._now()
        if not self.docked:
            raise CameraError("only a docked camera can be self-assigned")
        self.assign(user_id, profile)
        self._self_assign_until = now + SELF_ASSIGN_WINDOW

    def unassign(self) -> None:
        """Take the user away; the camera will not work until assigned again."""
        self._sync()
        if self._recording:
            raise CameraError("cannot unassign while recording")
        self._user_id = None
        self._self_assign_until = None

    def configure(
        self,
        profile: CameraProfile | None = None,
        *,
        timezone: str | None = None,
        categories: list[str] | None = None,
    ) -> None:
        """Take settings pushed by the controller: profile, overlay time zone, categories."""
        self._sync()
        if profile is not None:
            if self._recording:
                raise CameraError("cannot change the profile while recording")
            self.profile = profile
        if timezone is not None:
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise CameraError(f"unknown time zone {timezone!r}") from exc
            self.timezone = timezone
        if categories is not None:
            self.categories = list(categories)

    def install_firmware(self, version: str, duration: timedelta) -> None:
        """Take new firmware; the dock shows busy for `duration`."""
        now = self._now()
        if not self.docked:
            raise CameraError("firmware is installed while docked")
        self.firmware = version
        self._firmware_until = now + duration

    def accepts(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` over `message` comes from this camera's own system.

        A camera in shipping mode trusts nobody; once added it obeys only requests signed
        with the identity key it was given then.
        """
        if self.identity_key_pem is None:
            return False
        return self._verifier(self.identity_key_pem, message, signature)

    # ---- lock -------------------------------------------------------------------------

    def _lock(self) -> None:
        if self._recording:
            self._stop(StopReason.LOCKED)
        self._locked = True
        self._unlock_nonce = secrets.token_hex(16)

    def lock(self) -> None:
        """Lock on the controller's order (as after eight weeks undocked)."""
        self._sync()
        self._require_added()
        if not self._locked:
            self._lock()

    def unlock_challenge(self) -> str:
        """The fresh value a controller must sign to unlock this camera."""
        self._sync()
        if not self._locked or self._unlock_nonce is None:
            raise CameraError("camera is not locked")
        return self._unlock_nonce

    def unlock(self, signature: bytes) -> None:
        """Unlock when `signature` over the challenge verifies with the system identity key."""
        self._sync()
        if not self._locked or self._unlock_nonce is None:
            raise CameraError("camera is not locked")
        if not self.accepts(unlock_message(self.serial, self._unlock_nonce), signature):
            raise CameraError("unlock refused: not signed by this camera's system")
        self._locked = False
        self._unlock_nonce = None
        if not self.docked:
            self._undocked_at = self._last

    # ---- faults and accessories ------------------------------------------------------

    def set_fault(self, fault: Fault, present: bool = True) -> None:
        """Inject or clear a fault."""
        self._sync()
        if present:
            self.faults.add(fault)
            if fault in (Fault.SOFTWARE, Fault.STORAGE) and self._running():
                if self._recording:
                    self._stop(StopReason.FAULT)
                self._signal("cannot_record", Sound.TWO_SHORT_ONE_LONG, Sound.TWO_SHORT_ONE_LONG)
        else:
            self.faults.discard(fault)

    def expect_holster(self, serial: str | None) -> None:
        """Learn the serial of the holster sensor paired with this camera's user."""
        self._sync()
        self.expected_holster = serial
        if serial is None:
            self.holster = Holster.NONE

    def holster_pairing(self, state: Holster) -> None:
        """Report the holster sensor link's state."""
        self._sync()
        self.holster = state

    def connect_extension(self) -> None:
        """Plug in a camera extension: the camera switches source, then shows it connected."""
        now = self._now()
        self._extension = Extension.SWITCHING
        self._extension_target = Extension.CONNECTED
        self._extension_until = now + EXTENSION_SWITCH_TIME

    def disconnect_extension(self) -> None:
        """Unplug the camera extension (a fault indication stays until the top button)."""
        now = self._now()
        if self._extension is Extension.ERROR:
            return
        self._extension = Extension.SWITCHING
        self._extension_target = Extension.NONE
        self._extension_until = now + EXTENSION_SWITCH_TIME

    def extension_fault(self, *, in_camera: bool = False) -> None:
        """The sensor camera (or, with `in_camera`, the body worn camera's port) is faulty."""
        self._sync()
        self._extension_until = None
        self._extension = Extension.ERROR
        self._extension_fault_in_camera = in_camera
        self._signal("extension_fault", Sound.SHORT, Sound.SHORT)

    def connect_usb_power(self, connected: bool = True) -> None:
        """Plug a 5 V USB charger or power bank in (or out)."""
        self._sync()
        self.usb_power = connected

    def connect_mini_cube(self, connected: bool = True) -> None:
        """Plug in (or out) a mini cube sensor with its own recording button."""
        self._sync()
        self.mini_cube = connected

    # ---- buttons and triggers --------------------------------------------------------

    def press(self, button: Button, hold: float = 0.0, clicks: int = 1) -> None:
        """Press `button` for `hold` seconds, `clicks` times in quick succession."""
        now = self._now()
        if button is Button.POWER:
            self._power_button(now, hold)
            return
        if self.docked or self._power is not Power.ON or self._user_id is None:
            return
        if button is Button.FRONT:
            if self.mini_cube and self.profile.disable_front_button_with_mini_cube:
                return
            self._record_button(hold, clicks, Trigger.BUTTON, StopReason.BUTTON)
        elif button is Button.FUNCTION:
            if hold >= FUNCTION_HOLD and self.profile.allow_audio_off and self.profile.audio:
                self._toggle_microphone(now)
        elif button is Button.TOP:
            if hold >= SILENT_HOLD:
                if self.profile.allow_silent_mode:
                    self._silent = not self._silent
            else:
                self._peek_until = now + PEEK_TIME
                if self._extension is Extension.ERROR and not self._extension_fault_in_camera:
                    self._extension = Extension.NONE

    def press_mini_cube(self, hold: float = 0.0) -> None:
        """Press the mini cube sensor's recording button."""
        self._sync()
        if not self.mini_cube or self.docked or self._power is not Power.ON or not self._user_id:
            return
        self._record_button(hold, 0, Trigger.MINI_CUBE_BUTTON, StopReason.MINI_CUBE_BUTTON)

    def _record_button(
        self, hold: float, clicks: int, trigger: Trigger, reason: StopReason
    ) -> None:
        if hold >= STOP_HOLD:
            if self._recording:
                self._stop(reason)
            return
        needed = 2 if self.profile.activation is RecordingActivation.DOUBLE_CLICK else 1
        if trigger is Trigger.MINI_CUBE_BUTTON or clicks >= needed:
            self.start_recording(trigger)

    def _power_button(self, now: datetime, hold: float) -> None:
        if self.docked:
            return
        if self._power is Power.OFF:
            if self.system_id is None or self._battery.empty:
                return
            self._power = Power.STARTING
            self._ready_at = now + POWER_ON_TIME
        elif hold >= POWER_OFF_HOLD:
            self._notify("power_off")
            self._power_off(StopReason.POWER_OFF)

    def _power_off(self, reason: StopReason) -> None:
        if self._recording:
            self._stop(reason)
        self._power = Power.OFF
        self.gnss.switch_off()
        self._ready_at = None
        self._buffer_since = None
        self._silent = False
        self._peek_until = None

    def _toggle_microphone(self, now: datetime) -> None:
        self._microphone_on = not self._microphone_on
        muted = self._recording.muted if self._recording else None
        if muted is None:
            return
        if not self._microphone_on:
            muted.append((now, None))
        elif muted and muted[-1][1] is None:
            muted[-1] = (muted[-1][0], now)

    def trigger(self, trigger: Trigger) -> Recording | None:
        """An automatic trigger fired (fall, unholster); start if the profile allows it."""
        self._sync()
        if trigger is Trigger.FALL and not self.profile.fall_detection:
            return None
        if trigger is Trigger.UNHOLSTER and self.holster is not Holster.PAIRED:
            return None
        if trigger is Trigger.MINI_CUBE_BUTTON and not self.mini_cube:
            return None
        if self.docked or self._power is not Power.ON or self._user_id is None:
            return None
        return self.start_recording(trigger)

    def start_recording(self, trigger: Trigger = Trigger.BUTTON) -> Recording | None:
        """Start a recording now, reaching back over the pre-buffer; None if not possible."""
        now = self._now()
        if self._recording:
            return self._recording
        if (
            self.docked
            or self._power is not Power.ON
            or self._user_id is None
            or self._locked
            or self._extension is Extension.SWITCHING
        ):
            return None
        if self._cannot_record() or self._storage.full(self.profile):
            self._signal("cannot_record", Sound.TWO_SHORT_ONE_LONG, Sound.TWO_SHORT_ONE_LONG)
            return None
        pre = timedelta(0)
        if self.profile.pre_buffer and self._buffer_since:
            pre = min(effective_pre_buffer(self.profile, self._env), now - self._buffer_since)
        self._counter += 1
        recording = Recording(
            id=f"{self.serial}-{now:%Y%m%dT%H%M%SZ}-{self._counter:04d}",
            camera_serial=self.serial,
            user_id=self._user_id,
            profile=self.profile,
            trigger=trigger,
            trigger_on=now,
            started_at=now - pre,
            pre_buffer=pre,
            firmware=self.firmware,
            timezone=self.timezone,
        )
        first = Clip(recording.id, 0, recording.started_at)
        # The pre-buffer already sits in its own reserved space; it now becomes recording data.
        pre_bytes = pre.total_seconds() * bitrate(self.profile, self._env) / 8
        self._storage.used_bytes += pre_bytes
        first.nominal_bytes = pre_bytes
        recording.clips.append(first)
        if not self._microphone_on:
            recording.muted.append((recording.started_at, None))
        recording.start_position = self._position(now)
        self._recording = recording
        self.recordings.append(recording)
        interval = self.profile.periodic_reminder
        self._next_reminder = now + interval if interval else None
        self._notify("recording_start")
        return recording

    def stop_recording(self) -> Recording | None:
        """Stop the running recording (as the button does); return it."""
        self._sync()
        if not self._recording:
            return None
        return self._stop(StopReason.BUTTON)

    def _position(self, now: datetime) -> Position | None:
        if not self.profile.location_data:
            return None
        return self.gnss.position(now, outdoor=self._env.outdoor)

    def _split(self, at: datetime) -> None:
        assert self._recording is not None
        current = self._recording.clips[-1]
        current.end = at
        self._close_clip(self._recording, current)
        self._recording.clips.append(Clip(self._recording.id, current.index + 1, at))

    def _stop(self, reason: StopReason) -> Recording:
        assert self._recording is not None
        now = self._last
        recording = self._recording
        recording.trigger_off = now
        recording.stopped_at = now
        recording.stop_reason = reason
        recording.stop_position = self._position(now)
        if self.profile.location_data:
            recording.track = self.gnss.track(
                recording.started_at, now, TRACK_STEP, outdoor=self._env.outdoor
            )
        if recording.muted and recording.muted[-1][1] is None:
            recording.muted[-1] = (recording.muted[-1][0], now)
        last = recording.clips[-1]
        last.end = now
        if last.duration <= timedelta(0) and len(recording.clips) > 1:
            recording.clips.pop()
        else:
            self._close_clip(recording, last)
        self._recording = None
        self._next_reminder = None
        self._buffer_since = now
        self._notify("recording_stop")
        return recording

    def _close_clip(self, recording: Recording, clip: Clip) -> None:
        if self._clip_sink is not None:
            self._clip_sink(recording, clip)

    def delete_recording(self, recording_id: str) -> None:
        """Drop an offloaded recording and free its space."""
        self._sync()
        for recording in self.recordings:
            if recording.id == recording_id:
                if recording is self._recording:
                    raise CameraError("cannot delete the running recording")
                self.recordings.remove(recording)
                self._storage.release(recording.nominal_bytes)
                return
        raise CameraError(f"no recording {recording_id}")

    def delete_clip(self, recording_id: str, index: int) -> Clip:
        """Drop one offloaded clip and free its space; the recording goes with its last clip."""
        self._sync()
        recording = self._find(recording_id)
        if recording is self._recording:
            raise CameraError("cannot delete a clip of the running recording")
        for clip in recording.clips:
            if clip.index == index:
                recording.clips.remove(clip)
                self._storage.release(clip.nominal_bytes)
                if not recording.clips:
                    self.recordings.remove(recording)
                return clip
        raise CameraError(f"no clip {index} in recording {recording_id}")

    def add_category(self, recording_id: str, category: str) -> None:
        """Attach one of the configured categories to a recording (from the assistant app)."""
        if self.categories and category not in self.categories:
            raise CameraError(f"no category {category!r} on this system")
        self._find(recording_id).categories.append(category)

    def add_note(self, recording_id: str, note: str) -> None:
        """Attach a free-text note to a recording (from the assistant app)."""
        self._find(recording_id).notes.append(note)

    def _find(self, recording_id: str) -> Recording:
        for recording in self.recordings:
            if recording.id == recording_id:
                return recording
        raise CameraError(f"no recording {recording_id}")
