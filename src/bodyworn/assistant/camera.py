"""The app's link to the user's camera: pairing, finding the camera, sessions, media.

A paired device connects to whichever camera is assigned to its user: it looks for a
beacon that shows its pairing, trusts that camera only through the system CA the QR code
pinned, and opens a session by signing the camera's challenge with the device key. A
session ends when the camera docks or restarts; the next call simply opens a new one.
Refusals come back as `AppRefused` carrying a message in the user's words (msgids of the
shared catalog, translated by the routes).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import structlog

from bodyworn.assistant.device import DeviceStore, StoredPairing
from bodyworn.wireless.certs import UntrustedCamera, pinned_ca
from bodyworn.wireless.client import CameraLink, beacons, fetch_ca
from bodyworn.wireless.messages import (
    Annotation,
    CameraStatus,
    Grant,
    MessageError,
    PairRequest,
    RecordingSummary,
    WirelessRefused,
    pairing_hint,
)
from bodyworn.wireless.pairing import PairingCode, PairingCodeError, normalize_pin

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Each refusal in the user's words (msgids of the shared catalog); `{left}`, `{user}`
# are filled in after translation.
MESSAGES: dict[str, str] = {
    "no_pairing": "This device is not paired yet. Scan the QR code you got from your"
                  " administrator.",
    "device_paired": "This device is paired with {user}. To pair it with someone else,"
                     " replace the pairing first.",
    "bad_code": "This is not a pairing QR code of the body worn system.",
    "no_code": "Scan the QR code first.",
    "bad_pin": "The PIN has 6 digits.",
    "no_camera": "Your camera cannot be found. Undock it, wait until it has started and keep"
                 " it near this device.",
    "untrusted": "The camera belongs to another body worn system.",
    "docked": "The camera is docked: its recordings are being transferred.",
    "not_running": "Your camera cannot be found. Undock it, wait until it has started and"
                   " keep it near this device.",
    "unknown_pairing": "The camera does not know this pairing yet. Dock it once so that it"
                       " learns the pairing, then undock it and try again.",
    "pairing_removed": "The pairing was removed from the body worn system. Ask your"
                       " administrator for a new pairing, then tap New pairing.",
    "wrong_code": "The QR code does not match this pairing. Scan the newest QR code you got.",
    "too_many_pins": "Too many wrong PINs. Ask your administrator for a new pairing.",
    "in_use": "This pairing is already used on another device. Ask your administrator for a"
              " new pairing.",
    "expired": "The QR code and the PIN have expired (they are valid for 24 hours). Ask"
               " your administrator for a new pairing.",
    "device_taken": "This device is paired with another user of the body worn system. Ask"
                    " your administrator to remove that pairing first.",
    "pin_window": "The PIN must be entered within 5 minutes of undocking the camera. Dock"
                  " the camera, undock it again and enter the PIN.",
    "wrong_pin": "Wrong PIN. Tries left: {left}.",
    "no_access": "Your camera profile does not allow viewing recordings in the Assistant.",
    "no_annotations": "Your content destination does not take categories and notes.",
    "bad_category": "Choose one of the categories.",
    "not_paired": "Complete the pairing with the PIN first.",
    "no_recording": "The recording is no longer on the camera.",
    "busy": "Live video is already shown on other devices.",
    "camera_error": "The camera did not answer as expected. Try again.",
}


class AppRefused(Exception):
    """What the app says no with: a status, a reason code, the msgid and its fields."""

    def __init__(self, status: int, reason: str, **fields: object) -> None:
        message = MESSAGES.get(reason, MESSAGES["camera_error"])
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.msgid = message
        self.fields = fields


def refusal_of(exc: WirelessRefused) -> AppRefused:
    """A camera's refusal in the app's terms."""
    reason = exc.reason if exc.reason in MESSAGES else "camera_error"
    fields: dict[str, object] = {}
    if reason == "wrong_pin":
        fields["left"] = exc.detail.get("tries_left", "?")
    status = exc.status if 400 <= exc.status < 600 else 502
    return AppRefused(status, reason, **fields)


@dataclass(frozen=True)
class AppState:
    """What the app's screen starts from."""

    paired: bool
    user_id: str | None
    code_scanned: bool
    camera: CameraStatus | None = None


class CameraService:
    """The device's one pairing and its link to the user's camera."""

    def __init__(self, store: DeviceStore, air_url: str) -> None:
        self.store = store
        self.air_url = air_url
        self._pending: PairingCode | None = None
        self._link: CameraLink | None = None
        self._grant: Grant | None = None
        self._lock = asyncio.Lock()
        self._listing: tuple[float, list[RecordingSummary]] | None = None
        # Set when the camera last said it was docked: while no beacon shows it, the app
        # says that rather than that the camera cannot be found.
        self._docked = False

    async def aclose(self) -> None:
        """Close the link to the camera."""
        await self._drop_link()

    async def _drop_link(self) -> None:
        link, self._link, self._grant = self._link, None, None
        self._listing = None
        if link is not None:
            await link.aclose()

    # ---- pairing -------------------------------------------------------------------------

    def state(self) -> AppState:
        """Paired or not, whose, and whether a QR code waits for its PIN."""
        pairing = self.store.pairing()
        camera = self._grant.camera if self._grant is not None else None
        return AppState(pairing is not None, pairing.user_id if pairing else None,
                        self._pending is not None, camera)

    def scan(self, text: str) -> PairingCode:
        """Take a scanned or pasted QR code; the PIN comes next."""
        paired = self.store.pairing()
        if paired is not None:
            raise AppRefused(409, "device_paired", user=paired.user_id)
        try:
            code = PairingCode.parse(text)
        except PairingCodeError:
            raise AppRefused(422, "bad_code") from None
        self._pending = code
        return code

    async def enter_pin(self, pin_text: str) -> StoredPairing:
        """Complete the pairing on the user's camera with the PIN."""
        code = self._pending
        if code is None:
            raise AppRefused(409, "no_code")
        paired_before = self.store.pairing()
        if paired_before is not None:
            raise AppRefused(409, "device_paired", user=paired_before.user_id)
        try:
            pin = normalize_pin(pin_text)
        except ValueError:
            raise AppRefused(422, "bad_pin") from None
        _, device_public = self.store.device_key()
        async with self._lock:
            serial = await self._find_camera(code.pairing_id)
            ca_pem = await self._pinned_ca(serial, code.fingerprint)
            link = CameraLink(self.air_url, serial, ca_pem)
            try:
                paired = await link.pair(PairRequest(code.pairing_id, code.secret_text, pin,
                                                     device_public))
            except WirelessRefused as exc:
                await link.aclose()
                raise refusal_of(exc) from None
            except httpx.HTTPError:
                await link.aclose()
                raise AppRefused(502, "no_camera") from None
            stored = StoredPairing(code.pairing_id, code.fingerprint, ca_pem.decode("ascii"),
                                   paired.user_id, paired.serial, time.time())
            self.store.save_pairing(stored)
            self._pending = None
            log.info("assistant.paired", camera=paired.serial)
            await self._drop_link()
            self._link = link
        return stored

    async def forget(self) -> None:
        """Remove the pairing from this device (replacing it starts here)."""
        async with self._lock:
            if self._link is not None and self._link.token is not None:
                with contextlib.suppress(WirelessRefused, httpx.HTTPError):
                    await self._link.close_session()
            await self._drop_link()
            self.store.forget_pairing()
            self._pending = None
            self._docked = False

    # ---- finding and trusting the camera -------------------------------------------------

    async def _find_camera(self, pairing_id: str) -> str:
        hint = pairing_hint(pairing_id)
        try:
            found = await beacons(self.air_url)
        except (httpx.HTTPError, MessageError, WirelessRefused):
            raise AppRefused(503, "no_camera") from None
        for beacon in found:
            if hint in beacon.hints:
                self._docked = False
                return beacon.serial
        if self._docked:
            raise AppRefused(503, "docked")
        raise AppRefused(404, "no_camera")

    async def _pinned_ca(self, serial: str, fingerprint: str) -> bytes:
        try:
            return pinned_ca(await fetch_ca(self.air_url, serial), fingerprint)
        except UntrustedCamera:
            raise AppRefused(403, "untrusted") from None
        except (httpx.HTTPError, WirelessRefused):
            raise AppRefused(503, "no_camera") from None

    async def _connect(self) -> CameraLink:
        pairing = self.store.pairing()
        if pairing is None:
            raise AppRefused(409, "no_pairing")
        if self._link is not None and self._link.token is not None:
            return self._link
        serial = await self._find_camera(pairing.pairing_id)
        link = self._link if self._link is not None and self._link.serial == serial else None
        if link is None:
            await self._drop_link()
            link = CameraLink(self.air_url, serial, pairing.ca_pem.encode("ascii"))
        private, _ = self.store.device_key()
        try:
            self._grant = await link.open_session(pairing.pairing_id, private)
        except WirelessRefused as exc:
            await link.aclose()
            self._link = None
            raise refusal_of(exc) from None
        except httpx.HTTPError:
            await link.aclose()
            self._link = None
            raise AppRefused(503, "no_camera") from None
        self._link = link
        return link

    async def session(self, fn: Callable[[CameraLink], Awaitable[T]]) -> T:
        """Run `fn` on the camera's link, opening a session first when there is none and
        once again when the camera forgot the one we had (it docked or restarted)."""
        for attempt in (1, 2):
            async with self._lock:
                link = await self._connect()
            try:
                return await fn(link)
            except WirelessRefused as exc:
                if exc.reason == "unauthenticated" and attempt == 1:
                    link.token = None
                    continue
                if exc.reason in ("docked", "not_running"):
                    self._docked = exc.reason == "docked"
                    await self._drop_link()
                raise refusal_of(exc) from None
            except httpx.HTTPError:
                await self._drop_link()
                if attempt == 1:
                    continue
                raise AppRefused(503, "no_camera") from None
        raise AppRefused(503, "no_camera")  # pragma: no cover - the loop returns or raises

    # ---- what the app shows -------------------------------------------------------------

    async def status(self) -> CameraStatus:
        """The camera's status (and so whether the app may show recordings)."""
        return await self.session(lambda link: link.status())

    async def recordings(self, *, max_age: float = 0.0) -> list[RecordingSummary]:
        """The finished recordings still on the camera, newest first."""
        cached = self._listing
        if cached is not None and time.monotonic() - cached[0] <= max_age:
            return cached[1]
        found = await self.session(lambda link: link.recordings())
        self._listing = (time.monotonic(), found)
        return found

    async def recording(self, recording_id: str) -> RecordingSummary:
        """One recording (from a listing a few seconds old at most)."""
        for found in await self.recordings(max_age=5.0):
            if found.id == recording_id:
                return found
        raise AppRefused(404, "no_recording")

    async def annotate(self, recording_id: str, category: str | None,
                       notes: str) -> RecordingSummary:
        """Save a recording's category and notes on the camera."""
        done = await self.session(
            lambda link: link.annotate(recording_id, Annotation(category, notes)))
        self._listing = None
        return done

    async def download_clip(self, name: str, size: int, target: Path) -> None:
        """Fetch a whole clip into `target` (a break resumes where it stopped)."""
        async def fetch(link: CameraLink) -> None:
            have = target.stat().st_size if target.exists() else 0
            response = await link.clip(name, f"bytes={have}-" if have else None)
            try:
                mode = "ab" if have and response.status_code == 206 else "wb"
                with open(target, mode) as handle:
                    async for block in response.aiter_bytes():
                        handle.write(block)
            finally:
                await response.aclose()

        await self.session(fetch)
        if target.stat().st_size != size:
            target.unlink(missing_ok=True)
            raise AppRefused(502, "camera_error")

    async def live(self) -> httpx.Response:
        """The camera's live picture as a stream of fragmented MP4 (the caller closes it)."""
        return await self.session(lambda link: link.live())


def describe(refusal: AppRefused, gettext: Callable[[str], str]) -> dict[str, Any]:
    """A refusal as the app's JSON: the sentence in the user's language and the reason."""
    text = gettext(refusal.msgid)
    with contextlib.suppress(KeyError, IndexError, ValueError):
        text = text.format(**refusal.fields)
    return {"error": text, "reason": refusal.reason}
