"""The camera's side of AXIS Body Worn Assistant: pairings, sessions, recordings for the app.

The controller gives a docked camera its wireless certificate and its user's pairings
(verifiers only). Off the dock, an app completes a pairing with the QR code's secret and
the PIN, within 5 minutes of the undock, and later opens sessions by signing a challenge
with its device key. What happened off the dock (devices bound, pairings blocked by wrong
PINs) is reported at the next docking. Every check runs on the camera's clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bodyworn.devices.camera.buttons import ButtonsPart
from bodyworn.devices.camera.model import CameraError, Power, Recording, StopReason
from bodyworn.docklink.messages import (
    AssistantBinding,
    AssistantConfig,
    AssistantPairing,
    AssistantReport,
)
from bodyworn.wireless import wire
from bodyworn.wireless.certs import camera_keypair
from bodyworn.wireless.pairing import (
    device_fingerprint,
    device_signed,
    pin_verifier,
    secret_verifier,
)

CHALLENGE_LIFETIME = timedelta(minutes=2)
MAX_CHALLENGES = 32
MAX_SESSIONS = 16


class AssistantRefused(CameraError):
    """What the camera says no to an app with: a reason code and a sentence."""

    def __init__(self, reason: str, message: str, **detail: object) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.detail = detail


@dataclass
class CameraPairing:
    """A pairing as the camera keeps it: verifiers, the bound device, wrong PINs."""

    pairing_id: str
    user_id: str
    secret_sha256: str
    pin_verifier: str
    expires: datetime
    device_key: str | None = None
    bound_at: datetime | None = None
    bound_here: bool = False
    wrong_pins: int = 0
    blocked: bool = False


@dataclass(frozen=True)
class WirelessIdentity:
    """What the wireless server presents: the camera's key and certificate, the system CA."""

    key_pem: bytes
    certificate_pem: bytes
    ca_pem: bytes


class AssistantPart(ButtonsPart):
    """Pairings with the Assistant, app sessions, and what an app may see and change."""

    def _factory_state(self) -> None:
        super()._factory_state()
        self._wireless_key: tuple[bytes, str] | None = None
        self._wireless_cert: bytes | None = None
        self._system_ca: bytes | None = None
        self._pairings: dict[str, CameraPairing] = {}
        self._removed_pairings: set[str] = set()
        self._taken_devices: frozenset[str] = frozenset()
        self.annotations_allowed = False
        self._challenges: dict[str, datetime] = {}
        self._sessions: dict[str, str] = {}

    # ---- the dock side ---------------------------------------------------------------

    def wireless_public_key(self) -> str:
        """The camera's wireless public key (made on first use, kept until a reset)."""
        if self._wireless_key is None:
            self._wireless_key = camera_keypair()
        return self._wireless_key[1]

    def assistant_report(self) -> AssistantReport:
        """The wireless key and what happened to pairings since the last docking."""
        self._sync()
        bindings = tuple(
            AssistantBinding(p.pairing_id, p.device_key, p.bound_at)
            for p in self._pairings.values()
            if p.bound_here and p.device_key is not None and p.bound_at is not None
        )
        blocked = tuple(p.pairing_id for p in self._pairings.values() if p.blocked)
        return AssistantReport(self.wireless_public_key(), bindings, blocked)

    def configure_assistant(self, config: AssistantConfig) -> AssistantReport:
        """Take the controller's certificate and pairings; pairings left out are ended."""
        self._sync()
        self._require_added()
        if not self.docked:
            raise CameraError("the Assistant is configured while docked")
        self.wireless_public_key()
        self._wireless_cert = config.certificate.encode("ascii")
        self._system_ca = config.ca.encode("ascii")
        kept: dict[str, CameraPairing] = {}
        for pushed in config.pairings:
            kept[pushed.pairing_id] = self._merge(pushed)
        for gone in set(self._pairings) - set(kept):
            self._removed_pairings.add(gone)
        self._removed_pairings -= set(kept)
        self._pairings = kept
        self._taken_devices = frozenset(config.taken_devices)
        self.annotations_allowed = config.annotations
        self._end_sessions()
        return self.assistant_report()

    def _merge(self, pushed: AssistantPairing) -> CameraPairing:
        mine = self._pairings.get(pushed.pairing_id)
        if mine is None or mine.secret_sha256 != pushed.secret_sha256:
            return CameraPairing(pushed.pairing_id, pushed.user_id, pushed.secret_sha256,
                                 pushed.pin_verifier, pushed.expires, pushed.device_key)
        mine.user_id, mine.expires = pushed.user_id, pushed.expires
        if pushed.device_key is not None:
            # The controller knows the binding now: it no longer needs reporting from here.
            mine.bound_here = mine.bound_here and mine.device_key == pushed.device_key
            mine.device_key = pushed.device_key
        return mine

    def wireless_identity(self) -> WirelessIdentity | None:
        """Key, certificate and CA for the wireless server (None until a controller gave
        the camera a certificate)."""
        if self._wireless_key is None or self._wireless_cert is None or self._system_ca is None:
            return None
        return WirelessIdentity(self._wireless_key[0], self._wireless_cert, self._system_ca)

    def pairing_hints(self) -> list[str]:
        """Ids of the pairings this camera knows for its user (its beacon shows their
        hashes): those it accepts, and those ended (blocked, or removed by the system) so
        that their app hears why."""
        user = self._user_id
        known = [p.pairing_id for p in self._pairings.values() if p.user_id == user]
        return known + sorted(self._removed_pairings)

    # ---- on the air --------------------------------------------------------------------

    def _require_on_air(self) -> None:
        self._sync()
        if self.docked:
            raise AssistantRefused("docked", "the camera is docked")
        if self._power is not Power.ON:
            raise AssistantRefused("not_running", "the camera is not running")

    def _own_pairing(self, pairing_id: str) -> CameraPairing:
        pairing = self._pairings.get(pairing_id)
        if pairing is None or pairing.user_id != self._user_id:
            if pairing_id in self._removed_pairings:
                raise AssistantRefused("pairing_removed",
                                       "the pairing was removed from the body worn system")
            raise AssistantRefused("unknown_pairing", "this camera does not know the pairing")
        return pairing

    def pair_device(self, pairing_id: str, secret: bytes, pin: str, device_key: str) -> str:
        """Complete a pairing: the QR code's secret, the PIN within 5 minutes of the undock.

        Returns the camera's user; AssistantRefused names what failed. A wrong PIN counts;
        the fifth ends the pairing on this camera until a new one is made.
        """
        self._require_on_air()
        now = self._last
        pairing = self._own_pairing(pairing_id)
        if not hmac.compare_digest(secret_verifier(secret), pairing.secret_sha256):
            raise AssistantRefused("wrong_code", "the QR code does not belong to this pairing")
        if pairing.blocked:
            raise AssistantRefused("too_many_pins", "too many wrong PINs ended this pairing")
        try:
            fingerprint = device_fingerprint(device_key)
        except ValueError as exc:
            raise AssistantRefused("bad_request", f"device_key: {exc}") from exc
        if pairing.device_key is not None:
            if device_fingerprint(pairing.device_key) != fingerprint:
                raise AssistantRefused("in_use", "the pairing is in use on another device")
            return str(self._user_id)
        if now > pairing.expires:
            raise AssistantRefused("expired", "the QR code and PIN have expired")
        if fingerprint in self._taken_devices:
            raise AssistantRefused("device_taken", "this device is paired with another user")
        undocked = self.undocked_at
        if undocked is None or now - undocked > wire.PIN_WINDOW:
            raise AssistantRefused("pin_window",
                                   "the PIN is taken only within 5 minutes of undocking")
        if not hmac.compare_digest(pin_verifier(secret, pairing_id, pin), pairing.pin_verifier):
            pairing.wrong_pins += 1
            if pairing.wrong_pins >= wire.PIN_TRIES:
                pairing.blocked = True
                self._end_sessions(pairing_id)
                raise AssistantRefused("too_many_pins", "too many wrong PINs ended this pairing")
            left = wire.PIN_TRIES - pairing.wrong_pins
            raise AssistantRefused("wrong_pin", f"wrong PIN; {left} tries left", tries_left=left)
        pairing.device_key, pairing.bound_at, pairing.bound_here = device_key, now, True
        return str(self._user_id)

    def session_challenge(self) -> str:
        """A one-time challenge for an app to sign."""
        self._require_on_air()
        now = self._last
        for old, at in list(self._challenges.items()):
            if now - at > CHALLENGE_LIFETIME:
                del self._challenges[old]
        while len(self._challenges) >= MAX_CHALLENGES:
            del self._challenges[next(iter(self._challenges))]
        challenge = secrets.token_urlsafe(24)
        self._challenges[challenge] = now
        return challenge

    def open_session(self, pairing_id: str, challenge: str, signature: bytes) -> str:
        """A session token for a device that signed our challenge with its paired key."""
        self._require_on_air()
        issued = self._challenges.pop(challenge, None)
        if issued is None or self._last - issued > CHALLENGE_LIFETIME:
            raise AssistantRefused("bad_challenge", "unknown, used or expired challenge")
        pairing = self._own_pairing(pairing_id)
        if pairing.blocked:
            raise AssistantRefused("too_many_pins", "too many wrong PINs ended this pairing")
        if pairing.device_key is None:
            raise AssistantRefused("not_paired", "no device has completed this pairing yet")
        message = wire.session_message(self.serial, pairing_id, challenge)
        if not device_signed(pairing.device_key, message, signature):
            raise AssistantRefused("bad_signature", "not signed by the paired device")
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        token = secrets.token_urlsafe(32)
        self._sessions[_token_key(token)] = pairing_id
        return token

    def session_pairing(self, token: str) -> str:
        """The pairing a session token stands for; AssistantRefused when it stands for none."""
        self._require_on_air()
        pairing_id = self._sessions.get(_token_key(token))
        if pairing_id is None:
            raise AssistantRefused("unauthenticated", "no session; open one first")
        pairing = self._own_pairing(pairing_id)
        if pairing.blocked or pairing.device_key is None:
            raise AssistantRefused("unauthenticated", "no session; open one first")
        return pairing_id

    def end_session(self, token: str) -> None:
        """Forget a session token."""
        self._sessions.pop(_token_key(token), None)

    def _end_sessions(self, pairing_id: str | None = None) -> None:
        if pairing_id is None:
            self._challenges.clear()
        for key, owner in list(self._sessions.items()):
            if pairing_id is None or owner == pairing_id:
                del self._sessions[key]

    def _restart(self) -> None:
        # Docking and undocking restart the camera: sessions and challenges are gone.
        super()._restart()
        self._end_sessions()

    def _power_off(self, reason: StopReason) -> None:
        super()._power_off(reason)
        self._end_sessions()

    # ---- what a session may see and change --------------------------------------------

    @property
    def recordings_access(self) -> bool:
        """Whether the profile lets the user view recordings in the Assistant."""
        return self.profile.allow_assistant_access

    def assistant_recordings(self) -> list[Recording]:
        """Finished recordings still on the camera, newest first (if the profile allows)."""
        self._require_on_air()
        if not self.recordings_access:
            raise AssistantRefused("no_access",
                                   "the camera profile does not allow access to recordings")
        done = [r for r in self.recordings if r.stopped_at is not None]
        return sorted(done, key=lambda r: r.started_at, reverse=True)

    def assistant_recording(self, recording_id: str) -> Recording:
        """One finished recording for the app."""
        for recording in self.assistant_recordings():
            if recording.id == recording_id:
                return recording
        raise AssistantRefused("no_recording", "no such recording on the camera")

    def annotate(self, recording_id: str, category: str | None, notes: str) -> Recording:
        """Set a recording's category and notes (they travel with it to the CD)."""
        recording = self.assistant_recording(recording_id)
        if not self.annotations_allowed:
            raise AssistantRefused(
                "no_annotations", "the content destination does not take categories and notes")
        if category is not None and category not in self.categories:
            raise AssistantRefused("bad_category", "not one of the system's categories")
        if len(notes) > wire.MAX_NOTES:
            raise AssistantRefused("bad_request", f"notes: at most {wire.MAX_NOTES} characters")
        recording.categories = [category] if category else []
        recording.notes = [notes.strip()] if notes.strip() else []
        return recording

    def clock_now(self) -> datetime:
        """The camera's clock (what its overlay shows), caught up."""
        return self._now()

    def require_live(self) -> None:
        """Refuse live video unless the camera is running off the dock."""
        self._require_on_air()


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
