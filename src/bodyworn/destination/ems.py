"""What a careful EMS checks before accepting a recording (answered 400 if not).

A recording must name a user and a camera the CD knows (created through Users/ and
Devices/), carry well-formed times within sane bounds, and be named after them as the
spec says. System, Users, Devices and rejected-content containers are not recordings.
A container is treated as a recording when its name has the recording shape
(`<UserID>_<BWCSerialNumber>_<TriggerOnTime>`, the time as YYYYMMDDTHHMMSSZ or in the
older YYYYMMDD_HHMMSS form) or its metadata carries a recording key, so renaming cannot
dodge the checks while plain Swift tools may still keep other containers.
Rejected content is accepted only while `StoreRejectedContent` is published.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from bodyworn.cdclient.capabilities import STORE_REJECTED_CONTENT
from bodyworn.destination.store import NotFound, ObjectStore
from bodyworn.evidence.metadata import (
    decode_value,
    is_rejected_container,
    parse_recording_container_name,
    parse_rfc3339,
    recording_container_names,
)

NOT_RECORDINGS = frozenset({"System", "Users", "Devices"})
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# Camera clocks drift; a recording a little in the future is still plausible.
FUTURE_SLACK = timedelta(days=1)

# Lower-cased metadata keys that only a recording container carries.
RECORDING_KEYS = frozenset(
    {"userid", "bwcserialnumber", "triggerontime", "starttime", "stoptime", "status"}
)


def is_recording_container(name: str, meta: Mapping[str, str] | None = None) -> bool:
    """True for containers that hold (or claim to hold) a recording."""
    if name in NOT_RECORDINGS or is_rejected_container(name):
        return False
    if parse_recording_container_name(name) is not None:
        return True
    return any(k.lower() in RECORDING_KEYS for k in (meta or {}))


def rejected_content_allowed(store: ObjectStore, account: str) -> bool:
    """True when the account's published capabilities switch StoreRejectedContent on."""
    try:
        obj = store.get_object(account, "System", "Capabilities.json")
        doc = json.loads(obj.path.read_bytes())
    except (NotFound, OSError, ValueError):
        return False
    if not isinstance(doc, dict):
        return False
    return any(
        isinstance(section, dict) and section.get(STORE_REJECTED_CONTENT) is True
        for section in doc.values()
    )


def _epoch(meta: Mapping[str, str], key: str) -> datetime:
    value = meta.get(key, "")
    # ASCII digits, and few enough of them for a calendar date ("²" is a digit to isdigit).
    if not (value.isascii() and value.isdigit()) or len(value) > 11:
        raise ValueError(f"{key} is not epoch seconds: {value[:32]!r}")
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (OverflowError, OSError):
        raise ValueError(f"{key} is out of range: {value!r}") from None


def recording_problem(
    store: ObjectStore, account: str, container: str, raw_meta: Mapping[str, str], now: datetime
) -> str | None:
    """Why this recording container cannot be stored, or None when it can."""
    # Keys arrive header-cased (Userid); values still URL-encoded.
    meta = {k.lower(): decode_value(v) for k, v in raw_meta.items()}
    user, serial = meta.get("userid", ""), meta.get("bwcserialnumber", "")
    if not user or not serial:
        return "UserID and BWCSerialNumber are required"
    for where, name, what in (("Users", user, "user"), ("Devices", serial, "device")):
        try:
            store.get_object(account, where, name)
        except NotFound:
            return f"unknown {what} {name!r}"
    try:
        trigger_on = _epoch(meta, "triggerontime")
        start, stop = _epoch(meta, "starttime"), _epoch(meta, "stoptime")
        for key in ("triggerontimeiso", "starttimeiso", "stoptimeiso"):
            if key in meta:
                parse_rfc3339(meta[key])
    except ValueError as exc:
        return f"malformed timestamp: {exc}"
    if not EARLIEST <= start <= stop <= now + FUTURE_SLACK:
        return "timestamps out of bounds"
    # Older controllers named containers with the time as YYYYMMDD_HHMMSS: still accepted.
    if container not in recording_container_names(user, serial, trigger_on):
        return "container name does not match UserID, BWCSerialNumber and TriggerOnTime"
    return None
