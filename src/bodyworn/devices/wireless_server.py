"""The cameras' wireless side: one TLS server stands for the air around simulated cameras.

A phone reaches a camera by its TLS server name (`wireless.wire.camera_host`): the server
answers that connection with the camera's own certificate (issued by its system at
docking) and routes every request on it to that camera. The beacon listing is the only
thing answered without a camera name (docs/assistant.md). A camera is on the air while it
runs off the dock; the camera models are not thread-safe, so each request works on them
under the lock the simulation holds too.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bodyworn.devices.camera import AssistantRefused, Camera, Recording
from bodyworn.devices.docklink_messages import offloadable_clips
from bodyworn.devices.docklink_server import LinkError, parse_range
from bodyworn.devices.live import LiveEncoder, LiveOverlay
from bodyworn.tlsutil import self_signed_certificate
from bodyworn.wireless import wire
from bodyworn.wireless.messages import (
    Annotation,
    Beacon,
    CameraStatus,
    ClipRef,
    Grant,
    MessageError,
    Paired,
    PairRequest,
    RecordingSummary,
    SessionRequest,
    TrackPoint,
    pairing_hint,
)
from bodyworn.wireless.pairing import secret_from_text

MAX_BODY = 64 * 1024
HANDSHAKE_TIMEOUT = 10.0
# Live viewers a camera serves at once (each has its own encoder).
MAX_LIVE = 2

# How each refusal of the camera is answered.
STATUS = {
    "docked": HTTPStatus.SERVICE_UNAVAILABLE,
    "not_running": HTTPStatus.SERVICE_UNAVAILABLE,
    "unknown_pairing": HTTPStatus.NOT_FOUND,
    "pairing_removed": HTTPStatus.GONE,
    "wrong_code": HTTPStatus.FORBIDDEN,
    "too_many_pins": HTTPStatus.LOCKED,
    "in_use": HTTPStatus.CONFLICT,
    "expired": HTTPStatus.GONE,
    "device_taken": HTTPStatus.CONFLICT,
    "pin_window": HTTPStatus.FORBIDDEN,
    "wrong_pin": HTTPStatus.FORBIDDEN,
    "bad_challenge": HTTPStatus.FORBIDDEN,
    "not_paired": HTTPStatus.FORBIDDEN,
    "bad_signature": HTTPStatus.FORBIDDEN,
    "unauthenticated": HTTPStatus.UNAUTHORIZED,
    "no_access": HTTPStatus.FORBIDDEN,
    "no_recording": HTTPStatus.NOT_FOUND,
    "no_annotations": HTTPStatus.CONFLICT,
    "bad_category": HTTPStatus.UNPROCESSABLE_ENTITY,
    "bad_request": HTTPStatus.BAD_REQUEST,
}


class AirError(Exception):
    """A refusal: status, reason code and a sentence."""

    def __init__(self, status: HTTPStatus, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass
class _Reply:
    status: HTTPStatus
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    file: Path | None = None
    file_range: tuple[int, int] | None = None
    stream: Iterator[bytes] | None = None


def _json_reply(data: object, status: HTTPStatus = HTTPStatus.OK) -> _Reply:
    body = json.dumps(data, separators=(",", ":")).encode("utf-8")
    return _Reply(status, body, {"Content-Type": "application/json", "Cache-Control": "no-store"})


def summary_of(recording: Recording) -> RecordingSummary:
    """A finished recording as the app sees it."""
    assert recording.stopped_at is not None and recording.trigger_off is not None
    clips = tuple(
        ClipRef(clip.path.name, clip.start, clip.end, clip.duration.total_seconds(), clip.size)
        for clip in offloadable_clips(recording)
        if clip.path is not None and clip.end is not None and clip.size is not None
    )
    track = tuple(TrackPoint(p.latitude, p.longitude, p.at) for p in recording.track)
    if not track:
        ends = [p for p in (recording.start_position, recording.stop_position) if p is not None]
        track = tuple(TrackPoint(p.latitude, p.longitude, p.at) for p in ends)
    return RecordingSummary(
        id=recording.id, trigger=recording.trigger.value, trigger_on=recording.trigger_on,
        started_at=recording.started_at, stopped_at=recording.stopped_at,
        duration_s=recording.duration.total_seconds(), clips=clips,
        category=recording.categories[-1] if recording.categories else None,
        notes="\n\n".join(recording.notes), track=track,
    )


@dataclass
class _Request:
    method: str
    path: list[str]
    headers: dict[str, str]
    body: bytes
    serial: str | None

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError as exc:
            raise AirError(HTTPStatus.BAD_REQUEST, "bad_request", "the body is not JSON") from exc

    @property
    def token(self) -> str:
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AirError(HTTPStatus.UNAUTHORIZED, "unauthenticated", "no session; open one")
        return value.strip()


class WirelessAir:
    """The air: every registered camera that runs off the dock, over one TLS server."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0,
                 lock: threading.RLock | None = None, work_dir: Path | None = None) -> None:
        self.lock = lock or threading.RLock()
        self._cameras: dict[str, Camera] = {}
        self._own_dir = work_dir is None
        self._dir = Path(tempfile.mkdtemp(prefix="bodyworn-air-")) if work_dir is None \
            else work_dir
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self._dir, 0o700)
        self._contexts: dict[str, tuple[str, ssl.SSLContext]] = {}
        self._contexts_lock = threading.Lock()
        self._live: dict[str, int] = {}
        self._closing = threading.Event()
        air = self_signed_certificate([host], common_name="bodyworn air")
        self._base = self._context(air.cert_pem, air.key_pem, "air")
        self._base.sni_callback = self._sni
        self._httpd = _TLSServer((host, port), _handler_for(self), self._base)
        self._thread: threading.Thread | None = None

    # ---- life cycle ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The air's base URL (what the app is told with --air)."""
        host, port = self._httpd.server_address[:2]
        return f"https://{host!s}:{port}"

    def start(self) -> WirelessAir:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name="wireless-air", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (live streams end) and forget the key files."""
        self._closing.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            self._httpd.shutdown()
            thread.join()
        self._httpd.server_close()
        for path in self._dir.glob("*.pem"):
            path.unlink(missing_ok=True)
        if self._own_dir:
            self._dir.rmdir()

    def __enter__(self) -> WirelessAir:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def add(self, camera: Camera) -> None:
        """Put a camera in range of the air."""
        with self.lock:
            self._cameras[camera.serial.upper()] = camera

    def remove(self, camera: Camera) -> None:
        """Take a camera out of range."""
        with self.lock:
            self._cameras.pop(camera.serial.upper(), None)

    # ---- TLS -------------------------------------------------------------------------

    def _context(self, cert_pem: bytes, key_pem: bytes, name: str) -> ssl.SSLContext:
        path = self._dir / f"{name}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(cert_pem + key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(path)
        return context

    def _camera_context(self, serial: str) -> ssl.SSLContext | None:
        with self.lock:
            camera = self._cameras.get(serial)
            identity = camera.wireless_identity() if camera is not None else None
        if identity is None:
            return None
        version = hashlib.sha256(identity.certificate_pem).hexdigest()
        with self._contexts_lock:
            cached = self._contexts.get(serial)
            if cached is not None and cached[0] == version:
                return cached[1]
            context = self._context(identity.certificate_pem, identity.key_pem, serial.lower())
            self._contexts[serial] = (version, context)
            return context

    def _sni(self, sock: Any, server_name: str | None, _context: ssl.SSLContext) -> None:
        serial = wire.serial_of_host(server_name)
        if serial is None:
            return None
        context = self._camera_context(serial)
        if context is None:
            return None
        sock.context = context
        sock.bodyworn_serial = serial
        return None

    # ---- dispatch --------------------------------------------------------------------

    def handle(self, request: _Request) -> _Reply:
        """Answer one request (the HTTP handler calls this)."""
        try:
            return self._route(request)
        except AirError as exc:
            return _json_reply({"error": exc.message, "reason": exc.reason}, exc.status)
        except AssistantRefused as exc:
            status = STATUS.get(exc.reason, HTTPStatus.CONFLICT)
            return _json_reply({**exc.detail, "error": exc.message, "reason": exc.reason},
                               status)

    def _route(self, request: _Request) -> _Reply:
        prefix = [p for p in wire.PREFIX.split("/") if p]
        if request.path[: len(prefix)] != prefix:
            raise AirError(HTTPStatus.NOT_FOUND, "not_found", "not a wireless path")
        rest = request.path[len(prefix):]
        if rest == ["beacons"] and request.method == "GET":
            return _json_reply([b.to_json() for b in self.beacons()])
        if request.serial is None:
            raise AirError(HTTPStatus.MISDIRECTED_REQUEST, "no_camera",
                           "connect with a camera's server name")
        with self.lock:
            camera = self._cameras.get(request.serial)
        if camera is None:
            raise AirError(HTTPStatus.NOT_FOUND, "no_camera", "no such camera in range")
        key = (request.method, tuple(rest[:1]), len(rest))
        public: dict[tuple[str, tuple[str, ...], int], Callable[[], _Reply]] = {
            ("GET", ("ca",), 1): lambda: self._ca(camera),
            ("POST", ("pair",), 1): lambda: self._pair(camera, request),
            ("GET", ("challenge",), 1): lambda: self._challenge(camera),
            ("POST", ("session",), 1): lambda: self._open_session(camera, request),
        }
        if key in public:
            return public[key]()
        token = request.token
        with self.lock:
            camera.session_pairing(token)
        private: dict[tuple[str, tuple[str, ...], int], Callable[[], _Reply]] = {
            ("DELETE", ("session",), 1): lambda: self._end_session(camera, token),
            ("GET", ("info",), 1): lambda: _json_reply(self._status(camera).to_json()),
            ("GET", ("recordings",), 1): lambda: self._recordings(camera),
            ("GET", ("clips",), 2): lambda: self._clip(camera, rest[1], request),
            ("GET", ("live",), 1): lambda: self._live_stream(camera, token),
        }
        if key == ("PUT", ("recordings",), 3) and rest[2] == "annotation":
            return self._annotate(camera, rest[1], request)
        handler = private.get(key)
        if handler is None:
            raise AirError(HTTPStatus.NOT_FOUND, "not_found", "no such operation")
        return handler()

    def beacons(self) -> list[Beacon]:
        """The cameras on the air with hints of the pairings they accept."""
        found = []
        with self.lock:
            for serial, camera in sorted(self._cameras.items()):
                try:
                    camera.require_live()
                except AssistantRefused:
                    continue
                if camera.wireless_identity() is None:
                    continue
                found.append(Beacon(serial, tuple(pairing_hint(p)
                                                  for p in camera.pairing_hints())))
        return found

    # ---- operations ------------------------------------------------------------------

    def _ca(self, camera: Camera) -> _Reply:
        with self.lock:
            identity = camera.wireless_identity()
        if identity is None:
            raise AirError(HTTPStatus.NOT_FOUND, "no_camera", "the camera has no certificate")
        return _Reply(HTTPStatus.OK, identity.ca_pem,
                      {"Content-Type": "application/x-pem-file", "Cache-Control": "no-store"})

    def _pair(self, camera: Camera, request: _Request) -> _Reply:
        try:
            asked = PairRequest.from_json(request.json())
            secret = secret_from_text(asked.secret)
        except (MessageError, ValueError) as exc:
            raise AirError(HTTPStatus.BAD_REQUEST, "bad_request", str(exc)) from exc
        with self.lock:
            user = camera.pair_device(asked.pairing_id, secret, asked.pin, asked.device_key)
        return _json_reply(Paired(camera.serial, user).to_json())

    def _challenge(self, camera: Camera) -> _Reply:
        with self.lock:
            return _json_reply({"challenge": camera.session_challenge()})

    def _open_session(self, camera: Camera, request: _Request) -> _Reply:
        try:
            asked = SessionRequest.from_json(request.json())
            signature = base64.b64decode(asked.signature, validate=True)
        except (MessageError, ValueError, binascii.Error) as exc:
            raise AirError(HTTPStatus.BAD_REQUEST, "bad_request", str(exc)) from exc
        with self.lock:
            token = camera.open_session(asked.pairing_id, asked.challenge, signature)
            status = self._status(camera)
        return _json_reply(Grant(token, status).to_json())

    def _end_session(self, camera: Camera, token: str) -> _Reply:
        with self.lock:
            camera.end_session(token)
        return _Reply(HTTPStatus.NO_CONTENT)

    def _status(self, camera: Camera) -> CameraStatus:
        with self.lock:
            return CameraStatus(
                serial=camera.serial, user_id=camera.user_id or "",
                recording=camera.recording is not None,
                battery=round(camera.battery.charge, 3),
                recordings_access=camera.recordings_access,
                annotations=camera.annotations_allowed,
                categories=tuple(camera.categories) if camera.annotations_allowed else (),
            )

    def _recordings(self, camera: Camera) -> _Reply:
        with self.lock:
            summaries = [summary_of(r) for r in camera.assistant_recordings()]
        return _json_reply([s.to_json() for s in summaries])

    def _annotate(self, camera: Camera, recording_id: str, request: _Request) -> _Reply:
        try:
            asked = Annotation.from_json(request.json())
        except MessageError as exc:
            raise AirError(HTTPStatus.BAD_REQUEST, "bad_request", str(exc)) from exc
        with self.lock:
            recording = camera.annotate(recording_id, asked.category, asked.notes)
            return _json_reply(summary_of(recording).to_json())

    def _clip(self, camera: Camera, name: str, request: _Request) -> _Reply:
        with self.lock:
            found = None
            for recording in camera.assistant_recordings():
                for clip in offloadable_clips(recording):
                    if clip.path is not None and clip.path.name == name:
                        found = clip.path
        if found is None:
            raise AirError(HTTPStatus.NOT_FOUND, "no_clip", "no such clip on the camera")
        size = found.stat().st_size
        try:
            span = parse_range(request.headers.get("range"), size)
        except LinkError as exc:
            raise AirError(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "bad_range",
                           f"the clip has {size} bytes") from exc
        headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes",
                   "Cache-Control": "no-store"}
        if span is None:
            return _Reply(HTTPStatus.OK, headers=headers, file=found, file_range=(0, size - 1))
        headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{size}"
        return _Reply(HTTPStatus.PARTIAL_CONTENT, headers=headers, file=found, file_range=span)

    def _live_stream(self, camera: Camera, token: str) -> _Reply:
        serial = camera.serial.upper()
        with self.lock:
            camera.require_live()
            if self._live.get(serial, 0) >= MAX_LIVE:
                raise AirError(HTTPStatus.TOO_MANY_REQUESTS, "busy",
                               "the camera already sends live video to other viewers")
            self._live[serial] = self._live.get(serial, 0) + 1

        def overlay() -> LiveOverlay:
            with self.lock:
                user = camera.user_id
                try:
                    zone: Any = ZoneInfo(camera.timezone)
                except (ZoneInfoNotFoundError, ValueError):
                    zone = None
                return LiveOverlay(user, camera.clock_now(), zone or ZoneInfo("UTC"))

        def on_air() -> bool:
            if self._closing.is_set():
                return False
            with self.lock:
                try:
                    camera.require_live()
                    camera.session_pairing(token)
                except AssistantRefused:
                    return False
            return True

        encoder = LiveEncoder(overlay)
        first = encoder.frame()

        def chunks() -> Iterator[bytes]:
            try:
                if first:
                    yield first
                yield from encoder.chunks(on_air)
            finally:
                encoder.close()
                with self.lock:
                    self._live[serial] = max(0, self._live.get(serial, 1) - 1)

        headers = {"Content-Type": wire.LIVE_CONTENT_TYPE, "Cache-Control": "no-store",
                   wire.HEADER_CODEC: encoder.codec}
        return _Reply(HTTPStatus.OK, headers=headers, stream=chunks())


class _TLSServer(ThreadingHTTPServer):
    """A threading HTTP server that does each TLS handshake in the connection's own thread."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 context: ssl.SSLContext) -> None:
        super().__init__(address, handler)
        self.context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            tls.settimeout(None)
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
        finally:
            with contextlib.suppress(OSError):
                tls.close()


def _handler_for(air: WirelessAir) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "bodyworn-camera/1"
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(_json_reply({"error": "body too large", "reason": "too_large"},
                                       HTTPStatus.REQUEST_ENTITY_TOO_LARGE))
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            request = _Request(
                method=self.command,
                path=[unquote(p) for p in split.path.split("/") if p],
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                serial=getattr(self.connection, "bodyworn_serial", None),
            )
            self._send(air.handle(request))

        def _send(self, reply: _Reply) -> None:
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            if reply.stream is not None:
                self._send_stream(reply.stream)
                return
            if reply.file is None:
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                return
            assert reply.file_range is not None
            first, last = reply.file_range
            self.send_header("Content-Length", str(last - first + 1))
            self.end_headers()
            with open(reply.file, "rb") as handle:
                handle.seek(first)
                left = last - first + 1
                while left > 0:
                    block = handle.read(min(left, 1 << 16))
                    if not block:
                        self.close_connection = True
                        return
                    self.wfile.write(block)
                    left -= len(block)

        def _send_stream(self, chunks: Iterator[bytes]) -> None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.close_connection = True
            try:
                for chunk in chunks:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode("ascii") + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except (OSError, ssl.SSLError):
                pass  # the viewer left
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler

