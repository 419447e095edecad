"""The CD API's metadata encoding and naming, shared by the client and the embedded CD.

Header keys: the spec writes every header key lower case except the first letter and
each letter after a hyphen (`X-Object-Meta-Starttimeiso`). Values: user strings are
URL-encoded UTF-8 without control characters, and each value has a byte limit (32
unless the spec notes otherwise). We apply the limit to the encoded value, as that is
what a server stores; truncation cuts only between whole characters, so it never
splits a multi-byte character or one of its %-escapes.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote, unquote

CONTAINER_META = "X-Container-Meta-"
OBJECT_META = "X-Object-Meta-"

DEFAULT_LIMIT = 32
# Swift's own per-value ceiling (max_meta_value_length); nothing we send may exceed it.
SWIFT_VALUE_LIMIT = 256

# Limits the spec notes per key; keys not listed get DEFAULT_LIMIT.
KEY_LIMITS: dict[str, int] = {
    "TriggerOnLocation": 64,
    "TriggerOffLocation": 64,
    "StartLocation": 64,
    "StopLocation": 64,
    "Name": 100,
    "SystemName": 100,
    "ConnectionId": 100,
    # Our choices where the spec is silent: a time zone and a category name are names (64);
    # tags are a list of pairs, so only Swift's ceiling applies.
    "TimeZone": 64,
    "CategoryName": 64,
    "Tags": SWIFT_VALUE_LIMIT,
    "RejectedContentReason": SWIFT_VALUE_LIMIT,
}

# Identifiers are refused rather than cut: a truncated ID would point at nothing.
IDENTIFIER_LIMITS: dict[str, int] = {
    "ContainerName": SWIFT_VALUE_LIMIT,
    "RejectedContentOriginalContainer": SWIFT_VALUE_LIMIT,
    "UserID": 100,
    "BWCSerialNumber": 64,
    "SCUSerialNumber": 64,
    "CategoryID": 64,
}

# Unreserved characters plus ':' (times and tag pairs stay readable); everything else,
# including '%', '+', ';' and non-ASCII, is %XX-encoded.
_SAFE = ":"

ContainerType = Literal["mkv", "mp4"]


class MetadataError(ValueError):
    """A metadata value cannot be encoded within its limits."""


def header_case(name: str) -> str:
    """Capitalise a header name per hyphenated word: first letter upper, the rest lower."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def meta_header(kind: Literal["container", "object"], key: str) -> str:
    """Return the full header name for a metadata key, e.g. X-Object-Meta-Starttimeiso."""
    prefix = CONTAINER_META if kind == "container" else OBJECT_META
    return header_case(prefix + key)


def strip_controls(value: str) -> str:
    """Drop control characters (Cc), which the API forbids, and lone surrogates (no UTF-8)."""
    return "".join(ch for ch in value if unicodedata.category(ch) not in ("Cc", "Cs"))


def encode_value(value: str) -> str:
    """URL-encode a value's UTF-8 bytes (no limit applied)."""
    return quote(strip_controls(value), safe=_SAFE)


def encode_limited(value: str, limit: int) -> str:
    """URL-encode `value`, cut to at most `limit` bytes at a whole-character boundary."""
    if limit < 0:
        raise ValueError("limit must be >= 0")
    out: list[str] = []
    used = 0
    for ch in strip_controls(value):
        piece = quote(ch, safe=_SAFE)
        if used + len(piece) > limit:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out)


def decode_value(value: str) -> str:
    """Decode a URL-encoded metadata value; malformed escapes are kept as they are."""
    return unquote(value, encoding="utf-8", errors="replace")


def limit_for(key: str) -> int:
    """Return the byte limit of the encoded value of `key`."""
    return IDENTIFIER_LIMITS.get(key, KEY_LIMITS.get(key, DEFAULT_LIMIT))


def encode_metadata_value(key: str, value: str) -> str:
    """Encode one value under its key's limit; identifiers that do not fit raise."""
    if key in IDENTIFIER_LIMITS:
        encoded = encode_value(value)
        if len(encoded) > IDENTIFIER_LIMITS[key]:
            raise MetadataError(f"{key} is longer than {IDENTIFIER_LIMITS[key]} bytes encoded")
        return encoded
    return encode_limited(value, limit_for(key))


def metadata_headers(
    kind: Literal["container", "object"], values: Mapping[str, str | None]
) -> dict[str, str]:
    """Build the metadata headers for `values`, skipping keys whose value is None."""
    return {
        meta_header(kind, key): encode_metadata_value(key, value)
        for key, value in values.items()
        if value is not None
    }


def parse_metadata(
    kind: Literal["container", "object"], headers: Iterable[tuple[str, str]]
) -> dict[str, str]:
    """Read metadata back from response headers as {header-cased key: decoded value}."""
    prefix = (CONTAINER_META if kind == "container" else OBJECT_META).lower()
    out: dict[str, str] = {}
    for name, value in headers:
        if name.lower().startswith(prefix) and len(name) > len(prefix):
            out[header_case(name[len(prefix) :])] = decode_value(value)
    return out


def meta_get(meta: Mapping[str, str], key: str) -> str | None:
    """Look up a spec key (e.g. StartTimeISO) in metadata read back with `parse_metadata`."""
    return meta.get(header_case(key))


# --- times -----------------------------------------------------------------------------


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return when.astimezone(UTC)


def rfc3339(when: datetime) -> str:
    """Format as RFC 3339 in UTC with whole seconds, e.g. 2022-08-23T11:48:10Z."""
    return _utc(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(when: datetime) -> str:
    """Format as whole seconds since the Unix epoch (UTC)."""
    return str(math.floor(_utc(when).timestamp()))


def name_time(when: datetime) -> str:
    """Format a time for object names: <date>_<time>, YYYYMMDD_HHMMSS (UTC)."""
    return _utc(when).strftime("%Y%m%d_%H%M%S")


def container_time(when: datetime) -> str:
    """Format a time for recording and rejected-content container names: YYYYMMDDTHHMMSSZ (UTC).

    The spec's form since v1.6.8; before it, containers were named with `name_time`.
    """
    return _utc(when).strftime("%Y%m%dT%H%M%SZ")


_CONTAINER_TIME = re.compile(r"^(\d{8})T(\d{6})Z$")
_LEGACY_TIME = re.compile(r"^(\d{8})_(\d{6})$")


def parse_container_time(text: str) -> datetime | None:
    """Read a container name's time in either form (YYYYMMDDTHHMMSSZ or YYYYMMDD_HHMMSS)."""
    m = _CONTAINER_TIME.match(text) or _LEGACY_TIME.match(text)
    if m is None:
        return None
    try:
        return datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime; raises ValueError."""
    if not _RFC3339.match(text):
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    try:
        return datetime.fromisoformat(text.replace("z", "Z").replace("t", "T")).astimezone(UTC)
    except OverflowError:  # year 1 or 9999 moved off the calendar by its offset
        raise ValueError(f"timestamp out of range: {text!r}") from None


# --- locations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """A GNSS fix: degrees, horizontal accuracy in metres, and when it was taken."""

    latitude: float
    longitude: float
    accuracy_m: float
    time: datetime

    def __post_init__(self) -> None:
        if not (-90.0 <= self.latitude <= 90.0) or not (-180.0 <= self.longitude <= 180.0):
            raise ValueError("latitude/longitude out of range")
        if not math.isfinite(self.accuracy_m) or self.accuracy_m < 0:
            raise ValueError("accuracy must be a finite, non-negative number of metres")
        _utc(self.time)


def location_string(loc: Location) -> str:
    """Format as `<lat><long><accuracy><epoch>`, e.g. `+55.718409+013.221184+5.0+1661255290`."""
    # Every field is signed (ISO 6709 style for lat/long) so the four split unambiguously.
    seconds = int(epoch(loc.time))
    return (
        f"{loc.latitude:+010.6f}{loc.longitude:+011.6f}"
        f"{min(loc.accuracy_m, 99999.9):+.1f}{seconds:+d}"
    )


_LOCATION = re.compile(r"^([+-]\d{2}\.\d+)([+-]\d{3}\.\d+)([+-]\d+\.\d+)([+-]\d+)$")


def parse_location(text: str) -> Location:
    """Parse a string made by `location_string`; raises ValueError."""
    m = _LOCATION.match(text)
    if not m:
        raise ValueError(f"not a location string: {text!r}")
    lat, lon, acc, secs = m.groups()
    try:
        at = datetime.fromtimestamp(int(secs), UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"location time out of range: {text[:64]!r}") from None
    return Location(float(lat), float(lon), float(acc), at)


# --- names -------------------------------------------------------------------------------

_NAME_UNSAFE = re.compile(r"[/\x00-\x1f\x7f]")
REJECTED_PREFIX = "RejectedContent_"
UNKNOWN_TIME = "UnknownTime"


def _name_part(value: str, what: str) -> str:
    if not value or _NAME_UNSAFE.search(value):
        raise MetadataError(f"{what} {value!r} cannot be part of a Swift name")
    return value


def recording_container_name(user_id: str, bwc_serial: str, trigger_on: datetime) -> str:
    """Name a recording's container: <UserID>_<BWCSerialNumber>_<TriggerOnTime>.

    TriggerOnTime is YYYYMMDDTHHMMSSZ (UTC), the spec's form since v1.6.8.
    """
    return (
        f"{_name_part(user_id, 'user ID')}_{_name_part(bwc_serial, 'BWC serial')}"
        f"_{container_time(trigger_on)}"
    )


@dataclass(frozen=True)
class RecordingName:
    """A recording container's name read back: its parts and which time form it used."""

    user_id: str
    bwc_serial: str
    trigger_on: datetime
    legacy: bool


# The serial is the last part without '_' before the time; the user ID is the rest.
_RECORDING_NAME = re.compile(
    r"^(?P<user>.+)_(?P<serial>[^_/]+)_(?P<time>\d{8}T\d{6}Z|\d{8}_\d{6})$"
)


def parse_recording_container_name(name: str) -> RecordingName | None:
    """Read a recording container name in the spec's form or the older one, else None.

    Names are written only in the current form (`recording_container_name`), but
    recordings stored by earlier controllers (or older Axis firmware) keep the
    `<UserID>_<BWCSerialNumber>_<date>_<time>` form, and are read as recordings too.
    """
    if name.startswith(REJECTED_PREFIX):
        return None
    m = _RECORDING_NAME.match(name)
    if m is None:
        return None
    when = parse_container_time(m.group("time"))
    if when is None:
        return None
    return RecordingName(m.group("user"), m.group("serial"), when, "T" not in m.group("time"))


def recording_container_names(
    user_id: str, bwc_serial: str, trigger_on: datetime
) -> tuple[str, str]:
    """Both names a recording's container may have: the spec's form, then the older one."""
    legacy = f"{user_id}_{bwc_serial}_{name_time(trigger_on)}"
    return recording_container_name(user_id, bwc_serial, trigger_on), legacy


def clip_object_name(start: datetime, recording_id: str, container_type: ContainerType) -> str:
    """Name a clip object: <date>_<time>_<RecordingID>.<mkv|mp4>."""
    if container_type not in ("mkv", "mp4"):
        raise MetadataError(f"unknown container type {container_type!r}")
    return f"{name_time(start)}_{_name_part(recording_id, 'recording ID')}.{container_type}"


def key_object_name(content_object_name: str) -> str:
    """Name the `.key` object of an encrypted object: its name with the extension replaced."""
    stem, dot, _ext = content_object_name.rpartition(".")
    return f"{stem if dot else content_object_name}.key"


SIGNATURE_SUFFIX = ".sig"
RECORDING_SIGNATURE_SUFFIX = "_recording.sig"
SIGNATURES_SUFFIX = "_signatures.json"


def signature_object_name(content_object_name: str) -> str:
    """Name the signature object of a clip: its name with the extension replaced by .sig.

    Not an object of the spec's recording: sent only to a CD that publishes
    StoreSignedVideo (docs/integrity.md).
    """
    stem, dot, _ext = content_object_name.rpartition(".")
    return f"{stem if dot else content_object_name}{SIGNATURE_SUFFIX}"


def signatures_object_name(start: datetime, recording_id: str) -> str:
    """Name the object holding a recording's signatures (its statement and each clip's):
    <date>_<time>_<RecordingID>_signatures.json. Sent only to a CD that publishes
    StoreSignedVideo (docs/integrity.md)."""
    return (
        f"{name_time(start)}_{_name_part(recording_id, 'recording ID')}{SIGNATURES_SUFFIX}"
    )


def recording_signature_object_name(start: datetime, recording_id: str) -> str:
    """Name the recording's signed statement: <date>_<time>_<RecordingID>_recording.sig."""
    return (
        f"{name_time(start)}_{_name_part(recording_id, 'recording ID')}"
        f"{RECORDING_SIGNATURE_SUFFIX}"
    )


def gnss_object_name(start: datetime, recording_id: str, bwc_serial: str) -> str:
    """Name a GNSS track object: <date>_<time>_<RecordingID>_<bwcid>_gpstrail.json."""
    return (
        f"{name_time(start)}_{_name_part(recording_id, 'recording ID')}"
        f"_{_name_part(bwc_serial, 'BWC serial')}_gpstrail.json"
    )


def bookmark_object_name(timestamp: datetime, bookmark_id: str) -> str:
    """Name a bookmark object: bookmark_<date>_<time>_<ID>."""
    return f"bookmark_{name_time(timestamp)}_{_name_part(bookmark_id, 'bookmark ID')}"


def rejected_container_name(rejected_at: datetime | None, unique_id: str) -> str:
    """Name a rejected-content container: RejectedContent_<RejectedContentTime>_<UUID>.

    `rejected_at` is when the decision to reject was made (YYYYMMDDTHHMMSSZ, UTC), None
    when it is not known (`UnknownTime`).
    """
    stamp = container_time(rejected_at) if rejected_at is not None else UNKNOWN_TIME
    return f"{REJECTED_PREFIX}{stamp}_{_name_part(unique_id, 'rejected content ID')}"


def is_rejected_container(name: str) -> bool:
    """True for rejected-content container names."""
    return name.startswith(REJECTED_PREFIX)


def parse_rejected_container_time(name: str) -> datetime | None:
    """The decision time in a rejected-content container's name (either form), else None."""
    if not name.startswith(REJECTED_PREFIX):
        return None
    rest = name[len(REJECTED_PREFIX) :]
    m = re.match(r"^(\d{8}T\d{6}Z|\d{8}_\d{6})_", rest)
    return parse_container_time(m.group(1)) if m else None


def tags_value(tags: Mapping[str, str]) -> str:
    """Render tags as `k:v;k:v`; separators inside keys and values are replaced, not lost."""
    pairs = []
    for key, value in tags.items():
        k = key.replace(":", "_").replace(";", "_")
        v = value.replace(";", ",")
        pairs.append(f"{k}:{v}")
    return ";".join(pairs)


def parse_tags(value: str) -> dict[str, str]:
    """Parse a `k:v;k:v` tag string; pairs without ':' get an empty value."""
    out: dict[str, str] = {}
    for pair in value.split(";"):
        if not pair:
            continue
        key, _sep, val = pair.partition(":")
        out[key] = val
    return out
