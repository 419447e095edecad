"""What a careful EMS checks before accepting a recording container (answered 400 if not).

A recording must name a user and a camera the CD knows (created through Users/ and
Devices/), carry well-formed times within sane bounds, and be named after them as the
spec says. System, Users, Devices and rejected-content containers are not recordings.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from bodyworn.destination.store import NotFound, ObjectStore
from bodyworn.evidence.metadata import decode_value, name_time, parse_rfc3339

NOT_RECORDINGS = frozenset({"System", "Users", "Devices"})
REJECTED_PREFIX = "RejectedContent_"
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# Camera clocks drift; a recording a little in the future is still plausible.
FUTURE_SLACK = timedelta(days=1)


def is_recording_container(name: str) -> bool:
    """True for containers that hold a recording."""
    return name not in NOT_RECORDINGS and not name.startswith(REJECTED_PREFIX)


def _epoch(meta: Mapping[str, str], key: str) -> datetime:
    value = meta.get(key, "")
    if not value.isdigit():
        raise ValueError(f"{key} is not epoch seconds: {value!r}")
    return datetime.fromtimestamp(int(value), UTC)


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
    if container != f"{user}_{serial}_{name_time(trigger_on)}":
        return "container name does not match UserID, BWCSerialNumber and TriggerOnTime"
    return None
