"""Unattended setup: the answers file (TOML) and its keys."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bodyworn.controller.setup.service import FieldError, SetupAnswers
from bodyworn.domain.connection_file import MAX_FILE_BYTES
from bodyworn.domain.user_files import UserFileError, read_user_file, read_user_text

# An answers file holds a few short lines; a megabyte is far more than any needs.
MAX_ANSWERS_BYTES = 1024 * 1024

# key -> (accepted types, description); documented in docs/setup.md and checked by a test.
ANSWER_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "language": ((str,), "manager language: en or sv (default en)"),
    "root_password": ((str,), "password of the administrator account root (required)"),
    "super_admin_passphrase": ((str,), "Super admin passphrase, cannot be changed (required)"),
    "restore_key_path": ((str,), "where to write the System restore key file (required)"),
    "system_name": ((str,), "name of the system, at most 64 characters (required)"),
    "timezone": ((str,), "IANA time zone (default UTC)"),
    "ntp_server": ((str,), "NTP server; give this or manual_time"),
    "ntp_fallback_server": ((str,), "NTP fallback server (optional)"),
    "manual_time": ((bool, datetime), "true: keep the host time; or a date-time with offset"),
    "cloud_extensions": ((bool,), "turn cloud extensions on (default false)"),
    "cloud_location": ((str,), "global, eu-de or us-east; required with cloud extensions"),
    "connection_file": ((str,), "path of the content destination connection file (required)"),
    "power_line_frequency": ((int,), "50 or 60 (default 50)"),
    "camera_assignment": ((str,), "fixed or self-assign (default fixed)"),
    "listen_host": ((str,), "listening address (default 127.0.0.1)"),
    "listen_port": ((int,), "listening port (default 8443)"),
    "restore_key": ((str,), "restore: path of the old system's System restore key"),
    "restore_backup": ((str,), "restore: path of a system backup file (settings come from it)"),
    "firmware_file": ((str,), "path of a signed firmware file to install with the system"),
}
REQUIRED = ("root_password", "super_admin_passphrase", "restore_key_path", "system_name",
            "connection_file")
# With restore_backup, the system's settings come from the backup: these may not be given.
FROM_BACKUP = ("language", "system_name", "timezone", "ntp_server", "ntp_fallback_server",
               "manual_time", "cloud_extensions", "cloud_location", "connection_file",
               "power_line_frequency", "camera_assignment", "restore_key_path")
MAX_RESTORE_FILE = 64 * 1024 * 1024


@dataclass
class LoadedAnswers:
    """Answers read from a file, where to write the restore key, and any problems."""

    answers: SetupAnswers
    restore_key_path: Path | None
    errors: list[FieldError]
    # What to restore from (restore_key / restore_backup), as read.
    restore_key: bytes | None = None
    restore_backup: bytes | None = None
    # A firmware file to install with the system (read and checked by the caller).
    firmware_path: Path | None = None


def _restore_files(data: dict[str, Any], base: Path, errors: list[FieldError]
                   ) -> tuple[bytes | None, bytes | None]:
    """Read restore_key or restore_backup (not both), checking what they exclude."""
    found: dict[str, bytes | None] = {"restore_key": None, "restore_backup": None}
    if "restore_key" in data and "restore_backup" in data:
        errors.append(FieldError("restore_backup", "give restore_key or restore_backup, not both"))
    for key in found:
        value = data.get(key)
        if not isinstance(value, str):
            continue
        path = (base / value) if not Path(value).is_absolute() else Path(value)
        try:
            with path.open("rb") as handle:
                found[key] = handle.read(MAX_RESTORE_FILE + 1)
        except OSError as exc:
            errors.append(FieldError(key, f"cannot be read: {exc.strerror}"))
    if "restore_key" in data and "restore_key_path" in data:
        errors.append(FieldError("restore_key_path", "is not used when restoring: the "
                                                     "System restore key stays valid"))
    if "restore_backup" in data:
        errors.extend(FieldError(key, "comes from the system backup; leave it out")
                      for key in FROM_BACKUP if key in data)
    return found["restore_key"], found["restore_backup"]


def load_answers(path: Path, host_now: datetime | None = None) -> LoadedAnswers:
    """Read an answers file; every problem is listed, none raised."""
    errors: list[FieldError] = []
    answers = SetupAnswers()
    try:
        text = read_user_text(path, limit=MAX_ANSWERS_BYTES, what="answers file")
        data: dict[str, Any] = tomllib.loads(text)
    except UserFileError as exc:
        return LoadedAnswers(answers, None, [FieldError("answers", str(exc))])
    except tomllib.TOMLDecodeError as exc:
        return LoadedAnswers(answers, None, [FieldError("answers", f"is not TOML: {exc}")])
    for key in sorted(set(data) - set(ANSWER_KEYS)):
        errors.append(FieldError(key, "is not a known answer"))
    restoring = "restore_key" in data or "restore_backup" in data
    for key in REQUIRED:
        skip = (restoring and key == "restore_key_path") or \
            ("restore_backup" in data and key in FROM_BACKUP)
        if key not in data and not skip:
            errors.append(FieldError(key, "is required"))
    for key, value in data.items():
        if key not in ANSWER_KEYS:
            continue
        types, _ = ANSWER_KEYS[key]
        # bool is an int in Python; an answer of true for a port is still wrong.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            errors.append(FieldError(key, f"must be of type {names}"))
            data[key] = None
    base = path.parent

    def get(key: str) -> Any:
        return data.get(key)

    for key in ("language", "root_password", "super_admin_passphrase", "system_name",
                "timezone", "ntp_server", "ntp_fallback_server", "cloud_location",
                "camera_assignment", "listen_host"):
        if get(key) is not None:
            setattr(answers, key, get(key))
    for key in ("power_line_frequency", "listen_port"):
        if get(key) is not None:
            setattr(answers, key, get(key))
    if get("cloud_extensions") is not None:
        answers.cloud_extensions = get("cloud_extensions")
    manual = get("manual_time")
    if manual is True or isinstance(manual, datetime):
        if "ntp_server" in data:
            errors.append(FieldError("manual_time", "give either ntp_server or manual_time"))
        answers.time_mode = "manual"
        if isinstance(manual, datetime):
            answers.manual_time = manual
        else:
            answers.manual_time = host_now or datetime.now(UTC)
    elif "ntp_server" not in data and "restore_backup" not in data:
        errors.append(FieldError("ntp_server", "give ntp_server or manual_time = true"))
    cf = get("connection_file")
    if isinstance(cf, str):
        cf_path = (base / cf) if not Path(cf).is_absolute() else Path(cf)
        try:
            answers.connection_file = read_user_file(cf_path, limit=MAX_FILE_BYTES,
                                                     what="connection file")
        except UserFileError as exc:
            errors.append(FieldError("connection_file", str(exc)))
            answers.connection_file = b""
    rk = get("restore_key_path")
    restore_path = None
    if isinstance(rk, str):
        restore_path = (base / rk) if not Path(rk).is_absolute() else Path(rk)
        if restore_path.exists():
            errors.append(FieldError("restore_key_path", "already exists; will not overwrite"))
    restore_key, restore_backup = _restore_files(data, base, errors)
    fw = get("firmware_file")
    firmware_path = ((base / fw) if not Path(fw).is_absolute() else Path(fw)) \
        if isinstance(fw, str) else None
    return LoadedAnswers(answers, restore_path, errors, restore_key, restore_backup,
                         firmware_path)
