"""The System backup file: the system's configuration sealed under the Super admin passphrase.

The file is one line of UTF-8 JSON in canonical form (keys sorted, no spaces, a final
newline), version 1:

    {"cipher": {"name": "AES-256-GCM", "nonce": <base64, 12 bytes>},
     "ciphertext": <base64 of AES-GCM(payload) || tag>,
     "created_at": <RFC 3339, UTC>,
     "format": "bodyworn-system-backup",
     "kdf": {"name": "argon2id", "passphrase_normalization": "NFKC", "salt": <base64, 16>,
             "iterations": 3, "lanes": 4, "memory_cost_kib": 65536, "key_length": 32},
     "system_id": <UUID>,
     "version": 1}

Everything but the ciphertext is the associated data of the seal, so no header value can
change unnoticed, and only the canonical bytes of what was parsed are accepted, so no byte
can change in the layout either. The payload (contents.py) repeats the system ID and the
time, which must match the header.

The key is Argon2id of the passphrase and the salt. A controller derives it once, when an
administrator configures the backup with the passphrase, and keeps only the derived key,
sealed with its secrets key: the backup runs unattended every day, and the salt stays the
same so that the stored key keeps opening what it seals. Whoever restores needs the
passphrase again.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from bodyworn.controller.identity.keys import normalize_passphrase
from bodyworn.controller.identity.restore_key import DEFAULT_KDF, KdfParams

FORMAT_NAME = "bodyworn-system-backup"
FORMAT_VERSION = 1
KDF_NAME = "argon2id"
NORMALIZATION_FORM = "NFKC"
CIPHER_NAME = "AES-256-GCM"
SALT_LENGTH = 16
NONCE_LENGTH = 12
KEY_LENGTH = 32
# Tens of thousands of users fit many times over; a bigger file is not one of ours.
MAX_FILE_SIZE = 64 * 1024 * 1024
_MAX_ITERATIONS = 32
_MAX_LANES = 64
_MAX_MEMORY_COST_KIB = 1024 * 1024

_FIELDS = frozenset({"cipher", "ciphertext", "created_at", "format", "kdf", "system_id",
                     "version"})
_KDF_FIELDS = frozenset({"name", "passphrase_normalization", "salt", "iterations", "lanes",
                         "memory_cost_kib", "key_length"})
_CIPHER_FIELDS = frozenset({"name", "nonce"})

NOT_A_BACKUP = "This is not a system backup file."
DECRYPT_FAILED = "The Super admin passphrase is wrong, or the backup file was changed."


class BackupFileError(ValueError):
    """A backup file that cannot be opened; the message is fit to show a person."""


@dataclass(frozen=True)
class BackupKey:
    """The derived key and what derives it again from the passphrase."""

    key: bytes
    salt: bytes
    kdf: KdfParams = DEFAULT_KDF


@dataclass(frozen=True)
class Header:
    """What a backup file says of itself before it is opened."""

    system_id: str
    created_at: datetime
    salt: bytes
    kdf: KdfParams


def derive_key(passphrase: str, salt: bytes | None = None,
               kdf: KdfParams = DEFAULT_KDF) -> BackupKey:
    """The backup key of `passphrase` (a new salt unless one is given)."""
    salt = os.urandom(SALT_LENGTH) if salt is None else salt
    key = Argon2id(salt=salt, length=KEY_LENGTH, iterations=kdf.iterations, lanes=kdf.lanes,
                   memory_cost=kdf.memory_cost_kib).derive(
        normalize_passphrase(passphrase).encode("utf-8"))
    return BackupKey(key, salt, kdf)


def canonical(obj: object) -> bytes:
    """The one byte form of a JSON value this format writes and accepts."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def seal(payload: dict[str, Any], key: BackupKey, *, system_id: str,
         created_at: datetime) -> bytes:
    """The bytes of a backup file holding `payload` (which names the same system and time)."""
    nonce = os.urandom(NONCE_LENGTH)
    header: dict[str, Any] = {
        "cipher": {"name": CIPHER_NAME, "nonce": _b64(nonce)},
        "created_at": format_utc(created_at),
        "format": FORMAT_NAME,
        "kdf": _kdf_header(key.salt, key.kdf),
        "system_id": system_id,
        "version": FORMAT_VERSION,
    }
    ciphertext = AESGCM(key.key).encrypt(nonce, canonical(payload), canonical(header))
    data = canonical({**header, "ciphertext": _b64(ciphertext)}) + b"\n"
    if len(data) > MAX_FILE_SIZE:
        raise ValueError(f"the backup would exceed {MAX_FILE_SIZE} bytes")
    return data


def read_header(data: bytes) -> tuple[Header, dict[str, Any]]:
    """Check the file's form whole (not its seal): its header, and the envelope parsed."""
    if len(data) > MAX_FILE_SIZE:
        raise BackupFileError(f"{NOT_A_BACKUP} It is larger than {MAX_FILE_SIZE} bytes.")
    try:
        envelope = json.loads(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BackupFileError(f"{NOT_A_BACKUP} (It is not JSON, or it was cut short.)") from None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT_NAME:
        raise BackupFileError(NOT_A_BACKUP)
    version = envelope.get("version")
    if version != FORMAT_VERSION or not _is_int(version):
        raise BackupFileError(f"This backup file has version {version!r}; this controller "
                              f"reads version {FORMAT_VERSION}.")
    _expect(envelope, _FIELDS, "the file")
    if data != canonical(envelope) + b"\n":
        raise BackupFileError("The backup file was changed (it is not in the form it was "
                              "written in).")
    system_id = envelope["system_id"]
    if not isinstance(system_id, str) or not is_uuid(system_id):
        raise BackupFileError("The backup file is damaged: its system ID is not a UUID.")
    salt, kdf = _parse_kdf(envelope["kdf"])
    _parse_cipher(envelope["cipher"])
    _b64_field(envelope["ciphertext"], "the ciphertext")
    created_at = parse_utc(envelope["created_at"], "its time")
    return Header(system_id, created_at, salt, kdf), envelope


def open_sealed(data: bytes, passphrase: str) -> tuple[Header, dict[str, Any]]:
    """Check and decrypt a backup file: its header and its payload (a JSON object)."""
    header, envelope = read_header(data)
    key = derive_key(passphrase, header.salt, header.kdf)
    return header, open_with_key(envelope, key.key)


def open_with_key(envelope: dict[str, Any], key: bytes) -> dict[str, Any]:
    """Decrypt a checked envelope with the derived key."""
    nonce = _b64_field(envelope["cipher"]["nonce"], "the nonce")
    ciphertext = _b64_field(envelope["ciphertext"], "the ciphertext")
    aad = canonical({k: v for k, v in envelope.items() if k != "ciphertext"})
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise BackupFileError(DECRYPT_FAILED) from None
    try:
        payload = json.loads(plaintext.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BackupFileError("The backup file is damaged: its content is not JSON.") from None
    if not isinstance(payload, dict) or plaintext != canonical(payload):
        raise BackupFileError("The backup file is damaged: its content is not in canonical "
                              "form.")
    if payload.get("system_id") != envelope["system_id"] or \
            payload.get("created_at") != envelope["created_at"]:
        raise BackupFileError("The backup file is damaged: its content names another system "
                              "or time than its header.")
    return payload


def _kdf_header(salt: bytes, kdf: KdfParams) -> dict[str, Any]:
    return {"iterations": kdf.iterations, "key_length": KEY_LENGTH, "lanes": kdf.lanes,
            "memory_cost_kib": kdf.memory_cost_kib, "name": KDF_NAME,
            "passphrase_normalization": NORMALIZATION_FORM, "salt": _b64(salt)}


def _parse_kdf(value: object) -> tuple[bytes, KdfParams]:
    if not isinstance(value, dict):
        raise BackupFileError("The backup file is damaged: kdf is not an object.")
    _expect(value, _KDF_FIELDS, "kdf")
    if value["name"] != KDF_NAME or value["passphrase_normalization"] != NORMALIZATION_FORM \
            or value["key_length"] != KEY_LENGTH:
        raise BackupFileError("The backup file uses a key derivation this controller does "
                              "not know.")
    for name in ("iterations", "lanes", "memory_cost_kib"):
        if not _is_int(value[name]):
            raise BackupFileError(f"The backup file is damaged: kdf {name} is not a number.")
    kdf = KdfParams(value["iterations"], value["lanes"], value["memory_cost_kib"])
    if not (1 <= kdf.iterations <= _MAX_ITERATIONS and 1 <= kdf.lanes <= _MAX_LANES
            and 8 * kdf.lanes <= kdf.memory_cost_kib <= _MAX_MEMORY_COST_KIB):
        raise BackupFileError("The backup file asks for key derivation costs out of bounds.")
    salt = _b64_field(value["salt"], "the salt")
    if len(salt) != SALT_LENGTH:
        raise BackupFileError("The backup file is damaged: its salt has the wrong length.")
    return salt, kdf


def _parse_cipher(value: object) -> None:
    if not isinstance(value, dict):
        raise BackupFileError("The backup file is damaged: cipher is not an object.")
    _expect(value, _CIPHER_FIELDS, "cipher")
    if value["name"] != CIPHER_NAME:
        raise BackupFileError("The backup file uses a cipher this controller does not know.")
    if len(_b64_field(value["nonce"], "the nonce")) != NONCE_LENGTH:
        raise BackupFileError("The backup file is damaged: its nonce has the wrong length.")


def _expect(obj: dict[str, Any], expected: frozenset[str], where: str) -> None:
    if obj.keys() != expected:
        missing = sorted(expected - obj.keys())
        extra = sorted(obj.keys() - expected)
        said = "; ".join(part for part in (
            f"lacks {', '.join(missing)}" if missing else "",
            f"has unknown {', '.join(extra)}" if extra else "") if part)
        raise BackupFileError(f"The backup file is damaged: {where} {said}.")


def is_uuid(text: str) -> bool:
    """A UUID in its canonical lower-case form."""
    try:
        return str(uuid.UUID(text)) == text
    except (ValueError, TypeError, AttributeError):
        return False


def format_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_utc(value: object, what: str) -> datetime:
    """An RFC 3339 time as format_utc writes it (BackupFileError otherwise)."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None and format_utc(moment) == value:
            return moment.astimezone(UTC)
    raise BackupFileError(f"The backup file is damaged: {what} is not a UTC time.")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64_field(value: object, what: str) -> bytes:
    """Base64 in its one canonical spelling (unused bits zero, padded)."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = None
        if raw is not None and _b64(raw) == value:
            return raw
    raise BackupFileError(f"The backup file is damaged: {what} is not base64.")
