"""The dock link's messages as frozen dataclasses: built by one side, parsed by the other.

`to_json` gives the JSON value docs/dock-link.md shows (same keys, same order); `from_json`
checks a value whole and raises MessageError naming the first wrong field, never KeyError
or TypeError. Keys a message does not know are ignored, so either side may add one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from bodyworn.docklink.errors import MessageError
from bodyworn.docklink.wire import (
    CAMERA_PATH,
    format_time,
    parse_time,
    profile_from_json,
    profile_to_json,
)
from bodyworn.domain.led import LedState
from bodyworn.domain.profile import CameraProfile, ProfileError

__all__ = [
    "AssistantBinding",
    "AssistantConfig",
    "AssistantPairing",
    "AssistantReport",
    "BatteryLevel",
    "CameraInfo",
    "CameraLog",
    "ClipEntry",
    "DeleteChallenge",
    "DeleteResult",
    "FirmwareAccepted",
    "HolsterLink",
    "LogEntry",
    "Manifest",
    "MessageError",
    "Position",
    "RecordingEntry",
    "StationBay",
    "StationEvent",
    "StationListing",
    "StorageLevel",
]


class _Fields:
    """Typed reads from one JSON object; every failure is a MessageError naming the field."""

    def __init__(self, data: object, what: str) -> None:
        if not isinstance(data, Mapping):
            raise MessageError(f"{what}: a JSON object expected")
        self._data: Mapping[str, Any] = data
        self.what = what

    def _wrong(self, name: str, expected: str) -> MessageError:
        return MessageError(f"{self.what}: {name} must be {expected}")

    def names(self) -> list[str]:
        return [str(name) for name in self._data]

    def raw(self, name: str) -> object:
        if name not in self._data:
            raise MessageError(f"{self.what}: {name} is missing")
        return self._data[name]

    def optional(self, name: str) -> object:
        """The value, or None when it is null or left out."""
        return self._data.get(name)

    def text(self, name: str) -> str:
        value = self.raw(name)
        if not isinstance(value, str):
            raise self._wrong(name, "text")
        return value

    def opt_text(self, name: str) -> str | None:
        value = self.optional(name)
        if value is not None and not isinstance(value, str):
            raise self._wrong(name, "text or null")
        return value

    def integer(self, name: str) -> int:
        value = self.raw(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._wrong(name, "a whole number")
        return value

    def opt_integer(self, name: str) -> int | None:
        value = self.optional(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise self._wrong(name, "a whole number or null")
        return value

    def number(self, name: str) -> float:
        value = self.raw(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self._wrong(name, "a number")
        return float(value)

    def flag(self, name: str) -> bool:
        value = self.raw(name)
        if not isinstance(value, bool):
            raise self._wrong(name, "true or false")
        return value

    def time(self, name: str) -> datetime:
        return _time(self.raw(name), f"{self.what}: {name}")

    def opt_time(self, name: str) -> datetime | None:
        value = self.optional(name)
        return None if value is None else _time(value, f"{self.what}: {name}")

    def items(self, name: str) -> list[object]:
        value = self.raw(name)
        if not isinstance(value, list):
            raise self._wrong(name, "a list")
        return value

    def texts(self, name: str) -> tuple[str, ...]:
        values = self.items(name)
        if not all(isinstance(value, str) for value in values):
            raise self._wrong(name, "a list of text")
        return tuple(str(value) for value in values)

    def child(self, name: str) -> _Fields:
        return _Fields(self.raw(name), f"{self.what}.{name}")


def _time(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise MessageError(f"{where} must be an RFC 3339 time")
    try:
        return parse_time(value)
    except ValueError as exc:
        raise MessageError(f"{where} must be an RFC 3339 time with an offset") from exc


def _opt_format(moment: datetime | None) -> str | None:
    return format_time(moment) if moment is not None else None


# ---- recordings ------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """A GNSS fix: degrees (WGS 84) and when it was taken."""

    latitude: float
    longitude: float
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"latitude": self.latitude, "longitude": self.longitude,
                "at": format_time(self.at)}

    @classmethod
    def from_json(cls, data: object, what: str = "position") -> Position:
        f = _Fields(data, what)
        return cls(f.number("latitude"), f.number("longitude"), f.time("at"))

    @classmethod
    def optional(cls, data: object, what: str) -> Position | None:
        return None if data is None else cls.from_json(data, what)


@dataclass(frozen=True)
class ClipEntry:
    """One closed clip of a recording, as the manifest lists it.

    `sha256` is what every received byte is checked against; `md5` (may be None, or not
    well formed) is only passed on to the content destination.
    """

    name: str
    index: int
    start: datetime
    end: datetime
    duration_s: float
    size: int
    sha256: str
    md5: str | None = None
    # The camera's signed clip statement (a compact JWS, docs/integrity.md), or None from
    # a camera without a device certificate.
    signature: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "index": self.index,
            "start": format_time(self.start),
            "end": format_time(self.end),
            "duration_s": self.duration_s,
            "size": self.size,
            "sha256": self.sha256,
            "md5": self.md5,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: object, what: str = "clip") -> ClipEntry:
        f = _Fields(data, what)
        entry = cls(
            name=f.text("name"), index=f.integer("index"), start=f.time("start"),
            end=f.time("end"), duration_s=f.number("duration_s"), size=f.integer("size"),
            sha256=f.text("sha256"), md5=f.opt_text("md5"),
            signature=f.opt_text("signature"),
        )
        if not entry.name or entry.index < 0 or entry.size < 0:
            raise MessageError(f"{what}: a name, and index and size from 0")
        return entry


@dataclass(frozen=True)
class RecordingEntry:
    """One finished recording with its metadata and its closed clips."""

    id: str
    camera_serial: str
    user_id: str | None
    profile: str
    firmware: str
    timezone: str
    trigger: str
    trigger_on: datetime
    started_at: datetime
    pre_buffer_s: float
    trigger_off: datetime | None = None
    trigger_on_location: Position | None = None
    trigger_off_location: Position | None = None
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    microphone_off: tuple[tuple[datetime, datetime | None], ...] = ()
    gnss_track: tuple[Position, ...] = ()
    categories: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    clips: tuple[ClipEntry, ...] = ()
    # The camera's signed recording statement (a compact JWS), or None.
    signature: str | None = None
    # The mains frequency the camera recorded at (50 or 60 Hz; None from older cameras).
    power_line_frequency: int | None = None

    def to_json(self, *, clips: bool = True) -> dict[str, Any]:
        """The manifest's entry (`clips=False`: the metadata alone, as the controller keeps it)."""
        data: dict[str, Any] = {
            "id": self.id,
            "camera_serial": self.camera_serial,
            "user_id": self.user_id,
            "profile": self.profile,
            "firmware": self.firmware,
            "timezone": self.timezone,
            "trigger": self.trigger,
            "trigger_on": format_time(self.trigger_on),
            "trigger_off": _opt_format(self.trigger_off),
            "trigger_on_location": _opt_json(self.trigger_on_location),
            "trigger_off_location": _opt_json(self.trigger_off_location),
            "started_at": format_time(self.started_at),
            "stopped_at": _opt_format(self.stopped_at),
            "pre_buffer_s": self.pre_buffer_s,
            "stop_reason": self.stop_reason,
            "microphone_off": [[format_time(start), _opt_format(stop)]
                               for start, stop in self.microphone_off],
            "gnss_track": [fix.to_json() for fix in self.gnss_track],
            "categories": list(self.categories),
            "notes": list(self.notes),
            "signature": self.signature,
            "power_line_frequency": self.power_line_frequency,
        }
        if clips:
            data["clips"] = [clip.to_json() for clip in self.clips]
        return data

    @classmethod
    def from_json(cls, data: object, what: str = "recording", *, clips: bool = True
                  ) -> RecordingEntry:
        """Parse an entry (`clips=False`: one kept without its clips)."""
        f = _Fields(data, what)
        return cls(
            id=f.text("id"), camera_serial=f.text("camera_serial"),
            user_id=f.opt_text("user_id"), profile=f.text("profile"),
            firmware=f.text("firmware"), timezone=f.text("timezone"),
            trigger=f.text("trigger"), trigger_on=f.time("trigger_on"),
            started_at=f.time("started_at"), pre_buffer_s=f.number("pre_buffer_s"),
            trigger_off=f.opt_time("trigger_off"),
            trigger_on_location=Position.optional(
                f.optional("trigger_on_location"), f"{what}.trigger_on_location"),
            trigger_off_location=Position.optional(
                f.optional("trigger_off_location"), f"{what}.trigger_off_location"),
            stopped_at=f.opt_time("stopped_at"), stop_reason=f.opt_text("stop_reason"),
            microphone_off=tuple(_span(span, f"{what}.microphone_off")
                                 for span in f.items("microphone_off")),
            gnss_track=tuple(Position.from_json(fix, f"{what}.gnss_track")
                             for fix in f.items("gnss_track")),
            categories=f.texts("categories"), notes=f.texts("notes"),
            signature=f.opt_text("signature"),
            clips=tuple(ClipEntry.from_json(clip, f"{what}.clips")
                        for clip in f.items("clips")) if clips else (),
            power_line_frequency=f.opt_integer("power_line_frequency"),
        )


def _opt_json(position: Position | None) -> dict[str, Any] | None:
    return position.to_json() if position is not None else None


def _span(value: object, what: str) -> tuple[datetime, datetime | None]:
    if not isinstance(value, list) or len(value) != 2:
        raise MessageError(f"{what}: each span is [start, stop or null]")
    start, stop = value
    return _time(start, what), None if stop is None else _time(stop, what)


@dataclass(frozen=True)
class Manifest:
    """`GET /recordings`: every finished recording still on the camera."""

    serial: str
    recordings: tuple[RecordingEntry, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"serial": self.serial,
                "recordings": [recording.to_json() for recording in self.recordings]}

    @classmethod
    def from_json(cls, data: object) -> Manifest:
        f = _Fields(data, "manifest")
        return cls(f.text("serial"), tuple(
            RecordingEntry.from_json(item, "manifest.recordings")
            for item in f.items("recordings")))

    @property
    def clips(self) -> list[ClipEntry]:
        """Every clip of every recording, in order."""
        return [clip for recording in self.recordings for clip in recording.clips]


# ---- device info -----------------------------------------------------------------------


@dataclass(frozen=True)
class BatteryLevel:
    """The battery: charge 0..1 and hours of recording left."""

    charge: float
    hours_left: float

    def to_json(self) -> dict[str, Any]:
        return {"charge": self.charge, "hours_left": self.hours_left}

    @classmethod
    def from_json(cls, f: _Fields) -> BatteryLevel:
        return cls(f.number("charge"), f.number("hours_left"))


@dataclass(frozen=True)
class StorageLevel:
    """The recording storage: size, use, hours of recording left, and a fault."""

    capacity_bytes: int
    used_bytes: int
    hours_left: float
    error: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"capacity_bytes": self.capacity_bytes, "used_bytes": self.used_bytes,
                "hours_left": self.hours_left, "error": self.error}

    @classmethod
    def from_json(cls, f: _Fields) -> StorageLevel:
        return cls(f.integer("capacity_bytes"), f.integer("used_bytes"),
                   f.number("hours_left"), f.flag("error"))


@dataclass(frozen=True)
class HolsterLink:
    """The holster sensor the camera listens for, and the link's state (none, pairing,
    paired, failed)."""

    serial: str | None
    state: str

    def to_json(self) -> dict[str, Any]:
        return {"serial": self.serial, "state": self.state}

    @classmethod
    def from_json(cls, f: _Fields) -> HolsterLink:
        return cls(f.opt_text("serial"), f.text("state"))


@dataclass(frozen=True)
class CameraInfo:
    """What a camera tells about itself: identity, system, user, levels, lock and LEDs."""

    serial: str
    model: str
    firmware: str
    shipping_mode: bool
    system_id: str | None
    user_id: str | None
    profile: CameraProfile
    timezone: str
    categories: tuple[str, ...]
    time: datetime
    time_offset_s: float
    locked: bool
    docked: bool
    offload_ready: bool
    busy: bool
    battery: BatteryLevel
    storage: StorageLevel
    recordings: int
    holster: HolsterLink
    faults: tuple[str, ...] = ()
    # Each LED by its name (docking, recording, operation, …).
    leds: Mapping[str, LedState] = field(default_factory=lambda: MappingProxyType({}))
    # The camera's device public key (PEM) and the certificate its system issued for it
    # (PEM; None until the system certified it).
    device_key: str | None = None
    device_certificate: str | None = None
    # The mains frequency the camera is set to (None from cameras that do not say).
    power_line_frequency: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "model": self.model,
            "firmware": self.firmware,
            "shipping_mode": self.shipping_mode,
            "system_id": self.system_id,
            "user_id": self.user_id,
            "profile": profile_to_json(self.profile),
            "timezone": self.timezone,
            "categories": list(self.categories),
            "time": format_time(self.time),
            "time_offset_s": self.time_offset_s,
            "locked": self.locked,
            "docked": self.docked,
            "offload_ready": self.offload_ready,
            "busy": self.busy,
            "battery": self.battery.to_json(),
            "storage": self.storage.to_json(),
            "recordings": self.recordings,
            "holster": self.holster.to_json(),
            "faults": list(self.faults),
            "leds": {name: str(state) for name, state in self.leds.items()},
            "device_key": self.device_key,
            "device_certificate": self.device_certificate,
            "power_line_frequency": self.power_line_frequency,
        }

    @classmethod
    def from_json(cls, data: object) -> CameraInfo:
        f = _Fields(data, "info")
        try:
            profile = profile_from_json(f.raw("profile"))
        except ProfileError as exc:
            raise MessageError(f"info: profile: {exc}") from exc
        return cls(
            serial=f.text("serial"), model=f.text("model"), firmware=f.text("firmware"),
            shipping_mode=f.flag("shipping_mode"), system_id=f.opt_text("system_id"),
            user_id=f.opt_text("user_id"), profile=profile, timezone=f.text("timezone"),
            categories=f.texts("categories"), time=f.time("time"),
            time_offset_s=f.number("time_offset_s"), locked=f.flag("locked"),
            docked=f.flag("docked"), offload_ready=f.flag("offload_ready"),
            busy=f.flag("busy"), battery=BatteryLevel.from_json(f.child("battery")),
            storage=StorageLevel.from_json(f.child("storage")),
            recordings=f.integer("recordings"),
            holster=HolsterLink.from_json(f.child("holster")),
            faults=f.texts("faults"), leds=_leds(f.child("leds")),
            device_key=f.opt_text("device_key"),
            device_certificate=f.opt_text("device_certificate"),
            power_line_frequency=f.opt_integer("power_line_frequency"),
        )


def _leds(f: _Fields) -> Mapping[str, LedState]:
    leds = {}
    for name in f.names():
        text = f.text(name)
        try:
            leds[name] = LedState.parse(text)
        except ValueError as exc:
            raise MessageError(f"{f.what}: {name}: {exc}") from exc
    return MappingProxyType(leds)


# ---- replies of single operations ------------------------------------------------------


@dataclass(frozen=True)
class DeleteChallenge:
    """`POST /clips/{name}/challenge`: a one-time challenge to confirm holding the clip."""

    clip: str
    challenge: str
    expires: datetime

    def to_json(self) -> dict[str, Any]:
        return {"clip": self.clip, "challenge": self.challenge,
                "expires": format_time(self.expires)}

    @classmethod
    def from_json(cls, data: object) -> DeleteChallenge:
        f = _Fields(data, "challenge")
        return cls(f.text("clip"), f.text("challenge"), f.time("expires"))


@dataclass(frozen=True)
class DeleteResult:
    """`DELETE /clips/{name}`: the clip is gone; `recording_complete` when it was the last."""

    deleted: str
    recording: str
    recording_complete: bool

    def to_json(self) -> dict[str, Any]:
        return {"deleted": self.deleted, "recording": self.recording,
                "recording_complete": self.recording_complete}

    @classmethod
    def from_json(cls, data: object) -> DeleteResult:
        f = _Fields(data, "deleted")
        return cls(f.text("deleted"), f.text("recording"), f.flag("recording_complete"))


@dataclass(frozen=True)
class FirmwareAccepted:
    """`POST /firmware`: the camera took the image and installs it while docked."""

    firmware: str
    image_sha256: str
    install_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"firmware": self.firmware, "image_sha256": self.image_sha256,
                "install_seconds": self.install_seconds}

    @classmethod
    def from_json(cls, data: object) -> FirmwareAccepted:
        f = _Fields(data, "firmware")
        return cls(f.text("firmware"), f.text("image_sha256"), f.number("install_seconds"))


@dataclass(frozen=True)
class LogEntry:
    """One line of a camera's log."""

    at: datetime
    level: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"at": format_time(self.at), "level": self.level, "message": self.message}

    @classmethod
    def from_json(cls, data: object, what: str = "log.entries") -> LogEntry:
        f = _Fields(data, what)
        return cls(f.time("at"), f.text("level"), f.text("message"))


@dataclass(frozen=True)
class CameraLog:
    """`GET /log`: the newest lines of the camera's own log, oldest first (what support
    reads in a system report)."""

    serial: str
    entries: tuple[LogEntry, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"serial": self.serial, "entries": [e.to_json() for e in self.entries]}

    @classmethod
    def from_json(cls, data: object) -> CameraLog:
        f = _Fields(data, "log")
        return cls(f.text("serial"), tuple(LogEntry.from_json(item)
                                           for item in f.items("entries")))


# ---- the Assistant (the camera's wireless side) -----------------------------------------


@dataclass(frozen=True)
class AssistantPairing:
    """A pairing of the camera's user with AXIS Body Worn Assistant, as a camera keeps it.

    Verifiers only (see `wireless.pairing`): the secret's hash and the PIN's HMAC. Once a
    device completed the pairing on some camera, `device_key` is its public key and every
    camera of the user accepts that device.
    """

    pairing_id: str
    user_id: str
    secret_sha256: str
    pin_verifier: str
    expires: datetime
    device_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"pairing_id": self.pairing_id, "user_id": self.user_id,
                "secret_sha256": self.secret_sha256, "pin_verifier": self.pin_verifier,
                "expires": format_time(self.expires), "device_key": self.device_key}

    @classmethod
    def from_json(cls, data: object) -> AssistantPairing:
        f = _Fields(data, "assistant.pairings")
        return cls(f.text("pairing_id"), f.text("user_id"), f.text("secret_sha256"),
                   f.text("pin_verifier"), f.time("expires"), f.opt_text("device_key"))


@dataclass(frozen=True)
class AssistantConfig:
    """`PUT …/assistant`: what the camera needs for the Assistant; replaces what it had.

    `ca` is the system CA (made from the identity key), `certificate` the camera's
    wireless certificate for the key it reported; `taken_devices` are fingerprints of
    devices paired with other users; `annotations` says whether the content destination
    stores categories and notes.
    """

    ca: str
    certificate: str
    pairings: tuple[AssistantPairing, ...] = ()
    taken_devices: tuple[str, ...] = ()
    annotations: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"ca": self.ca, "certificate": self.certificate,
                "pairings": [p.to_json() for p in self.pairings],
                "taken_devices": list(self.taken_devices), "annotations": self.annotations}

    @classmethod
    def from_json(cls, data: object) -> AssistantConfig:
        f = _Fields(data, "assistant")
        return cls(f.text("ca"), f.text("certificate"),
                   tuple(AssistantPairing.from_json(p) for p in f.items("pairings")),
                   f.texts("taken_devices"), f.flag("annotations"))


@dataclass(frozen=True)
class AssistantBinding:
    """A device that completed a pairing on this camera (the PIN was right)."""

    pairing_id: str
    device_key: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"pairing_id": self.pairing_id, "device_key": self.device_key,
                "at": format_time(self.at)}

    @classmethod
    def from_json(cls, data: object) -> AssistantBinding:
        f = _Fields(data, "assistant.bindings")
        return cls(f.text("pairing_id"), f.text("device_key"), f.time("at"))


@dataclass(frozen=True)
class AssistantReport:
    """`GET …/assistant`: the camera's wireless public key (PEM) and what happened to its
    pairings off the dock: devices bound, pairings blocked by too many wrong PINs."""

    wireless_key: str
    bindings: tuple[AssistantBinding, ...] = ()
    blocked: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"wireless_key": self.wireless_key,
                "bindings": [b.to_json() for b in self.bindings], "blocked": list(self.blocked)}

    @classmethod
    def from_json(cls, data: object) -> AssistantReport:
        f = _Fields(data, "assistant")
        return cls(f.text("wireless_key"),
                   tuple(AssistantBinding.from_json(b) for b in f.items("bindings")),
                   f.texts("blocked"))


# ---- the station -----------------------------------------------------------------------


@dataclass(frozen=True)
class StationBay:
    """One bay of a station and the camera in it (both None: empty)."""

    bay: int
    camera_serial: str | None = None
    camera_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"bay": self.bay, "camera_serial": self.camera_serial,
                "camera_url": self.camera_url}

    @classmethod
    def from_json(cls, data: object) -> StationBay:
        f = _Fields(data, "station.bays")
        return cls(f.integer("bay"), f.opt_text("camera_serial"), f.opt_text("camera_url"))


@dataclass(frozen=True)
class StationListing:
    """`GET {station}/docklink/v1/station`: the station and what its bays hold."""

    station_serial: str
    model: str
    link_up: bool
    bays: tuple[StationBay, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"station_serial": self.station_serial, "model": self.model,
                "link_up": self.link_up, "bays": [bay.to_json() for bay in self.bays]}

    @classmethod
    def from_json(cls, data: object) -> StationListing:
        f = _Fields(data, "station")
        return cls(f.text("station_serial"), f.text("model"), f.flag("link_up"),
                   tuple(StationBay.from_json(bay) for bay in f.items("bays")))


DOCK = "dock"
UNDOCK = "undock"
MAX_BAYS = 64


@dataclass(frozen=True)
class StationEvent:
    """A dock or undock a station reports to its controller (`POST …/events`)."""

    station_serial: str
    bay: int
    event: str
    camera_serial: str
    camera_url: str

    @property
    def docked(self) -> bool:
        """Whether the camera went in (else it came out)."""
        return self.event == DOCK

    @property
    def station_url(self) -> str:
        """The station's base URL, from the camera URL it sent."""
        return self.camera_url.split(CAMERA_PATH, 1)[0]

    def to_json(self) -> dict[str, Any]:
        return {"station_serial": self.station_serial, "bay": self.bay, "event": self.event,
                "camera_serial": self.camera_serial, "camera_url": self.camera_url}

    @classmethod
    def from_json(cls, data: object) -> StationEvent:
        """Check an event whole; the MessageError names the first wrong field."""
        if not isinstance(data, Mapping):
            raise MessageError("an event is a JSON object")

        def text(name: str, limit: int) -> str:
            value = data.get(name)
            if not isinstance(value, str) or not value.strip() or len(value) > limit:
                raise MessageError(f"{name}: text of 1-{limit} characters")
            return value.strip()

        station, serial = text("station_serial", 32), text("camera_serial", 32)
        url = text("camera_url", 512)
        bay = data.get("bay")
        if not isinstance(bay, int) or isinstance(bay, bool) or not 0 <= bay < MAX_BAYS:
            raise MessageError("bay: a number from 0")
        event = data.get("event")
        if event not in (DOCK, UNDOCK):
            raise MessageError("event: dock or undock")
        if not url.endswith(CAMERA_PATH + serial) or not link_url_ok(url):
            raise MessageError("camera_url: the camera's dock link URL")
        return cls(station, bay, str(event), serial, url)


def link_url_ok(url: str) -> bool:
    """A URL a controller may call for the dock link: http(s), with a host and, when given,
    a port that exists; no user name or password; nothing unprintable or blank in it."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError past 65535 or when not a number
    except ValueError:  # a broken [IPv6] host too
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname)
            and parts.username is None and parts.password is None
            and (port is None or port > 0))
