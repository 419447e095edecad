"""The dock link's wire format: paths, header names, signature base strings, times, profiles.

Nothing here knows a camera or a controller; both sides build and check requests with it.
"""

from __future__ import annotations

import base64
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

from bodyworn.domain.profile import (
    CameraProfile,
    FrontIndicator,
    Notification,
    OverlayField,
    ProfileError,
    RecordingActivation,
    Resolution,
    duration_from_seconds,
)

VERSION = "v1"
PREFIX = f"/docklink/{VERSION}"
EVENTS_PATH = f"{PREFIX}/events"
STATION_PATH = f"{PREFIX}/station"
TAPS_PATH = f"{PREFIX}/rfid/taps"
# A camera's URL is `{station}{CAMERA_PATH}{serial}`.
CAMERA_PATH = f"{PREFIX}/cameras/"

HEADER_SYSTEM = "X-Bodyworn-System"
HEADER_TIMESTAMP = "X-Bodyworn-Timestamp"
HEADER_NONCE = "X-Bodyworn-Nonce"
HEADER_CONTENT_SHA256 = "X-Bodyworn-Content-SHA256"
HEADER_SIGNATURE = "X-Bodyworn-Signature"
HEADER_STATION = "X-Bodyworn-Station"

REQUEST_CONTEXT = "bodyworn-docklink-v1-request"
DELETE_CONTEXT = "bodyworn-docklink-v1-delete"
UNLOCK_CONTEXT = b"bodyworn camera unlock v1\n"
# A request's timestamp may differ this much from the camera's clock; nonces are
# remembered for the same span, after which the timestamp alone refuses a replay.
MAX_SKEW = timedelta(minutes=5)
MIN_NONCE_LENGTH = 16
MAX_NONCE_LENGTH = 128


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC text with a Z, as every time on the link is written."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Read an RFC 3339 time with an offset (or Z); raise ValueError for a naive one."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset that leaves the calendar
        raise ValueError(f"time {text!r} is out of range") from None


def request_base(
    method: str, target: str, timestamp: str, nonce: str, body_sha256: str, system_id: str
) -> bytes:
    """The bytes a controller signs for one request (target is path plus query)."""
    lines = [REQUEST_CONTEXT, method.upper(), target, system_id, timestamp, nonce, body_sha256]
    return "\n".join(lines).encode("utf-8")


def delete_base(serial: str, clip_name: str, sha256: str, challenge: str) -> bytes:
    """The bytes a controller signs to say it holds clip `clip_name` of camera `serial`."""
    return "\n".join([DELETE_CONTEXT, serial, clip_name, sha256, challenge]).encode("utf-8")


def unlock_message(serial: str, nonce: str) -> bytes:
    """The bytes a controller signs to unlock the camera `serial` for challenge `nonce`."""
    return UNLOCK_CONTEXT + f"{serial}\n{nonce}".encode()


def b64encode(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Decode standard base64, raising ValueError for anything else."""
    return base64.b64decode(text.encode("ascii"), validate=True)


# ---- profiles ---------------------------------------------------------------------------

_DURATIONS = {"pre_buffer", "periodic_reminder", "max_clip_length"}
_ENUMS: dict[str, type[Any]] = {
    "resolution": Resolution,
    "activation": RecordingActivation,
    "front_indicator": FrontIndicator,
    "notification": Notification,
}


def profile_to_json(profile: CameraProfile) -> dict[str, Any]:
    """A profile as JSON: durations in seconds, choices by their values."""
    data: dict[str, Any] = {}
    for item in fields(profile):
        value = getattr(profile, item.name)
        if isinstance(value, timedelta):
            value = value.total_seconds()
        elif item.name == "overlay":
            value = sorted(field.value for field in value)
        elif hasattr(value, "value"):
            value = value.value
        data[item.name] = value
    return data


def profile_from_json(data: object) -> CameraProfile:
    """A profile from JSON (missing settings take their defaults); ProfileError if wrong."""
    if not isinstance(data, dict):
        raise ProfileError("a profile is a JSON object")
    known = {item.name for item in fields(CameraProfile)}
    values: dict[str, Any] = {}
    for name, raw in data.items():
        if name not in known:
            raise ProfileError(f"unknown profile setting {name!r}", name)
        try:
            if name in _DURATIONS:
                # Range-checked before any arithmetic: no value can overflow a timedelta.
                values[name] = duration_from_seconds(name, raw)
            elif name == "overlay":
                values[name] = frozenset(OverlayField(value) for value in raw)
            elif name in _ENUMS:
                values[name] = _ENUMS[name](raw)
            elif name == "name":
                if not isinstance(raw, str):
                    raise TypeError("text expected")
                values[name] = raw
            else:
                if not isinstance(raw, bool):
                    raise TypeError("true or false expected")
                values[name] = raw
        except (TypeError, ValueError) as exc:
            raise ProfileError(f"bad value for {name}: {exc}", name) from exc
    return CameraProfile(**values)
