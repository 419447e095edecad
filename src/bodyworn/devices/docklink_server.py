"""The camera side of the dock link: one stdlib HTTP server per docking station.

Each docked camera answers under `/docklink/v1/cameras/{serial}` of its station's server
(docs/dock-link.md). A station serves only the cameras in its bays and only while it is
cabled to a controller. The simulated camera models are not thread-safe, so every request
works on them under one lock that the simulation holds too while it moves time or acts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from bodyworn.devices.camera import Camera, CameraError, Clip, Recording
from bodyworn.devices.docking import BayEvent, DockingStation
from bodyworn.devices.docklink_messages import info_of, manifest_of, offloadable_clips
from bodyworn.docklink import wire as proto
from bodyworn.docklink.errors import MessageError
from bodyworn.docklink.messages import (
    AssistantConfig,
    CameraLog,
    DeleteChallenge,
    DeleteResult,
    FirmwareAccepted,
    LogEntry,
    StationBay,
    StationEvent,
    StationListing,
)
from bodyworn.domain import strict_json
from bodyworn.domain.clock import Clock, SystemClock
from bodyworn.domain.profile import CameraProfile, ProfileError
from bodyworn.evidence.signing import SignatureProblem, load_pem_chain

# Request bodies: JSON is small; a firmware image is the one large body the link takes.
MAX_BODY = 1024 * 1024
MAX_FIRMWARE_BODY = 64 * 1024 * 1024
# The camera takes a time push only within the years any controller may be set to.
PUSHED_TIME_RANGE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
CHALLENGE_LIFETIME = timedelta(minutes=5)
DEFAULT_FIRMWARE_INSTALL = timedelta(minutes=2)
RESTART_RETRY_AFTER_S = 5
_log = logging.getLogger(__name__)
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
FIRMWARE_VERSION = re.compile(r"\d+(\.\d+){1,3}")
CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f]")
HOLSTER_SERIAL = re.compile(r"\d{6}")


class LinkError(Exception):
    """A refusal: the HTTP status, a short machine-readable reason and a sentence."""

    def __init__(self, status: HTTPStatus, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass
class _LinkState:
    """What one camera remembers about its link: clock offset, seen nonces, challenges."""

    time_offset: timedelta = timedelta(0)
    nonces: dict[str, datetime] = field(default_factory=dict)
    challenges: dict[str, tuple[str, datetime]] = field(default_factory=dict)


@dataclass
class _Request:
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        try:
            return strict_json.load_object(self.body or b"{}")
        except strict_json.JsonRefused as exc:
            raise LinkError(HTTPStatus.BAD_REQUEST, "bad_json", f"body refused: {exc}") from exc


@dataclass
class _Reply:
    status: HTTPStatus
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    file: Path | None = None
    file_range: tuple[int, int] | None = None


def _is_user_id(value: object) -> bool:
    """Text a camera can show in its overlay: not blank, no control characters."""
    return (isinstance(value, str) and bool(value.strip()) and len(value) <= 256
            and not CONTROL_CHARS.search(value))


def _json_reply(status: HTTPStatus, data: object, **headers: str) -> _Reply:
    body = json.dumps(data, separators=(",", ":")).encode("utf-8")
    return _Reply(status, body, {"Content-Type": "application/json", **headers})


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span a single-range `Range` header asks for (None: whole file).

    Raises LinkError 416 when the span lies outside the file.
    """
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if match is None or (not match.group(1) and not match.group(2)):
        # RFC 9110 lets a server ignore a Range it does not understand (several ranges too).
        return None
    first_text, last_text = match.groups()
    if not first_text:
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if first >= size or last < first:
        raise _unsatisfiable(size)
    return first, min(last, size - 1)


def _unsatisfiable(size: int) -> LinkError:
    error = LinkError(
        HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "bad_range", f"the clip has {size} bytes"
    )
    return error


def check_signed(camera: Camera, request: _Request, link: _LinkState, now: datetime) -> None:
    """The trust checks of docs/dock-link.md, in order; LinkError 403 names the first that fails.

    `now` is the camera's link clock; a nonce is remembered in `link` once its signature holds.
    """

    def refuse(reason: str, message: str) -> LinkError:
        return LinkError(HTTPStatus.FORBIDDEN, reason, message)

    headers = request.headers
    needed = (
        proto.HEADER_SYSTEM, proto.HEADER_TIMESTAMP, proto.HEADER_NONCE,
        proto.HEADER_CONTENT_SHA256, proto.HEADER_SIGNATURE,
    )
    missing = [name for name in needed if not headers.get(name.lower())]
    if missing:
        raise refuse("unsigned", f"the request is not signed (missing {', '.join(missing)})")
    if headers[proto.HEADER_SYSTEM.lower()] != camera.system_id:
        raise refuse("wrong_system", "this camera belongs to another system")
    if headers[proto.HEADER_CONTENT_SHA256.lower()] != hashlib.sha256(request.body).hexdigest():
        raise refuse("body_mismatch", "the body's sha256 is not the one signed")
    stamp = headers[proto.HEADER_TIMESTAMP.lower()]
    try:
        sent = proto.parse_time(stamp)
    except ValueError as exc:
        raise refuse("bad_timestamp", f"unreadable timestamp: {exc}") from exc
    if abs(sent - now) > proto.MAX_SKEW:
        raise refuse(
            "stale_timestamp",
            f"timestamp {stamp} is more than {proto.MAX_SKEW.total_seconds():.0f} s from"
            f" the camera's clock ({proto.format_time(now)})",
        )
    nonce = headers[proto.HEADER_NONCE.lower()]
    if not (
        proto.MIN_NONCE_LENGTH <= len(nonce) <= proto.MAX_NONCE_LENGTH
        and NONCE_PATTERN.fullmatch(nonce)
    ):
        raise refuse("bad_nonce", "the nonce must be 16-128 URL-safe characters")
    for seen, at in list(link.nonces.items()):
        if abs(now - at) > proto.MAX_SKEW:
            del link.nonces[seen]
    if nonce in link.nonces:
        raise refuse("replayed_nonce", "this nonce was used before")
    try:
        signature = proto.b64decode(headers[proto.HEADER_SIGNATURE.lower()])
    except ValueError as exc:
        raise refuse("bad_signature", "the signature is not base64") from exc
    base = proto.request_base(
        request.method, request.target, stamp, nonce,
        headers[proto.HEADER_CONTENT_SHA256.lower()], headers[proto.HEADER_SYSTEM.lower()],
    )
    if not camera.accepts(base, signature):
        raise refuse("bad_signature", "not signed by this camera's system identity key")
    # Remember the nonce only once the signature holds, so forged requests cannot burn
    # nonces a real controller might send.
    link.nonces[nonce] = sent


@dataclass(frozen=True)
class ConfigChange:
    """A `PUT …/config` body, checked whole: what to change (`given`: the keys sent)."""

    given: frozenset[str]
    profile: CameraProfile | None = None
    time: datetime | None = None
    timezone: str | None = None
    categories: list[str] | None = None
    user_id: str | None = None
    holster: str | None = None
    power_line_frequency: int | None = None


def parse_config(data: dict[str, Any]) -> ConfigChange:
    """Check every setting before anything changes; LinkError 400 names the first wrong one."""
    def bad(reason: str, message: str) -> LinkError:
        return LinkError(HTTPStatus.BAD_REQUEST, reason, message)

    known = {"profile", "user_id", "time", "timezone", "categories", "holster",
             "power_line_frequency"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise bad("bad_config", f"unknown settings: {', '.join(unknown)}")
    profile = None
    if data.get("profile") is not None:
        try:
            profile = proto.profile_from_json(data["profile"])
        except ProfileError as exc:
            raise bad("bad_profile", str(exc)) from exc
    pushed_time = None
    if data.get("time") is not None:
        try:
            pushed_time = proto.parse_time(str(data["time"]))
        except ValueError as exc:
            raise bad("bad_time", str(exc)) from exc
        if not PUSHED_TIME_RANGE[0] <= pushed_time < PUSHED_TIME_RANGE[1]:
            raise bad("bad_time", "time must be in the years 2000 to 2099")
    timezone = data.get("timezone")
    if timezone is not None:
        try:
            ZoneInfo(str(timezone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise bad("bad_timezone", f"unknown time zone {timezone!r}") from exc
    categories = data.get("categories")
    if categories is not None and not (
        isinstance(categories, list) and all(isinstance(c, str) for c in categories)
    ):
        raise bad("bad_categories", "categories: list of text")
    user_id = data.get("user_id")
    if user_id is not None and not _is_user_id(user_id):
        raise bad("bad_user", "user_id: non-empty text without control characters, or null")
    holster = data.get("holster")
    if holster is not None and not (isinstance(holster, str) and HOLSTER_SERIAL.fullmatch(
            holster)):
        raise bad("bad_holster", "holster: 6 digits or null")
    frequency = data.get("power_line_frequency")
    if frequency is not None and frequency not in (50, 60):
        raise bad("bad_power_line_frequency", "power_line_frequency: 50 or 60")
    return ConfigChange(frozenset(data), profile, pushed_time, timezone, categories, user_id,
                        holster, frequency)


def log_reply(camera: Camera, request: _Request) -> _Reply:
    """`GET /log?limit=N`: the camera's newest log lines (at most 500)."""
    limits = request.query.get("limit", ["500"])
    if len(limits) != 1 or not limits[0].isdigit():
        raise LinkError(HTTPStatus.BAD_REQUEST, "bad_limit", "give ?limit=N once")
    lines = camera.log_lines(min(int(limits[0]), 500))
    log = CameraLog(camera.serial, tuple(LogEntry(at, level, message)
                                         for at, level, message in lines))
    return _json_reply(HTTPStatus.OK, log.to_json())


class DockLinkServer:
    """Serves the dock link of every camera in one docking station, on loopback."""

    def __init__(
        self,
        station: DockingStation,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        link_clock: Clock | None = None,
        lock: threading.RLock | None = None,
        firmware_install_time: timedelta = DEFAULT_FIRMWARE_INSTALL,
    ) -> None:
        self.station = station
        # The link's trust checks run on the cameras' real-time clock, which a controller
        # sets with a time push; a simulation's scenario clock may run many times faster.
        self.link_clock: Clock = link_clock or SystemClock()
        self.lock = lock or threading.RLock()
        self.firmware_install_time = firmware_install_time
        self._links: dict[str, _LinkState] = {}
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._stop_lock = threading.Lock()

    @property
    def url(self) -> str:
        """The server's base URL."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def camera_url(self, serial: str) -> str:
        """Where a controller reaches camera `serial` while it sits in this station."""
        return f"{self.url}{proto.PREFIX}/cameras/{serial}"

    def start(self) -> DockLinkServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            args=(0.05,),
            name=f"docklink-{self.station.serial}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (again, or from two threads at once: once)."""
        with self._stop_lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._httpd.shutdown()
                thread.join()
            self._httpd.server_close()

    def __enter__(self) -> DockLinkServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def link_time(self, serial: str) -> datetime:
        """The camera's real-time clock: the link clock corrected by the last time push."""
        return self.link_clock.now() + self._link(serial).time_offset

    def _link(self, serial: str) -> _LinkState:
        return self._links.setdefault(serial, _LinkState())

    # ---- dispatch ---------------------------------------------------------------------

    def handle(self, request: _Request) -> _Reply:
        """Answer one request (the HTTP handler calls this)."""
        try:
            with self.lock:
                return self._route(request)
        except LinkError as exc:
            return _json_reply(exc.status, {"error": exc.message, "reason": exc.reason})
        except Exception:
            # A bug, not a refusal: answer it as one (the fuzzers count these) instead of
            # dropping the connection without a word.
            _log.exception("dock link request %s %s failed", request.method, request.path)
            return _json_reply(HTTPStatus.INTERNAL_SERVER_ERROR,
                               {"error": "the camera failed to handle the request",
                                "reason": "internal"})

    def _route(self, request: _Request) -> _Reply:
        parts = [unquote(part) for part in request.path.split("/") if part]
        prefix = [part for part in proto.PREFIX.split("/") if part]
        if parts[: len(prefix)] != prefix:
            raise LinkError(HTTPStatus.NOT_FOUND, "not_found", "not a dock link path")
        rest = parts[len(prefix) :]
        if rest == ["station"] and request.method == "GET":
            return _json_reply(HTTPStatus.OK, self._station_listing().to_json())
        if len(rest) < 2 or rest[0] != "cameras":
            raise LinkError(HTTPStatus.NOT_FOUND, "not_found", "not a dock link path")
        camera = self._camera(rest[1])
        return self._camera_route(camera, request, rest[2:])

    def _station_listing(self) -> StationListing:
        bays = tuple(
            StationBay(index, camera.serial, self.camera_url(camera.serial))
            if camera else StationBay(index)
            for index, camera in enumerate(self.station.bays)
        )
        return StationListing(
            self.station.serial, self.station.model.value, self.station.link_up, bays
        )

    def _camera(self, serial: str) -> Camera:
        if not self.station.link_up:
            raise LinkError(
                HTTPStatus.SERVICE_UNAVAILABLE, "no_link",
                "the station is not cabled to a controller",
            )
        for camera in self.station.cameras:
            if camera.serial == serial:
                return camera
        raise LinkError(HTTPStatus.NOT_FOUND, "not_docked", f"no camera {serial} in this station")

    def _camera_route(self, camera: Camera, request: _Request, rest: list[str]) -> _Reply:
        key = (request.method, tuple(rest[:1]), len(rest))
        if camera.shipping_mode:
            if key == ("GET", (), 0):
                return self._info(camera)
            if key == ("POST", ("add",), 1):
                return self._add(camera, request)
            raise LinkError(
                HTTPStatus.FORBIDDEN, "shipping_mode",
                "the camera is in shipping mode: add it to a system first",
            )
        self._authenticate(camera, request)
        handlers: dict[tuple[str, tuple[str, ...], int], Callable[[], _Reply]] = {
            ("GET", (), 0): lambda: self._info(camera),
            ("POST", ("add",), 1): lambda: self._add(camera, request),
            ("GET", ("recordings",), 1): lambda: self._manifest(camera),
            ("GET", ("clips",), 2): lambda: self._clip(camera, rest[1], request),
            ("DELETE", ("clips",), 2): lambda: self._delete(camera, rest[1], request),
            ("PUT", ("config",), 1): lambda: self._configure(camera, request),
            ("PUT", ("certificate",), 1): lambda: self._certificate(camera, request),
            ("POST", ("firmware",), 1): lambda: self._firmware(camera, request),
            ("POST", ("lock",), 1): lambda: self._lock(camera),
            ("GET", ("unlock-challenge",), 1): lambda: self._unlock_challenge(camera),
            ("POST", ("unlock",), 1): lambda: self._unlock(camera, request),
            ("POST", ("factory-reset",), 1): lambda: self._factory_reset(camera),
            ("POST", ("self-assign",), 1): lambda: self._self_assign(camera, request),
            ("GET", ("assistant",), 1): lambda: self._assistant(camera),
            ("GET", ("log",), 1): lambda: log_reply(camera, request),
            ("PUT", ("assistant",), 1): lambda: self._configure_assistant(camera, request),
        }
        if key == ("POST", ("clips",), 3) and rest[2] == "challenge":
            return self._delete_challenge(camera, rest[1])
        handler = handlers.get(key)
        if handler is None:
            raise LinkError(HTTPStatus.NOT_FOUND, "not_found", "no such dock link operation")
        try:
            return handler()
        except CameraError as exc:
            raise LinkError(HTTPStatus.CONFLICT, "camera_refused", str(exc)) from exc

    # ---- trust ------------------------------------------------------------------------

    def _authenticate(self, camera: Camera, request: _Request) -> None:
        check_signed(camera, request, self._link(camera.serial), self.link_time(camera.serial))

    # ---- operations -------------------------------------------------------------------

    def _info(self, camera: Camera) -> _Reply:
        info = info_of(
            camera,
            time=self.link_time(camera.serial),
            time_offset=self._link(camera.serial).time_offset,
        )
        return _json_reply(HTTPStatus.OK, info.to_json())

    def _add(self, camera: Camera, request: _Request) -> _Reply:
        if not camera.shipping_mode:
            raise LinkError(
                HTTPStatus.CONFLICT, "already_added", "the camera already belongs to this system"
            )
        data = request.json()
        system_id, key = data.get("system_id"), data.get("identity_public_key")
        if not isinstance(system_id, str) or not system_id.strip():
            raise LinkError(HTTPStatus.BAD_REQUEST, "bad_request", "system_id is required")
        if not isinstance(key, str):
            raise LinkError(
                HTTPStatus.BAD_REQUEST, "bad_request", "identity_public_key (PEM) is required"
            )
        try:
            camera.add_to_system(system_id, key)
        except CameraError as exc:
            raise LinkError(HTTPStatus.BAD_REQUEST, "bad_key", str(exc)) from exc
        self._links[camera.serial] = _LinkState()
        return self._info(camera)

    def _require_offload_ready(self, camera: Camera) -> None:
        if camera.locked:
            raise LinkError(HTTPStatus.LOCKED, "locked", "the camera is locked; unlock it first")
        if not camera.offload_ready:
            raise LinkError(
                HTTPStatus.SERVICE_UNAVAILABLE, "restarting",
                "the camera is still restarting after docking",
            )

    def _manifest(self, camera: Camera) -> _Reply:
        self._require_offload_ready(camera)
        return _json_reply(HTTPStatus.OK, manifest_of(camera).to_json())

    def _find_clip(self, camera: Camera, name: str) -> tuple[Recording, Clip]:
        for recording in camera.recordings:
            if recording.stopped_at is None:
                continue
            for clip in offloadable_clips(recording):
                if clip.path is not None and clip.path.name == name:
                    return recording, clip
        raise LinkError(HTTPStatus.NOT_FOUND, "no_clip", f"no clip {name} on this camera")

    def _clip(self, camera: Camera, name: str, request: _Request) -> _Reply:
        self._require_offload_ready(camera)
        _, clip = self._find_clip(camera, name)
        assert clip.path is not None and clip.sha256 is not None
        size = clip.path.stat().st_size
        span = parse_range(request.headers.get("range"), size)
        headers = {
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "ETag": f'"{clip.sha256}"',
        }
        if span is None:
            return _Reply(HTTPStatus.OK, headers=headers, file=clip.path, file_range=(0, size - 1))
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{size}"
        return _Reply(HTTPStatus.PARTIAL_CONTENT, headers=headers, file=clip.path, file_range=span)

    def _delete_challenge(self, camera: Camera, name: str) -> _Reply:
        self._require_offload_ready(camera)
        self._find_clip(camera, name)
        link = self._link(camera.serial)
        now = self.link_time(camera.serial)
        for old, (_, expires) in list(link.challenges.items()):
            if expires <= now:
                del link.challenges[old]
        challenge = secrets.token_urlsafe(24)
        expires = now + CHALLENGE_LIFETIME
        link.challenges[challenge] = (name, expires)
        return _json_reply(HTTPStatus.OK, DeleteChallenge(name, challenge, expires).to_json())

    def _delete(self, camera: Camera, name: str, request: _Request) -> _Reply:
        self._require_offload_ready(camera)
        recording, clip = self._find_clip(camera, name)
        data = request.json()
        sha256, challenge, confirmation = (
            data.get("sha256"), data.get("challenge"), data.get("confirmation")
        )
        if not all(isinstance(value, str) for value in (sha256, challenge, confirmation)):
            raise LinkError(
                HTTPStatus.BAD_REQUEST, "bad_request",
                "sha256, challenge and confirmation are required",
            )
        assert isinstance(sha256, str) and isinstance(challenge, str)
        assert isinstance(confirmation, str)
        link = self._link(camera.serial)
        # A challenge serves one attempt, right or wrong, so it cannot be guessed at.
        issued = link.challenges.pop(challenge, None)
        now = self.link_time(camera.serial)
        if issued is None or issued[0] != name or issued[1] <= now:
            raise LinkError(
                HTTPStatus.FORBIDDEN, "bad_challenge",
                "unknown, used or expired challenge for this clip; ask for a new one",
            )
        if sha256 != clip.sha256:
            raise LinkError(
                HTTPStatus.CONFLICT, "sha256_mismatch",
                "the confirmed sha256 is not the clip's; the clip is kept",
            )
        try:
            signature = proto.b64decode(confirmation)
        except ValueError as exc:
            raise LinkError(
                HTTPStatus.FORBIDDEN, "bad_confirmation", "the confirmation is not base64"
            ) from exc
        if not camera.accepts(proto.delete_base(camera.serial, name, sha256, challenge), signature):
            raise LinkError(
                HTTPStatus.FORBIDDEN, "bad_confirmation",
                "the confirmation is not signed by this camera's system; the clip is kept",
            )
        camera.delete_clip(recording.id, clip.index)
        assert clip.path is not None
        clip.path.unlink(missing_ok=True)
        remaining = recording in camera.recordings
        return _json_reply(
            HTTPStatus.OK, DeleteResult(name, recording.id, not remaining).to_json()
        )

    def _configure(self, camera: Camera, request: _Request) -> _Reply:
        if camera.locked:
            raise LinkError(HTTPStatus.LOCKED, "locked", "the camera is locked; unlock it first")
        change = parse_config(request.json())
        camera.configure(change.profile, timezone=change.timezone, categories=change.categories,
                         power_line_frequency=change.power_line_frequency)
        if "holster" in change.given:
            camera.expect_holster(change.holster)
        if "user_id" in change.given:
            if change.user_id is None:
                camera.unassign()
            else:
                camera.assign(change.user_id, camera.profile)
        if change.time is not None:
            self._link(camera.serial).time_offset = change.time - self.link_clock.now()
        return self._info(camera)

    def _assistant(self, camera: Camera) -> _Reply:
        return _json_reply(HTTPStatus.OK, camera.assistant_report().to_json())

    def _configure_assistant(self, camera: Camera, request: _Request) -> _Reply:
        if camera.locked:
            raise LinkError(HTTPStatus.LOCKED, "locked", "the camera is locked; unlock it first")
        try:
            config = AssistantConfig.from_json(request.json())
        except MessageError as exc:
            raise LinkError(HTTPStatus.BAD_REQUEST, "bad_assistant", str(exc)) from exc
        return _json_reply(HTTPStatus.OK, camera.configure_assistant(config).to_json())

    def _certificate(self, camera: Camera, request: _Request) -> _Reply:
        chain = request.json().get("chain")
        if not isinstance(chain, list) or not all(isinstance(c, str) for c in chain):
            raise LinkError(HTTPStatus.BAD_REQUEST, "bad_certificate",
                            "chain: a list of PEM certificates")
        try:
            certs = [load_pem_chain(c.encode("ascii"))[0] for c in chain]
            camera.install_certificate(certs)
        except (SignatureProblem, UnicodeEncodeError, CameraError) as exc:
            raise LinkError(HTTPStatus.BAD_REQUEST, "bad_certificate", str(exc)) from exc
        return self._info(camera)

    def _firmware(self, camera: Camera, request: _Request) -> _Reply:
        if camera.locked:
            raise LinkError(HTTPStatus.LOCKED, "locked", "the camera is locked; unlock it first")
        versions = request.query.get("version", [])
        if len(versions) != 1 or not FIRMWARE_VERSION.fullmatch(versions[0]):
            raise LinkError(
                HTTPStatus.BAD_REQUEST, "bad_firmware", "give ?version=N.N.N.N exactly once"
            )
        if not request.body:
            raise LinkError(HTTPStatus.BAD_REQUEST, "bad_firmware", "the firmware image is empty")
        camera.install_firmware(versions[0], self.firmware_install_time)
        accepted = FirmwareAccepted(
            versions[0], hashlib.sha256(request.body).hexdigest(),
            self.firmware_install_time.total_seconds(),
        )
        return _json_reply(HTTPStatus.ACCEPTED, accepted.to_json())

    def _lock(self, camera: Camera) -> _Reply:
        camera.lock()
        return self._info(camera)

    def _unlock_challenge(self, camera: Camera) -> _Reply:
        if not camera.locked:
            raise LinkError(HTTPStatus.CONFLICT, "not_locked", "the camera is not locked")
        return _json_reply(HTTPStatus.OK, {"challenge": camera.unlock_challenge()})

    def _unlock(self, camera: Camera, request: _Request) -> _Reply:
        if not camera.locked:
            raise LinkError(HTTPStatus.CONFLICT, "not_locked", "the camera is not locked")
        data = request.json()
        try:
            signature = proto.b64decode(str(data.get("signature", "")))
        except ValueError as exc:
            raise LinkError(HTTPStatus.BAD_REQUEST, "bad_request", "signature: base64") from exc
        try:
            camera.unlock(signature)
        except CameraError as exc:
            raise LinkError(HTTPStatus.FORBIDDEN, "bad_unlock", str(exc)) from exc
        return self._info(camera)

    def _self_assign(self, camera: Camera, request: _Request) -> _Reply:
        if camera.locked:
            raise LinkError(HTTPStatus.LOCKED, "locked", "the camera is locked; unlock it first")
        data = request.json()
        user_id = data.get("user_id")
        if not isinstance(user_id, str) or not _is_user_id(user_id):
            raise LinkError(HTTPStatus.BAD_REQUEST, "bad_user",
                            "user_id: non-empty text without control characters")
        try:
            profile = proto.profile_from_json(data.get("profile") or {})
        except ProfileError as exc:
            raise LinkError(HTTPStatus.BAD_REQUEST, "bad_profile", str(exc)) from exc
        camera.self_assign(user_id, profile)
        return self._info(camera)

    def _factory_reset(self, camera: Camera) -> _Reply:
        camera.factory_reset()
        self._links.pop(camera.serial, None)
        return self._info(camera)


def _handler_for(server: DockLinkServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "bodyworn-docklink/1"
        # Headers and body leave in separate writes; with Nagle on, a keep-alive client's
        # delayed ACK would add 40 ms to every request.
        disable_nagle_algorithm = True

        def _refuse(self, status: HTTPStatus, reason: str, message: str) -> None:
            # The body (if any) is left unread, so the connection cannot be reused.
            self.close_connection = True
            self._send(_json_reply(status, {"error": message, "reason": reason}))

        def _serve(self) -> None:
            split = urlsplit(self.path)
            if self.headers.get("Transfer-Encoding") is not None:
                self._refuse(HTTPStatus.LENGTH_REQUIRED, "length_required",
                             "send the body with a Content-Length, not chunked")
                return
            raw_length = (self.headers.get("Content-Length") or "0").strip()
            if not raw_length.isascii() or not raw_length.isdigit() or len(raw_length) > 12:
                self._refuse(HTTPStatus.BAD_REQUEST, "bad_length",
                             "Content-Length must be a number of bytes")
                return
            length = int(raw_length)
            limit = MAX_FIRMWARE_BODY if split.path.endswith("/firmware") else MAX_BODY
            if length > limit:
                self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too_large",
                             f"the body is larger than {limit} bytes")
                return
            body = self.rfile.read(length) if length else b""
            request = _Request(
                method=self.command,
                target=self.path,
                path=split.path,
                query=parse_qs(split.query),
                headers={key.lower(): value for key, value in self.headers.items()},
                body=body,
            )
            self._send(server.handle(request))

        def _send(self, reply: _Reply) -> None:
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if reply.file is None:
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)
                return
            if self.command == "HEAD":  # pragma: no cover - no route answers HEAD with a file
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            assert reply.file_range is not None
            first, last = reply.file_range
            self.send_header("Content-Length", str(last - first + 1))
            self.end_headers()
            try:
                handle = open(reply.file, "rb")  # noqa: SIM115 - closed below
            except FileNotFoundError:  # pragma: no cover - deleted between lookup and read
                self.close_connection = True
                return
            with handle:
                count = last - first + 1
                # sendfile: the kernel moves the bytes, as a camera's DMA would.
                sent = self.connection.sendfile(handle, offset=first, count=count)
                if sent != count:  # pragma: no cover - file shrank under us
                    self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:
            # The simulator's own output says what happened; per-request lines are noise.
            return

    return Handler


class EventReporter:
    """Tells the controller a station is cabled to about every dock and undock.

    Events go out in order from one background thread, so a controller that reacts to an
    event by calling the dock link never waits on the simulation that raised it; one the
    controller is not there to take is kept and tried again until it is.
    """

    def __init__(
        self,
        station: DockingStation,
        server: DockLinkServer,
        controller_url: str,
        *,
        client: httpx.Client | None = None,
        attempts: int = 5,
        on_error: Callable[[str], None] | None = None,
        token: str | None = None,
        max_wait: float = 5.0,
    ) -> None:
        self.station = station
        # The controller's dock port token: it refuses events without it.
        self._token = token
        self.server = server
        self.controller_url = controller_url.rstrip("/")
        self._own_client = client is None
        # A controller serves HTTPS with its self-signed Default certificate until an
        # installer replaces it; the dock port token is what the controller checks.
        self._client = client or httpx.Client(timeout=10, verify=False)  # noqa: S501
        self._attempts = attempts
        self._max_wait = max_wait
        self._on_error = on_error
        self._queue: queue.Queue[StationEvent | None] = queue.Queue()
        # Events raised and not yet delivered or given up on (for `flush`).
        self._open = 0
        self._open_cond = threading.Condition()
        self._closing = threading.Event()
        self.sent: list[StationEvent] = []
        self.failed: list[StationEvent] = []
        self._thread = threading.Thread(
            target=self._run, name=f"dock-events-{station.serial}", daemon=True
        )
        self._thread.start()
        station.subscribe(self._on_bay_event)

    def _on_bay_event(self, event: BayEvent) -> None:
        with self._open_cond:
            self._open += 1
        self._queue.put(StationEvent(
            station_serial=event.station,
            bay=event.bay,
            event="dock" if event.docked else "undock",
            camera_serial=event.camera.serial,
            camera_url=self.server.camera_url(event.camera.serial),
        ))

    def _run(self) -> None:
        while True:
            payload = self._queue.get()
            try:
                if payload is None:
                    return
                self._deliver(payload)
            finally:
                self._queue.task_done()
                if payload is not None:
                    with self._open_cond:
                        self._open -= 1
                        self._open_cond.notify_all()

    def _deliver(self, payload: StationEvent) -> None:
        """Post one event. A controller that cannot be reached (or answers 5xx) is tried
        again and again, the wait growing to `max_wait`: a station keeps what happened in
        its bays until the controller is back (a restart loses nothing). A refusal (4xx)
        is given up after `attempts` tries. Either way `on_error` hears of it once."""
        problem, attempt, told = "", 0, False
        while True:
            refused = False
            try:
                response = self._client.post(
                    f"{self.controller_url}{proto.EVENTS_PATH}",
                    json=payload.to_json(),
                    headers=self._headers(),
                )
                if response.status_code < 300:
                    self.sent.append(payload)
                    return
                problem = f"controller answered {response.status_code}"
                refused = response.status_code < 500
            except httpx.HTTPError as exc:
                problem = str(exc) or type(exc).__name__
            attempt += 1
            if refused and attempt >= self._attempts:
                break
            if attempt == self._attempts and not told:
                told = True
                self._tell(payload, f"{problem}; still trying")
            # Closing cuts the back-off short: what is still undelivered is reported failed.
            if self._closing.wait(min(0.1 * 2 ** min(attempt - 1, 16), self._max_wait)):
                break
        self.failed.append(payload)
        self._tell(payload, problem)

    def _tell(self, payload: StationEvent, problem: str) -> None:
        if self._on_error is not None:
            self._on_error(
                f"station {self.station.serial}: {payload.event} of"
                f" {payload.camera_serial} not delivered: {problem}"
            )

    def _headers(self) -> dict[str, str]:
        headers = {proto.HEADER_STATION: self.station.serial}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event raised so far was delivered or given up on (True), or
        `timeout` seconds passed (False)."""
        with self._open_cond:
            return self._open_cond.wait_for(lambda: self._open == 0, timeout)

    def close(self) -> None:
        """Stop: what is queued gets one more try each, without waiting between tries."""
        self._closing.set()
        self._queue.put(None)
        self._thread.join()
        if self._own_client:
            self._client.close()
