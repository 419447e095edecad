"""The dock link protocol shared by a docked camera and its controller (see docs/dock-link.md).

This module is the protocol only: header names, the request signature base string, the
deletion confirmation, and how profiles, recordings and device state become JSON. The
camera side is `docklink_server`, the controller side `docklink_client`.
"""

from __future__ import annotations

import base64
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bodyworn.domain.profile import (
    CameraProfile,
    FrontIndicator,
    Notification,
    OverlayField,
    ProfileError,
    RecordingActivation,
    Resolution,
)

if TYPE_CHECKING:
    from bodyworn.devices.camera import Camera, Clip, Recording
    from bodyworn.devices.gnss import Position

VERSION = "v1"
PREFIX = f"/docklink/{VERSION}"
EVENTS_PATH = f"{PREFIX}/events"

HEADER_SYSTEM = "X-Bodyworn-System"
HEADER_TIMESTAMP = "X-Bodyworn-Timestamp"
HEADER_NONCE = "X-Bodyworn-Nonce"
HEADER_CONTENT_SHA256 = "X-Bodyworn-Content-SHA256"
HEADER_SIGNATURE = "X-Bodyworn-Signature"
HEADER_STATION = "X-Bodyworn-Station"

REQUEST_CONTEXT = "bodyworn-docklink-v1-request"
DELETE_CONTEXT = "bodyworn-docklink-v1-delete"
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
    return moment.astimezone(UTC)


def request_base(
    method: str, target: str, timestamp: str, nonce: str, body_sha256: str, system_id: str
) -> bytes:
    """The bytes a controller signs for one request (target is path plus query)."""
    lines = [REQUEST_CONTEXT, method.upper(), target, system_id, timestamp, nonce, body_sha256]
    return "\n".join(lines).encode("utf-8")


def delete_base(serial: str, clip_name: str, sha256: str, challenge: str) -> bytes:
    """The bytes a controller signs to say it holds clip `clip_name` of camera `serial`."""
    return "\n".join([DELETE_CONTEXT, serial, clip_name, sha256, challenge]).encode("utf-8")


def sign_with_pem(private_key_pem: bytes, message: bytes) -> bytes:
    """Sign with an Ed25519, ECDSA (SHA-256) or RSA-PSS (SHA-256) private key PEM."""
    key = load_pem_private_key(private_key_pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(message, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
        return key.sign(message, pss, hashes.SHA256())
    raise ValueError(f"unsupported identity key type {type(key).__name__}")


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
                values[name] = None if raw is None else timedelta(seconds=float(raw))
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


# ---- the manifest and device state -----------------------------------------------------


def position_json(position: Position | None) -> dict[str, Any] | None:
    """A GNSS fix as JSON."""
    if position is None:
        return None
    return {
        "latitude": position.latitude,
        "longitude": position.longitude,
        "at": format_time(position.at),
    }


def clip_json(clip: Clip) -> dict[str, Any]:
    """One clip's entry in the manifest."""
    assert clip.path is not None
    return {
        "name": clip.path.name,
        "index": clip.index,
        "start": format_time(clip.start),
        "end": format_time(clip.end) if clip.end else None,
        "duration_s": clip.duration.total_seconds(),
        "size": clip.size,
        "sha256": clip.sha256,
        # The CD checks uploads against it; None from a camera that did not keep one.
        "md5": clip.md5,
    }


def offloadable_clips(recording: Recording) -> list[Clip]:
    """Clips of a recording that are closed and written to a file."""
    return [
        clip for clip in recording.clips
        if clip.end is not None and clip.path is not None and clip.sha256 is not None
    ]


def recording_json(recording: Recording) -> dict[str, Any]:
    """One recording with its clips and metadata, as the manifest lists it."""
    return {
        "id": recording.id,
        "camera_serial": recording.camera_serial,
        "user_id": recording.user_id,
        "profile": recording.profile.name,
        "firmware": recording.firmware,
        "timezone": recording.timezone,
        "trigger": recording.trigger.value,
        "trigger_on": format_time(recording.trigger_on),
        "trigger_off": format_time(recording.trigger_off) if recording.trigger_off else None,
        "trigger_on_location": position_json(recording.start_position),
        "trigger_off_location": position_json(recording.stop_position),
        "started_at": format_time(recording.started_at),
        "stopped_at": format_time(recording.stopped_at) if recording.stopped_at else None,
        "pre_buffer_s": recording.pre_buffer.total_seconds(),
        "stop_reason": recording.stop_reason.value if recording.stop_reason else None,
        "microphone_off": [
            [format_time(start), format_time(stop) if stop else None]
            for start, stop in recording.muted
        ],
        "gnss_track": [position_json(fix) for fix in recording.track],
        "categories": list(recording.categories),
        "notes": list(recording.notes),
        "clips": [clip_json(clip) for clip in offloadable_clips(recording)],
    }


def manifest_json(camera: Camera) -> dict[str, Any]:
    """Every finished recording on the camera with its clips."""
    recordings = [
        recording_json(recording)
        for recording in camera.recordings
        if recording.stopped_at is not None
    ]
    return {"serial": camera.serial, "recordings": recordings}


def info_json(camera: Camera, *, time: datetime, time_offset: timedelta) -> dict[str, Any]:
    """What a camera tells about itself: identity, system, user, levels, lock and LEDs."""
    feedback = camera.feedback()
    storage = camera.storage
    return {
        "serial": camera.serial,
        "model": camera.model,
        "firmware": camera.firmware,
        "shipping_mode": camera.shipping_mode,
        "system_id": camera.system_id,
        "user_id": camera.user_id,
        "profile": profile_to_json(camera.profile),
        "timezone": camera.timezone,
        "categories": list(camera.categories),
        "time": format_time(time),
        "time_offset_s": time_offset.total_seconds(),
        "locked": camera.locked,
        "docked": camera.docked,
        "offload_ready": camera.offload_ready,
        "busy": camera.busy_docked,
        "battery": {
            "charge": round(camera.battery.charge, 6),
            "hours_left": round(camera.battery_hours_left(), 4),
        },
        "storage": {
            "capacity_bytes": storage.capacity_bytes,
            "used_bytes": round(storage.used_bytes),
            "hours_left": round(camera.storage_hours_left(), 4),
            "error": storage.error,
        },
        "recordings": len(camera.recordings),
        "holster": {"serial": camera.expected_holster, "state": camera.holster.value},
        "faults": sorted(fault.value for fault in camera.faults),
        "leds": {led.value: str(state) for led, state in feedback.leds.items()},
    }
