"""The wireless API's messages as frozen dataclasses: built by one side, parsed by the other.

`from_json` checks a value whole and raises MessageError naming the first wrong field;
keys a message does not know are ignored, so either side may add one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class MessageError(ValueError):
    """A message that breaks the format."""


class WirelessRefused(Exception):
    """A camera's refusal: the HTTP status, a short reason code and the camera's sentence."""

    def __init__(self, status: int, reason: str, message: str,
                 detail: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        # Further fields of the refusal (`tries_left` of a wrong PIN).
        self.detail: Mapping[str, Any] = detail or {}


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An RFC 3339 time with an offset; ValueError for a naive one."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return moment.astimezone(UTC)


class _Obj:
    """Typed reads from one JSON object."""

    def __init__(self, data: object, what: str) -> None:
        if not isinstance(data, Mapping):
            raise MessageError(f"{what}: a JSON object expected")
        self.data: Mapping[str, Any] = data
        self.what = what

    def _wrong(self, name: str, expected: str) -> MessageError:
        return MessageError(f"{self.what}: {name} must be {expected}")

    def text(self, name: str, limit: int = 4096) -> str:
        value = self.data.get(name)
        if not isinstance(value, str) or len(value) > limit:
            raise self._wrong(name, f"text of at most {limit} characters")
        return value

    def opt_text(self, name: str, limit: int = 4096) -> str | None:
        return None if self.data.get(name) is None else self.text(name, limit)

    def number(self, name: str) -> float:
        value = self.data.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self._wrong(name, "a number")
        return float(value)

    def integer(self, name: str) -> int:
        value = self.data.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._wrong(name, "a whole number")
        return value

    def flag(self, name: str) -> bool:
        value = self.data.get(name)
        if not isinstance(value, bool):
            raise self._wrong(name, "true or false")
        return value

    def time(self, name: str) -> datetime:
        try:
            return parse_time(self.text(name, 64))
        except ValueError as exc:
            raise self._wrong(name, "an RFC 3339 time") from exc

    def opt_time(self, name: str) -> datetime | None:
        return None if self.data.get(name) is None else self.time(name)

    def items(self, name: str) -> list[object]:
        value = self.data.get(name)
        if not isinstance(value, list):
            raise self._wrong(name, "a list")
        return value

    def texts(self, name: str, limit: int = 4096) -> tuple[str, ...]:
        values = self.items(name)
        if not all(isinstance(v, str) and len(v) <= limit for v in values):
            raise self._wrong(name, "a list of text")
        return tuple(str(v) for v in values)


def pairing_hint(pairing_id: str) -> str:
    """What a camera's beacon shows of a pairing it accepts (not the id itself)."""
    return hashlib.sha256(f"bodyworn-beacon\n{pairing_id}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Beacon:
    """A camera in range: its serial and hints of the pairings it accepts."""

    serial: str
    hints: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"serial": self.serial, "hints": list(self.hints)}

    @classmethod
    def from_json(cls, data: object) -> Beacon:
        f = _Obj(data, "beacon")
        return cls(f.text("serial", 32), f.texts("hints", 64))


@dataclass(frozen=True)
class PairRequest:
    """The app's half of a pairing: the QR code's id and secret, the PIN, the device key."""

    pairing_id: str
    secret: str
    pin: str
    device_key: str

    def to_json(self) -> dict[str, Any]:
        return {"pairing_id": self.pairing_id, "secret": self.secret, "pin": self.pin,
                "device_key": self.device_key}

    @classmethod
    def from_json(cls, data: object) -> PairRequest:
        f = _Obj(data, "pairing")
        return cls(f.text("pairing_id", 64), f.text("secret", 64), f.text("pin", 16),
                   f.text("device_key", 1024))


@dataclass(frozen=True)
class Paired:
    """The camera took the pairing: whose camera it is."""

    serial: str
    user_id: str

    def to_json(self) -> dict[str, Any]:
        return {"serial": self.serial, "user_id": self.user_id}

    @classmethod
    def from_json(cls, data: object) -> Paired:
        f = _Obj(data, "paired")
        return cls(f.text("serial", 32), f.text("user_id", 128))


@dataclass(frozen=True)
class SessionRequest:
    """A paired device proves itself: the camera's challenge signed with the device key."""

    pairing_id: str
    challenge: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {"pairing_id": self.pairing_id, "challenge": self.challenge,
                "signature": self.signature}

    @classmethod
    def from_json(cls, data: object) -> SessionRequest:
        f = _Obj(data, "session")
        return cls(f.text("pairing_id", 64), f.text("challenge", 128), f.text("signature", 256))


@dataclass(frozen=True)
class CameraStatus:
    """The camera as the app shows it: whose it is and what the app may do."""

    serial: str
    user_id: str
    recording: bool
    battery: float
    recordings_access: bool
    annotations: bool
    categories: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"serial": self.serial, "user_id": self.user_id, "recording": self.recording,
                "battery": self.battery, "recordings_access": self.recordings_access,
                "annotations": self.annotations, "categories": list(self.categories)}

    @classmethod
    def from_json(cls, data: object) -> CameraStatus:
        f = _Obj(data, "camera")
        return cls(f.text("serial", 32), f.text("user_id", 128), f.flag("recording"),
                   f.number("battery"), f.flag("recordings_access"), f.flag("annotations"),
                   f.texts("categories", 256))


@dataclass(frozen=True)
class Grant:
    """A session: its bearer token (TLS carries it) and the camera's status."""

    token: str
    camera: CameraStatus

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token, "camera": self.camera.to_json()}

    @classmethod
    def from_json(cls, data: object) -> Grant:
        f = _Obj(data, "grant")
        return cls(f.text("token", 256), CameraStatus.from_json(f.data.get("camera")))


@dataclass(frozen=True)
class TrackPoint:
    """A GNSS fix of a recording's track (WGS 84 degrees)."""

    latitude: float
    longitude: float
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"latitude": self.latitude, "longitude": self.longitude,
                "at": format_time(self.at)}

    @classmethod
    def from_json(cls, data: object) -> TrackPoint:
        f = _Obj(data, "track point")
        return cls(f.number("latitude"), f.number("longitude"), f.time("at"))


@dataclass(frozen=True)
class ClipRef:
    """One file of a recording on the camera."""

    name: str
    start: datetime
    end: datetime
    duration_s: float
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "start": format_time(self.start),
                "end": format_time(self.end), "duration_s": self.duration_s, "size": self.size}

    @classmethod
    def from_json(cls, data: object) -> ClipRef:
        f = _Obj(data, "clip")
        return cls(f.text("name", 255), f.time("start"), f.time("end"), f.number("duration_s"),
                   f.integer("size"))


@dataclass(frozen=True)
class RecordingSummary:
    """A finished recording still on the camera, as the app lists and plays it."""

    id: str
    trigger: str
    trigger_on: datetime
    started_at: datetime
    stopped_at: datetime
    duration_s: float
    clips: tuple[ClipRef, ...]
    category: str | None = None
    notes: str = ""
    track: tuple[TrackPoint, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "trigger": self.trigger, "trigger_on": format_time(self.trigger_on),
            "started_at": format_time(self.started_at),
            "stopped_at": format_time(self.stopped_at), "duration_s": self.duration_s,
            "clips": [clip.to_json() for clip in self.clips], "category": self.category,
            "notes": self.notes, "track": [point.to_json() for point in self.track],
        }

    @classmethod
    def from_json(cls, data: object) -> RecordingSummary:
        f = _Obj(data, "recording")
        return cls(
            id=f.text("id", 128), trigger=f.text("trigger", 32), trigger_on=f.time("trigger_on"),
            started_at=f.time("started_at"), stopped_at=f.time("stopped_at"),
            duration_s=f.number("duration_s"),
            clips=tuple(ClipRef.from_json(c) for c in f.items("clips")),
            category=f.opt_text("category", 256), notes=f.text("notes", 100_000),
            track=tuple(TrackPoint.from_json(p) for p in f.items("track")),
        )


@dataclass(frozen=True)
class Annotation:
    """The category (one of the camera's, or none) and the notes of a recording."""

    category: str | None
    notes: str

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category, "notes": self.notes}

    @classmethod
    def from_json(cls, data: object) -> Annotation:
        f = _Obj(data, "annotation")
        category = f.opt_text("category", 256)
        return cls(category or None, f.text("notes", 100_000))
