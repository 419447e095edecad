"""The client's input: plain dataclasses for users, cameras and recordings, and their metadata.

Metadata builders are pure functions so the embedded CD and tests can check them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from bodyworn.cdclient.capabilities import Category
from bodyworn.evidence.metadata import (
    Location,
    epoch,
    location_string,
    rfc3339,
    tags_value,
)


@dataclass(frozen=True)
class CDUser:
    """A user as the CD knows it: internal UUID, display name, optional user-supplied ID."""

    uuid: str
    name: str
    user_id: str | None = None
    active: bool = True


@dataclass(frozen=True)
class CDDevice:
    """A camera as the CD knows it, by serial number."""

    serial: str
    name: str
    model: str
    active: bool = True


@dataclass(frozen=True)
class ClipFile:
    """One clip of a recording, on disk."""

    path: Path
    start: datetime
    stop: datetime
    start_location: Location | None = None
    stop_location: Location | None = None
    # Hex md5 of the file when already known (saves a hashing pass before the upload).
    md5: str | None = None
    # The camera's signed clip statement (a compact JWS over the plaintext's sha256).
    signature: str | None = None


@dataclass(frozen=True)
class GnssPoint:
    """One point of a recording's GNSS track."""

    latitude: float
    longitude: float
    time: datetime


@dataclass(frozen=True)
class Bookmark:
    """A bookmark, category, tags and/or a free text note on a recording."""

    bookmark_id: str
    timestamp: datetime
    note: str = ""
    category: Category | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class RecordingUpload:
    """A finished recording to deliver: identity, times, triggers, clips and extras."""

    recording_id: str
    user_uuid: str
    bwc_serial: str
    scu_serial: str
    bwc_model: str
    firmware_version: str
    trigger_on: str
    trigger_off: str
    trigger_on_time: datetime
    trigger_off_time: datetime
    start_time: datetime
    stop_time: datetime
    clips: tuple[ClipFile, ...]
    time_zone: str = "UTC"
    trigger_on_location: Location | None = None
    trigger_off_location: Location | None = None
    gnss_track: tuple[GnssPoint, ...] = ()
    bookmarks: tuple[Bookmark, ...] = ()
    # The camera's signed recording statement (a compact JWS).
    signature: str | None = None


def _loc(loc: Location | None) -> str | None:
    return location_string(loc) if loc is not None else None


def recording_metadata(
    rec: RecordingUpload, container_name: str, status: Literal["Transferring", "Complete"] | None
) -> dict[str, str | None]:
    """Every recording container metadata key of the spec (Status omitted when None)."""
    return {
        "ContainerName": container_name,
        "BWCSerialNumber": rec.bwc_serial,
        "SCUSerialNumber": rec.scu_serial,
        "FirmwareVersion": rec.firmware_version,
        "UserID": rec.user_uuid,
        "TriggerOn": rec.trigger_on,
        "TriggerOff": rec.trigger_off,
        "TriggerOnTime": epoch(rec.trigger_on_time),
        "TriggerOnTimeISO": rfc3339(rec.trigger_on_time),
        "TriggerOnLocation": _loc(rec.trigger_on_location),
        "TriggerOffTime": epoch(rec.trigger_off_time),
        "TriggerOffTimeISO": rfc3339(rec.trigger_off_time),
        "TriggerOffLocation": _loc(rec.trigger_off_location),
        "StartTime": epoch(rec.start_time),
        "StartTimeISO": rfc3339(rec.start_time),
        "StopTime": epoch(rec.stop_time),
        "StopTimeISO": rfc3339(rec.stop_time),
        "TimeZone": rec.time_zone,
        "BWCModel": rec.bwc_model,
        "Status": status,
    }


def clip_metadata(clip: ClipFile, container_type: str) -> dict[str, str | None]:
    """Metadata of a clip object."""
    return {
        "StartTime": epoch(clip.start),
        "StartTimeISO": rfc3339(clip.start),
        "StopTime": epoch(clip.stop),
        "StopTimeISO": rfc3339(clip.stop),
        "ContainerType": container_type,
        "StartLocation": _loc(clip.start_location),
        "StopLocation": _loc(clip.stop_location),
    }


def key_metadata(start: datetime) -> dict[str, str | None]:
    """Metadata of a `.key` object."""
    return {"StartTime": epoch(start), "FileType": "key"}


def signature_metadata(start: datetime) -> dict[str, str | None]:
    """Metadata of a signature object (`.sig`), like a key object's."""
    return {"StartTime": epoch(start), "FileType": "signature"}


def gnss_metadata() -> dict[str, str | None]:
    """Metadata of a GNSS track object."""
    return {"FileType": "json"}


def gnss_body(rec: RecordingUpload) -> bytes:
    """The GNSS track object body: CoordinateEntries with WKT points (lon lat)."""
    entries = [
        {
            "LocationWKT": f"POINT({p.longitude:.6f} {p.latitude:.6f})",
            "SecondsFromStart": round((p.time - rec.start_time).total_seconds(), 3),
            "Timestamp": rfc3339(p.time),
        }
        for p in rec.gnss_track
    ]
    return (json.dumps({"CoordinateEntries": entries}, indent=2) + "\n").encode("utf-8")


def bookmark_metadata(bm: Bookmark, rec: RecordingUpload) -> dict[str, str | None]:
    """Metadata of a bookmark object (StartTime defaults to the recording's start)."""
    return {
        "CategoryID": bm.category.id if bm.category else None,
        "CategoryName": bm.category.name if bm.category else None,
        "Tags": tags_value(bm.tags) if bm.tags else None,
        "StartTime": rfc3339(bm.start or rec.start_time),
        "EndTime": rfc3339(bm.end) if bm.end else None,
    }


def user_metadata(user: CDUser, with_user_id: bool) -> dict[str, str | None]:
    """Metadata of a Users/<uuid> object; UserID only when the CD stores it."""
    return {
        "Active": "True" if user.active else "False",
        "Name": user.name,
        "UserID": user.user_id if with_user_id and user.user_id else None,
    }


def device_metadata(device: CDDevice) -> dict[str, str | None]:
    """Metadata of a Devices/<serial> object."""
    return {
        "Active": "True" if device.active else "False",
        "Name": device.name,
        "Model": device.model,
    }
