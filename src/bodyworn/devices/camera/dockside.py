"""The dock side of a camera: docking, joining a system, settings pushed to it, the lock."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography import x509

from bodyworn.devices.camera.model import (
    DOCK_RESTART_DARK,
    DOCK_RESTART_STARTING,
    SELF_ASSIGN_WINDOW,
    UNDOCK_RESTART_TIME,
    CameraError,
    Holster,
    Power,
    StopReason,
)
from bodyworn.devices.camera.recording import RecordingPart
from bodyworn.docklink.signing import check_public_key_pem
from bodyworn.docklink.wire import unlock_message
from bodyworn.domain.profile import CameraProfile
from bodyworn.evidence.signing import (
    SignatureProblem,
    common_name,
    issued_by,
    load_ed25519_public,
    public_key_of,
    public_pem,
    same_key,
)


class DockPart(RecordingPart):
    """What the camera does in a dock and what a controller asks of it there."""

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
        self._note("info", "docked" + ("" if link_up else " (no controller link)"))

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
        self._note("info", "undocked")
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

    # ---- system, user and settings ------------------------------------------------

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
        self._note("info", f"added to system {system_id}")

    def install_certificate(self, chain: Sequence[x509.Certificate]) -> None:
        """Take the device certificate the system issued, with the system's certificate.

        Refused unless the first certifies this camera's own device key under its serial
        and was issued by the second, whose key is the identity key this camera trusts.
        """
        self._sync()
        self._require_added()
        if len(chain) != 2:
            raise CameraError("a device certificate and the system certificate are expected")
        leaf, root = chain
        try:
            if not same_key(public_key_of(leaf), self.device_key.public_key()):
                raise CameraError("the certificate is not for this camera's device key")
            assert self.identity_key_pem is not None
            trusted = load_ed25519_public(self.identity_key_pem.encode("ascii"))
            if not same_key(public_key_of(root), trusted):
                raise CameraError("the issuer is not this camera's system")
        except (SignatureProblem, ValueError) as exc:
            raise CameraError(f"unusable certificate: {exc}") from exc
        if common_name(leaf) != self.serial:
            raise CameraError("the certificate names another camera")
        problem = issued_by(leaf, root)
        if problem:
            raise CameraError(f"unusable certificate: {problem}")
        self.device_chain = (leaf, root)

    @property
    def device_public_pem(self) -> str:
        """The device key's public half, as the camera tells it (PEM)."""
        return public_pem(self.device_key.public_key())

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
        self._note("warning", "factory reset: back in shipping mode")

    def assign(self, user_id: str, profile: CameraProfile) -> None:
        """Give the camera a user and that user's profile (fixed assignment)."""
        self._sync()
        self._require_added()
        if self._locked:
            raise CameraError("camera is locked")
        self._user_id = user_id
        self.profile = profile
        self._note("info", f"assigned to {user_id}, profile {profile.name}")

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
        self._note("info", "unassigned")

    def configure(
        self,
        profile: CameraProfile | None = None,
        *,
        timezone: str | None = None,
        categories: list[str] | None = None,
        power_line_frequency: int | None = None,
    ) -> None:
        """Take settings pushed by the controller: profile, overlay time zone, categories,
        the power line frequency."""
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
        if power_line_frequency is not None:
            if power_line_frequency not in (50, 60):
                raise CameraError("the power line frequency is 50 or 60 Hz")
            self.power_line_frequency = power_line_frequency
        self._note("info", f"settings: profile {self.profile.name}, time zone {self.timezone},"
                           f" {self.power_line_frequency} Hz, {len(self.categories)} categories")

    def install_firmware(self, version: str, duration: timedelta) -> None:
        """Take new firmware; the dock shows busy for `duration`."""
        now = self._now()
        if not self.docked:
            raise CameraError("firmware is installed while docked")
        self._note("info", f"firmware {self.firmware} -> {version}: installing")
        self.firmware = version
        self._firmware_until = now + duration

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

    # ---- trust and the lock -------------------------------------------------------

    def accepts(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` over `message` comes from this camera's own system.

        A camera in shipping mode trusts nobody; once added it obeys only requests signed
        with the identity key it was given then.
        """
        if self.identity_key_pem is None:
            return False
        return self._verifier(self.identity_key_pem, message, signature)

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
            self._note("warning", "locked by the controller")

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
        self._note("info", "unlocked")
        if not self.docked:
            self._undocked_at = self._last
