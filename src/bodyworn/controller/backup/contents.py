"""What a system backup holds, read out of the database and written back into it.

The payload is one JSON object (version 1 of format.py):

- `system_id`, `created_at`: as in the header;
- `identity`: the system identity key pair (what the System restore key holds);
- `settings`: the system's settings as setup decided them (name, language, time, cloud,
  power line frequency, camera assignment mode, listening address);
- `connection_file`: the content destination connection file the system is locked to;
- `notifications`: the email notification settings (None when never set);
- `profiles`, `users`, `tags`, `holster_pairings`, `assignment_settings`: camera profiles,
  body worn users (their uuids are their objects at the CD), self-assign tags, holster
  sensor pairings, the self-assign readiness settings;
- `cameras`: the cameras added to the system and who holds each (fixed assignment);
- `integrity`: the ConnectionId the system is bound to its CD by and its identity as a
  certificate (docs/integrity.md; None before first use, and absent from backups made
  before it was kept: a restored system then gets a new ConnectionId, which a CD that
  holds the old one refuses until its administrator removes it).

No evidence, no audit log, no manager accounts or sessions, API tokens, certificates or
Assistant pairings (they belong to one controller, or are made again). Every section is
checked whole against SCHEMA before anything is written: unknown or missing fields, a
wrong type, are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bodyworn.controller.assignment import service as assignment
from bodyworn.controller.backup.format import BackupFileError, format_utc, is_uuid, parse_utc
from bodyworn.controller.cameras import service as cameras
from bodyworn.controller.destinations import service as destinations
from bodyworn.controller.identity import service as identity
from bodyworn.controller.integrity import service as integrity
from bodyworn.controller.notifications import service as notifications
from bodyworn.controller.profiles import service as profiles
from bodyworn.controller.system import service as system
from bodyworn.controller.users import service as users
from bodyworn.domain.clock import Clock

TIME = "time"  # a UTC time as text, read as a datetime
STR, OPT_STR, INT, BOOL = (str,), (str, type(None)), (int,), (bool,)
NUM, OBJ = (int, float), (dict,)

SETTINGS_FIELDS: dict[str, Any] = {
    "camera_assignment": STR, "cloud_extensions": BOOL, "cloud_location": OPT_STR,
    "language": STR, "listen_host": STR, "listen_port": INT, "ntp_fallback_server": OPT_STR,
    "ntp_server": OPT_STR, "power_line_frequency": INT, "system_name": STR, "time_mode": STR,
    "timezone": STR,
}
ROWS: dict[str, dict[str, Any]] = {
    "profiles": {"is_default": BOOL, "name": STR, "settings": OBJ, "version": INT},
    "users": {"cd_username": OPT_STR, "created_at": TIME, "name": STR, "profile": STR,
              "updated_at": TIME, "user_id": OPT_STR, "uuid": STR},
    "tags": {"tag": STR, "user_uuid": STR},
    "holster_pairings": {"camera_serial": STR, "sensor_serial": STR, "state": STR,
                         "user_uuid": STR},
    "cameras": {"firmware": STR, "model": STR, "serial": STR, "user_uuid": OPT_STR},
}
OBJECTS: dict[str, tuple[dict[str, Any], bool]] = {  # name: (fields, may be null)
    "identity": ({"private_key_pem": STR, "public_key_pem": STR}, False),
    "settings": (SETTINGS_FIELDS, False),
    "notifications": ({"address": OPT_STR, "from_address": OPT_STR, "smtp_ca_pem": OPT_STR,
                       "smtp_host": OPT_STR, "smtp_password": OPT_STR, "smtp_port": INT,
                       "smtp_security": STR, "smtp_username": OPT_STR}, True),
    "assignment_settings": ({"firmware": OPT_STR, "shift_hours": NUM}, True),
    "integrity": ({"certificate_pem": STR, "connection_id": STR}, True),
}
# Sections a backup may lack (made before they were kept): read as null.
OPTIONAL = frozenset({"integrity"})
TOP = frozenset({"system_id", "created_at", "connection_file", *ROWS, *OBJECTS})


@dataclass(frozen=True)
class BackupContents:
    """An opened system backup, checked whole."""

    system_id: str
    created_at: datetime
    sections: Mapping[str, Any]

    @property
    def settings(self) -> dict[str, Any]:
        """The system's settings."""
        return dict(self.sections["settings"])

    @property
    def connection_file(self) -> bytes:
        """The content destination connection file."""
        return str(self.sections["connection_file"]).encode("utf-8")

    @property
    def private_key_pem(self) -> bytes:
        """The identity private key (PKCS8 PEM)."""
        return str(self.sections["identity"]["private_key_pem"]).encode("ascii")

    @property
    def public_key_pem(self) -> bytes:
        """The identity public key (SPKI PEM)."""
        return str(self.sections["identity"]["public_key_pem"]).encode("ascii")

    def count(self, section: str) -> int:
        """How many rows a section holds (users, profiles, …)."""
        return len(self.sections[section])


def snapshot(session: Session, created_at: datetime) -> dict[str, Any]:
    """The payload of a backup of this system now (read in the caller's one transaction,
    so every table is of the same moment)."""
    row = system.current(session)
    signing = identity.signing_identity(session)
    rows = assignment.export_rows(session)
    payload: dict[str, Any] = {
        "system_id": row.system_id,
        "created_at": format_utc(created_at),
        "identity": {"private_key_pem": signing.private_key_pem.decode("ascii"),
                     "public_key_pem": identity.public_key_pem(session)},
        "settings": {key: getattr(row, key) for key in SETTINGS_FIELDS},
        "connection_file": destinations.current_file(session).raw.decode("utf-8-sig"),
        "notifications": notifications.export_settings(session),
        "profiles": profiles.export_rows(session),
        "users": users.export_rows(session),
        "tags": rows["tags"],
        "holster_pairings": rows["holster_pairings"],
        "assignment_settings": rows["assignment_settings"],
        "cameras": cameras.export_assignments(session),
        "integrity": integrity.export_state(session),
    }
    for user in payload["users"]:
        user["created_at"] = format_utc(user["created_at"])
        user["updated_at"] = format_utc(user["updated_at"])
    return payload


def parse(payload: dict[str, Any]) -> BackupContents:
    """Check a decrypted payload whole (BackupFileError names the first fault)."""
    if isinstance(payload, dict):
        payload = {**dict.fromkeys(OPTIONAL - payload.keys()), **payload}
    _fields(payload, {key: () for key in TOP}, "the backup", check_types=False)
    if not isinstance(payload["connection_file"], str):
        raise _damaged("the connection file is not text")
    sections: dict[str, Any] = {"connection_file": payload["connection_file"]}
    for name, (fields, nullable) in OBJECTS.items():
        value = payload[name]
        if value is None and nullable:
            sections[name] = None
            continue
        sections[name] = _fields(value, fields, name)
    for name, fields in ROWS.items():
        value = payload[name]
        if not isinstance(value, list):
            raise _damaged(f"{name} is not a list")
        sections[name] = [_fields(item, fields, f"{name}[{i}]") for i, item in enumerate(value)]
    for user in sections["users"]:
        if not is_uuid(user["uuid"]):
            raise _damaged("a user's uuid is not a UUID")
    created_at = parse_utc(payload["created_at"], "its time")
    return BackupContents(str(payload["system_id"]), created_at, sections)


def restore_data(session: Session, clock: Clock, *, contents: BackupContents) -> None:
    """Write the backup's data part into a system setup has just written (the same
    transaction): profiles, users, tags, holster pairings, readiness and notification
    settings, and the cameras to take back. BackupFileError when the data do not hold."""
    s = contents.sections
    try:
        profiles.import_rows(session, clock, s["profiles"])
        users.import_rows(session, clock, s["users"])
        assignment.import_rows(session, clock, s["tags"], s["holster_pairings"],
                               s["assignment_settings"])
        if s["notifications"] is not None:
            notifications.import_settings(session, clock, s["notifications"])
        cameras.import_assignments(session, clock, s["cameras"], contents.system_id)
        if s["integrity"] is not None:
            integrity.import_state(session, clock, s["integrity"])
    except BackupFileError:
        raise
    except Exception as exc:  # a rule or a constraint: the whole restore is refused
        raise _damaged(f"its data do not hold together ({type(exc).__name__}: {exc})") \
            from exc


def _fields(value: object, fields: Mapping[str, Any], where: str, *,
            check_types: bool = True) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _damaged(f"{where} is not an object")
    if value.keys() != fields.keys():
        raise _damaged(f"{where} does not have the fields of this version")
    out = dict(value)
    if not check_types:
        return out
    for key, kind in fields.items():
        item = value[key]
        if kind == TIME:
            out[key] = parse_utc(item, f"{where}.{key}")
        elif (isinstance(item, bool) and bool not in kind) or not isinstance(item, kind):
            raise _damaged(f"{where}.{key} has the wrong type")
    return out


def _damaged(what: str) -> BackupFileError:
    return BackupFileError(f"The backup file is damaged: {what}.")
