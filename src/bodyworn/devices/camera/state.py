"""What a camera is made of and how its time runs; the parts build on this (see __init__)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodyworn.devices.battery import Battery
from bodyworn.devices.camera.model import (
    DEFAULT_FIRMWARE,
    LOG_LINES,
    MODEL,
    CameraError,
    ClipSink,
    Extension,
    Fault,
    Holster,
    Power,
    Recording,
)
from bodyworn.devices.environment import Environment
from bodyworn.devices.feedback import Signal, Sound
from bodyworn.devices.gnss import Receiver
from bodyworn.devices.storage import Storage
from bodyworn.docklink.signing import SignatureVerifier, verify_signature
from bodyworn.domain.clock import Clock
from bodyworn.domain.profile import CameraProfile


class CameraState(ABC):
    """The camera's state, its readers, and the clock loop that catches it up.

    Every reader first replays what fell due since the last one (`_sync`); the power part
    says what falls due (`_next_event`, `_fire_due`) and what time wears down
    (`_integrate`)."""

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
        # The device key is the camera's own for life (a factory reset keeps it); only
        # the certificate its system issues for it comes and goes.
        self.device_key = Ed25519PrivateKey.generate()
        self._signals: list[tuple[datetime, Signal]] = []
        self.recordings: list[Recording] = []
        self._last = clock.now()
        # What the camera writes to its log (kept across a factory reset, as a real one
        # keeps its system log): (time, level, message), the oldest dropped first.
        self._log: deque[tuple[datetime, str, str]] = deque(maxlen=LOG_LINES)
        self._factory_state()
        self._note("info", f"started: {model}, firmware {firmware}")

    def _factory_state(self) -> None:
        self.system_id: str | None = None
        self.identity_key_pem: str | None = None
        # The device certificate and the system certificate that issued it.
        self.device_chain: tuple[x509.Certificate, ...] = ()
        self._user_id: str | None = None
        self.profile = CameraProfile()
        self.docked = False
        self.link_up = False
        self.dock_powered = False
        self.expected_holster: str | None = None
        self.timezone = "UTC"
        # The mains frequency the image sensor avoids flicker at (the system's setting).
        self.power_line_frequency = 50
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

    # ---- state read from outside (each read catches the model up first) -----------

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

    # ---- time ---------------------------------------------------------------------

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

    def _on_mains(self) -> bool:
        # A dock charges only a camera that has left shipping mode; a USB charger always does.
        return self.usb_power or (
            self.docked and self.dock_powered and self.system_id is not None
        )

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

    # ---- the camera's log -----------------------------------------------------------

    def _note(self, level: str, message: str) -> None:
        self._log.append((self._last, level, message))

    def log_lines(self, limit: int = LOG_LINES) -> list[tuple[datetime, str, str]]:
        """The newest `limit` lines of the camera's log, oldest first."""
        self._sync()
        lines = list(self._log)
        return lines[-limit:] if limit > 0 else []

    # ---- one-shot signals ---------------------------------------------------------

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

    def _require_added(self) -> None:
        if self.system_id is None:
            raise CameraError("camera is not added to a system")

    # ---- what the power part supplies to the clock loop ------------------------------

    @abstractmethod
    def _next_event(self, after: datetime) -> datetime | None:
        """The next moment after `after` at which something falls due."""

    @abstractmethod
    def _integrate(self, start: datetime, end: datetime) -> None:
        """Account the battery and storage for the span `start`..`end`."""

    @abstractmethod
    def _fire_due(self) -> None:
        """Carry out whatever is due at the model's present moment."""
