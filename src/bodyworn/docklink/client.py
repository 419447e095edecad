"""The controller side of the dock link: an httpx client that signs every request.

The controller (and the tests, and the stub controllers of simulations) reach a docked
camera through this one client, signing with the system identity private key. Replies
come back as the typed messages of `bodyworn.docklink.messages`; one that breaks the
format raises MessageError (a DockLinkError and a ValueError).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import secrets
import select
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from bodyworn.docklink import wire as proto
from bodyworn.docklink.errors import DockLinkError, MessageError
from bodyworn.docklink.messages import (
    AssistantConfig,
    AssistantReport,
    CameraInfo,
    CameraLog,
    DeleteChallenge,
    DeleteResult,
    FirmwareAccepted,
    Manifest,
)
from bodyworn.docklink.signing import sign_with_pem
from bodyworn.domain import strict_json
from bodyworn.domain.clock import Clock, SystemClock
from bodyworn.domain.profile import CameraProfile

__all__ = ["ClipStream", "DockLinkClient", "DockLinkError", "Identity", "sign_headers"]

_UNSET: Any = object()


@dataclass(frozen=True)
class Identity:
    """Who signs: the system id and its identity private key (PEM)."""

    system_id: str
    private_key_pem: bytes


def sign_headers(
    identity: Identity,
    method: str,
    target: str,
    body: bytes,
    *,
    clock: Clock,
    nonce: str | None = None,
) -> dict[str, str]:
    """The trust headers for one request: system, timestamp, nonce, body hash, signature."""
    timestamp = proto.format_time(clock.now())
    nonce = nonce or secrets.token_urlsafe(18)
    body_sha = hashlib.sha256(body).hexdigest()
    base = proto.request_base(method, target, timestamp, nonce, body_sha, identity.system_id)
    return {
        proto.HEADER_SYSTEM: identity.system_id,
        proto.HEADER_TIMESTAMP: timestamp,
        proto.HEADER_NONCE: nonce,
        proto.HEADER_CONTENT_SHA256: body_sha,
        proto.HEADER_SIGNATURE: proto.b64encode(
            sign_with_pem(identity.private_key_pem, base)
        ),
    }


class DockLinkClient:
    """Talks to one docked camera at `camera_url` on behalf of a system."""

    def __init__(
        self,
        camera_url: str,
        identity: Identity | None,
        *,
        clock: Clock | None = None,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.camera_url = camera_url.rstrip("/")
        self.identity = identity
        self.clock: Clock = clock or SystemClock()
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the connection pool (when this client made it)."""
        if self._own_client:
            self._client.close()

    def __enter__(self) -> DockLinkClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- transport --------------------------------------------------------------------

    def send(
        self,
        method: str,
        suffix: str = "",
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        signed: bool = True,
        stream: bool = False,
    ) -> httpx.Response:
        """Send one request (signed unless told not to); raise DockLinkError unless 2xx."""
        request = self._client.build_request(
            method, f"{self.camera_url}{suffix}", content=body, headers=headers or {}
        )
        if content_type:
            request.headers["Content-Type"] = content_type
        if signed and self.identity is not None:
            target = request.url.raw_path.decode("ascii")
            request.headers.update(
                sign_headers(self.identity, method, target, body, clock=self.clock)
            )
        response = self._client.send(request, stream=stream)
        if response.status_code >= 300:
            if stream:
                response.read()
                response.close()
            raise _error(response)
        return response

    def _json(self, method: str, suffix: str = "", data: object = None, **kw: Any) -> Any:
        body = b"" if data is None else json.dumps(data).encode("utf-8")
        content_type = None if data is None else "application/json"
        return _body(self.send(method, suffix, body=body, content_type=content_type, **kw))

    @property
    def serial(self) -> str:
        """The camera's serial: the last part of its URL."""
        return self.camera_url.rsplit("/", 1)[-1]

    # ---- operations -------------------------------------------------------------------

    def info(self) -> CameraInfo:
        """Device info and state (a camera in shipping mode answers unsigned requests too)."""
        return CameraInfo.from_json(self._json("GET"))

    def add_to_system(self, system_id: str, identity_public_key_pem: str) -> CameraInfo:
        """Add a camera in shipping mode to the system (it will trust only this key)."""
        return CameraInfo.from_json(self._json(
            "POST", "/add",
            {"system_id": system_id, "identity_public_key": identity_public_key_pem},
        ))

    def install_certificate(self, chain_pem: Sequence[str]) -> CameraInfo:
        """Give the camera its device certificate and the system certificate (PEM each)."""
        return CameraInfo.from_json(self._json("PUT", "/certificate", {"chain": list(chain_pem)}))

    def manifest(self) -> Manifest:
        """Every finished recording with its clips and metadata."""
        return Manifest.from_json(self._json("GET", "/recordings"))

    def read_clip(self, name: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes `start`..`end` (inclusive; None: to the end) of a clip."""
        headers = {}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-{'' if end is None else end}"
        return self.send("GET", f"/clips/{quote(name, safe='')}", headers=headers).content

    def open_clip(self, name: str, offset: int = 0) -> ClipStream:
        """The clip from byte `offset` on, as a stream that reads into caller buffers.

        The bulk path of offloading: a plain HTTP/1.1 connection of its own whose body is
        read straight into the caller's buffers (no per-block objects). Only for `http`
        camera URLs; raises DockLinkError as `send` does.
        """
        split = urlsplit(self.camera_url)
        if split.scheme != "http" or split.hostname is None:
            raise ValueError(f"open_clip needs an http:// camera URL, not {self.camera_url}")
        target = f"{split.path}/clips/{quote(name, safe='')}"
        headers = {"Host": split.netloc}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        if self.identity is not None:
            headers.update(sign_headers(self.identity, "GET", target, b"", clock=self.clock))
        timeout = self._client.timeout.read
        conn = http.client.HTTPConnection(split.hostname, split.port or 80, timeout=timeout)
        try:
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
            if response.status >= 300:
                raise _refusal(response.status, response.read())
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            # The link, not the controller's disk: callers tell the two apart.
            raise DockLinkError(0, "link", f"the camera could not be read: {exc!r}") from exc
        except BaseException:
            conn.close()
            raise
        # A camera that ignores the range sends the whole clip: skip what is held.
        skip = offset if offset and response.status != 206 else 0
        return ClipStream(conn, response, skip)

    def download_clip(self, name: str, destination: Path, *, sha256: str, size: int) -> Path:
        """Fetch a clip into `destination`, resuming a partial file; check size and sha256.

        A file that does not end up equal to the manifest is removed and ValueError raised.
        """
        have = destination.stat().st_size if destination.exists() else 0
        if have > size:
            destination.unlink()
            have = 0
        if have < size:
            headers = {"Range": f"bytes={have}-"} if have else {}
            response = self.send(
                "GET", f"/clips/{quote(name, safe='')}", headers=headers, stream=True
            )
            try:
                if have and response.status_code != 206:
                    # The camera sent the whole file: start over rather than append it.
                    have = 0
                with open(destination, "ab" if have else "wb") as handle:
                    for block in response.iter_bytes():
                        handle.write(block)
            finally:
                response.close()
        digest = hashlib.sha256()
        with open(destination, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if destination.stat().st_size != size or digest.hexdigest() != sha256:
            destination.unlink()
            raise ValueError(f"clip {name} did not match the manifest; download again")
        return destination

    def delete_challenge(self, name: str) -> DeleteChallenge:
        """Ask the camera for a one-time challenge to confirm holding clip `name`."""
        return DeleteChallenge.from_json(
            self._json("POST", f"/clips/{quote(name, safe='')}/challenge"))

    def delete_clip(self, name: str, sha256: str) -> DeleteResult:
        """Tell the camera the controller holds clip `name` (signed), so it deletes it."""
        if self.identity is None:
            raise ValueError("deleting needs the system identity")
        challenge = self.delete_challenge(name).challenge
        signature = sign_with_pem(
            self.identity.private_key_pem,
            proto.delete_base(self.serial, name, sha256, challenge),
        )
        return self.confirm_delete(name, sha256, challenge, proto.b64encode(signature))

    def confirm_delete(
        self, name: str, sha256: str, challenge: str, confirmation: str
    ) -> DeleteResult:
        """Send a deletion confirmation as given (tests use it to send wrong ones)."""
        return DeleteResult.from_json(self._json(
            "DELETE", f"/clips/{quote(name, safe='')}",
            {"sha256": sha256, "challenge": challenge, "confirmation": confirmation},
        ))

    def configure(
        self,
        *,
        profile: CameraProfile | None = None,
        user_id: str | None = _UNSET,
        time: datetime | None = None,
        timezone: str | None = None,
        categories: list[str] | None = None,
        holster: str | None = _UNSET,
        power_line_frequency: int | None = None,
    ) -> CameraInfo:
        """Push settings; only those given change (user_id=None takes the user away)."""
        data: dict[str, Any] = {}
        if profile is not None:
            data["profile"] = proto.profile_to_json(profile)
        if user_id is not _UNSET:
            data["user_id"] = user_id
        if time is not None:
            data["time"] = proto.format_time(time)
        if timezone is not None:
            data["timezone"] = timezone
        if categories is not None:
            data["categories"] = categories
        if holster is not _UNSET:
            data["holster"] = holster
        if power_line_frequency is not None:
            data["power_line_frequency"] = power_line_frequency
        return CameraInfo.from_json(self._json("PUT", "/config", data))

    def log(self, limit: int = 500) -> CameraLog:
        """The newest `limit` lines of the camera's own log."""
        return CameraLog.from_json(self._json("GET", f"/log?limit={int(limit)}"))

    def assistant(self) -> AssistantReport:
        """The camera's wireless key and the Assistant pairings completed or blocked on it."""
        return AssistantReport.from_json(self._json("GET", "/assistant"))

    def configure_assistant(self, config: AssistantConfig) -> AssistantReport:
        """Give the camera its wireless certificate and its user's Assistant pairings."""
        return AssistantReport.from_json(self._json("PUT", "/assistant", config.to_json()))

    def push_firmware(self, version: str, image: bytes) -> FirmwareAccepted:
        """Send a firmware image; the camera installs it while docked."""
        response = self.send(
            "POST", f"/firmware?version={quote(version, safe='')}", body=image,
            content_type="application/octet-stream",
        )
        return FirmwareAccepted.from_json(_body(response))

    def lock(self) -> CameraInfo:
        """Lock the camera."""
        return CameraInfo.from_json(self._json("POST", "/lock"))

    def unlock(self) -> CameraInfo:
        """Unlock: fetch the camera's challenge and answer it signed with the identity key.

        The controller asks for the super admin passphrase before it calls this.
        """
        if self.identity is None:
            raise ValueError("unlocking needs the system identity")
        reply = self._json("GET", "/unlock-challenge")
        challenge = reply.get("challenge") if isinstance(reply, dict) else None
        if not isinstance(challenge, str):
            raise MessageError("unlock challenge: challenge must be text")
        signature = sign_with_pem(
            self.identity.private_key_pem, proto.unlock_message(self.serial, challenge)
        )
        return CameraInfo.from_json(self._json(
            "POST", "/unlock", {"signature": proto.b64encode(signature)}
        ))

    def self_assign(self, user_id: str, profile: CameraProfile) -> CameraInfo:
        """Give a docked camera to a user who tapped a tag: it must be undocked in 15 s."""
        return CameraInfo.from_json(self._json(
            "POST", "/self-assign",
            {"user_id": user_id, "profile": proto.profile_to_json(profile)},
        ))

    def factory_reset(self) -> CameraInfo:
        """Send the camera back to shipping mode (its recordings must be offloaded first)."""
        return CameraInfo.from_json(self._json("POST", "/factory-reset"))


class ClipStream:
    """A clip's body on its own connection; `readinto` fills caller buffers."""

    def __init__(self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse,
                 skip: int = 0) -> None:
        self._conn = conn
        self._response = response
        self._skip = skip
        self._pipe: tuple[int, int] | None = None
        self._drained = False
        self.timeout = conn.timeout if isinstance(conn.timeout, (int, float)) else 30.0

    def can_splice(self) -> bool:
        """True on Linux for a body read from its start (nothing to skip)."""
        return hasattr(os, "splice") and not self._skip and self._conn.sock is not None

    def splice_into(self, fd: int, offset: int, count: int) -> int:
        """Move up to `count` body bytes into file `fd` at `offset` without copying them
        through Python (socket → pipe → file); how many were written, 0 at the end."""
        if not self._drained:
            # Bytes the response reader already buffered past the headers come first.
            self._drained = True
            buffered = self._response.fp.peek(1)[:count]
            if buffered:
                data = self._response.fp.read(len(buffered))
                os.pwrite(fd, data, offset)
                self._left(len(data))
                return len(data)
        want = min(count, self._remaining())
        if want <= 0:
            return 0
        sock = self._conn.sock
        assert sock is not None
        if self._pipe is None:
            self._pipe = os.pipe()
            with contextlib.suppress(OSError):  # a bigger pipe: fewer calls (Linux only)
                fcntl.fcntl(self._pipe[1], 1031, 1 << 20)  # F_SETPIPE_SZ
        read_end, write_end = self._pipe
        moved = self._splice_from_socket(sock.fileno(), write_end, want)
        if not moved:
            raise DockLinkError(0, "link", "the camera closed the link mid-clip")
        # Pipe → file: an error here is the controller's disk (OSError), not the link.
        done = 0
        while done < moved:
            done += os.splice(read_end, fd, moved - done, offset_dst=offset + done)
        self._left(moved)
        return moved

    def _splice_from_socket(self, sock: int, pipe: int, want: int) -> int:
        while True:
            try:
                return os.splice(sock, pipe, want, flags=os.SPLICE_F_NONBLOCK)
            except BlockingIOError:
                ready = select.select([sock], [], [], self.timeout)[0]
                if not ready:
                    raise DockLinkError(0, "link", "the camera stopped sending") from None
            except OSError as exc:
                raise DockLinkError(0, "link", f"the clip stopped arriving: {exc!r}") from exc

    def _remaining(self) -> int:
        length = self._response.length
        return length if length is not None else 1 << 62

    def _left(self, n: int) -> None:
        if self._response.length is not None:
            self._response.length -= n

    def readinto(self, buffer: memoryview) -> int:
        """Read into `buffer`; 0 once the body is over."""
        while self._skip:
            n = self._read(buffer[: min(self._skip, len(buffer))])
            if not n:
                return 0
            self._skip -= n
        return self._read(buffer)

    def _read(self, buffer: memoryview) -> int:
        try:
            return self._response.readinto(buffer)
        except (OSError, http.client.HTTPException) as exc:
            # The camera went away mid-body (undocked): the link's error, not the disk's.
            raise DockLinkError(0, "link", f"the clip stopped arriving: {exc!r}") from exc

    def close(self) -> None:
        """Close the connection."""
        if self._pipe is not None:
            for end in self._pipe:
                os.close(end)
            self._pipe = None
        self._response.close()
        self._conn.close()

    def __enter__(self) -> ClipStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _body(response: httpx.Response) -> Any:
    try:
        return strict_json.loads(response.content)
    except strict_json.JsonRefused as exc:
        raise MessageError(f"the camera's reply is not strict JSON: {exc}") from exc


def _refusal(status: int, raw: bytes) -> DockLinkError:
    """The error a non-2xx reply stands for: its `reason` and `error`, else its first bytes."""
    try:
        data = strict_json.loads(raw)
    except strict_json.JsonRefused:
        data = None
    if isinstance(data, dict):
        return DockLinkError(status, str(data.get("reason", "")), str(data.get("error", "")))
    return DockLinkError(status, "", raw[:200].decode("utf-8", "replace"))


def _error(response: httpx.Response) -> DockLinkError:
    return _refusal(response.status_code, response.content)
