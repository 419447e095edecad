"""The System restore key: the identity key pair sealed under the super admin passphrase.

The file is UTF-8 JSON, an envelope of version 1:

    {
      "format": "bodyworn-restore-key",
      "version": 1,
      "kdf": {"name": "argon2id", "passphrase_normalization": "NFKC",
              "salt": <base64, 16 bytes>, "iterations": 3, "lanes": 4,
              "memory_cost_kib": 65536, "key_length": 32},
      "cipher": {"name": "AES-256-GCM", "nonce": <base64, 12 bytes>},
      "ciphertext": <base64 of AES-GCM(ciphertext || tag)>
    }

The plaintext is UTF-8 JSON: system_id, system_name, created_at (RFC 3339, UTC),
identity_private_key_pem (PKCS8), identity_public_key_pem (SubjectPublicKeyInfo).
Every header field (format, version, kdf, cipher) is bound as GCM associated data, in
the canonical JSON form produced by `_associated_data`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from bodyworn.controller.identity.keys import (
    KEY_TYPE,
    keypair_matches,
    normalize_passphrase,
    public_key_fingerprint,
    validate_passphrase,
)
from bodyworn.domain import strict_json

FORMAT_NAME = "bodyworn-restore-key"
FORMAT_VERSION = 1
KDF_NAME = "argon2id"
NORMALIZATION_FORM = "NFKC"
CIPHER_NAME = "AES-256-GCM"
SALT_LENGTH = 16
NONCE_LENGTH = 12
KEY_LENGTH = 32
MAX_FILE_SIZE = 64 * 1024

# A crafted file must not make `inspect` or a restore allocate gigabytes or spin for
# minutes, so parameters read from a file are capped; these caps leave room to raise
# the defaults later without a new format version.
_MAX_ITERATIONS = 32
_MAX_LANES = 64
_MAX_MEMORY_COST_KIB = 1024 * 1024

_ENVELOPE_FIELDS = frozenset({"format", "version", "kdf", "cipher", "ciphertext"})
_KDF_FIELDS = frozenset(
    {
        "name",
        "passphrase_normalization",
        "salt",
        "iterations",
        "lanes",
        "memory_cost_kib",
        "key_length",
    }
)
_CIPHER_FIELDS = frozenset({"name", "nonce"})
_PAYLOAD_FIELDS = frozenset(
    {
        "system_id",
        "system_name",
        "created_at",
        "identity_private_key_pem",
        "identity_public_key_pem",
    }
)

DECRYPT_FAILED = "wrong passphrase (or the file was altered)"
NOT_A_RESTORE_KEY = "not a bodyworn restore key file"


class RestoreKeyError(ValueError):
    """A restore key file that cannot be opened; the message is fit to show a person."""


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters of a restore key."""

    iterations: int = 3
    lanes: int = 4
    memory_cost_kib: int = 64 * 1024


DEFAULT_KDF = KdfParams()


@dataclass(frozen=True)
class RestoreKeyContents:
    """What an opened restore key holds."""

    system_id: str
    system_name: str
    created_at: datetime
    private_key_pem: bytes = field(repr=False)
    public_key_pem: bytes


def seal_restore_key(
    *,
    private_key_pem: bytes,
    public_key_pem: bytes,
    system_id: str,
    system_name: str,
    created_at: datetime,
    passphrase: str,
    kdf: KdfParams = DEFAULT_KDF,
) -> bytes:
    """Return the bytes of a restore key file sealing the identity under the passphrase."""
    problems = validate_passphrase(passphrase)
    if problems:
        raise ValueError(" ".join(problems))
    if created_at.tzinfo is None or created_at.utcoffset() is None:
        raise ValueError("created_at must be timezone-aware")
    if not _is_canonical_uuid(system_id):
        raise ValueError(f"system ID {system_id!r} is not a UUID in canonical form")
    if not keypair_matches(private_key_pem, public_key_pem):
        raise ValueError("the public key does not belong to the private key")
    problem = _kdf_params_problem(kdf)
    if problem:
        raise ValueError(problem)

    payload = {
        "system_id": system_id,
        "system_name": system_name,
        "created_at": _format_utc(created_at),
        "identity_private_key_pem": private_key_pem.decode("ascii"),
        "identity_public_key_pem": public_key_pem.decode("ascii"),
    }
    salt = os.urandom(SALT_LENGTH)
    nonce = os.urandom(NONCE_LENGTH)
    kdf_header = _kdf_header(salt, kdf)
    cipher_header = {"name": CIPHER_NAME, "nonce": _b64(nonce)}
    aad = _associated_data(FORMAT_NAME, FORMAT_VERSION, kdf_header, cipher_header)
    key = _derive_key(passphrase, salt, kdf)
    ciphertext = AESGCM(key).encrypt(
        nonce, json.dumps(payload, ensure_ascii=False).encode("utf-8"), aad
    )
    envelope = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kdf": kdf_header,
        "cipher": cipher_header,
        "ciphertext": _b64(ciphertext),
    }
    data = (json.dumps(envelope, indent=2) + "\n").encode("utf-8")
    if len(data) > MAX_FILE_SIZE:
        # Never hand out a file that open_restore_key would refuse.
        raise ValueError(f"the restore key would exceed {MAX_FILE_SIZE} bytes")
    return data


def open_restore_key(data: bytes, passphrase: str) -> RestoreKeyContents:
    """Decrypt and validate a restore key file, raising RestoreKeyError when it cannot."""
    if len(data) > MAX_FILE_SIZE:
        raise RestoreKeyError(
            f"{NOT_A_RESTORE_KEY}: too large ({len(data)} bytes; the limit is {MAX_FILE_SIZE})"
        )
    try:
        envelope = strict_json.loads(data)
    except strict_json.JsonRefused:
        raise RestoreKeyError(f"{NOT_A_RESTORE_KEY} (it is not UTF-8 JSON)") from None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT_NAME:
        raise RestoreKeyError(NOT_A_RESTORE_KEY)

    version = envelope.get("version")
    if not _is_int(version):
        raise RestoreKeyError("malformed restore key: the version is not an integer")
    if version != FORMAT_VERSION:
        raise RestoreKeyError(f"unsupported restore key version {version}")
    _expect_fields(envelope, _ENVELOPE_FIELDS, "the envelope")

    salt, kdf = _parse_kdf(envelope["kdf"])
    nonce = _parse_cipher(envelope["cipher"])
    ciphertext = _b64_field(envelope["ciphertext"], "ciphertext")
    cipher_header = {"name": CIPHER_NAME, "nonce": _b64(nonce)}
    aad = _associated_data(FORMAT_NAME, FORMAT_VERSION, _kdf_header(salt, kdf), cipher_header)

    key = _derive_key(passphrase, salt, kdf)
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise RestoreKeyError(DECRYPT_FAILED) from None
    return _parse_payload(plaintext)


def describe(contents: RestoreKeyContents) -> dict[str, str]:
    """Return the displayable facts of a restore key, never its private key."""
    return {
        "System ID": contents.system_id,
        "System name": contents.system_name,
        "Created at": _format_utc(contents.created_at),
        "Key type": KEY_TYPE,
        "Public key fingerprint (SHA-256)": public_key_fingerprint(contents.public_key_pem),
    }


def _derive_key(passphrase: str, salt: bytes, kdf: KdfParams) -> bytes:
    return Argon2id(
        salt=salt,
        length=KEY_LENGTH,
        iterations=kdf.iterations,
        lanes=kdf.lanes,
        memory_cost=kdf.memory_cost_kib,
    ).derive(normalize_passphrase(passphrase).encode("utf-8"))


def _kdf_header(salt: bytes, kdf: KdfParams) -> dict[str, Any]:
    return {
        "name": KDF_NAME,
        "passphrase_normalization": NORMALIZATION_FORM,
        "salt": _b64(salt),
        "iterations": kdf.iterations,
        "lanes": kdf.lanes,
        "memory_cost_kib": kdf.memory_cost_kib,
        "key_length": KEY_LENGTH,
    }


def _associated_data(
    format_name: str, version: int, kdf_header: dict[str, Any], cipher_header: dict[str, Any]
) -> bytes:
    # Canonical JSON, so re-indenting the file does not break it but changing any value does.
    header = {"format": format_name, "version": version, "kdf": kdf_header, "cipher": cipher_header}
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _parse_kdf(value: object) -> tuple[bytes, KdfParams]:
    if not isinstance(value, dict):
        raise RestoreKeyError("malformed restore key: kdf is not an object")
    _expect_fields(value, _KDF_FIELDS, "kdf")
    if value["name"] != KDF_NAME:
        raise RestoreKeyError(f"malformed restore key: unsupported KDF {value['name']!r}")
    if value["passphrase_normalization"] != NORMALIZATION_FORM:
        raise RestoreKeyError(
            "malformed restore key: unsupported passphrase normalization"
            f" {value['passphrase_normalization']!r}"
        )
    if value["key_length"] != KEY_LENGTH or not _is_int(value["key_length"]):
        raise RestoreKeyError(f"malformed restore key: kdf key_length must be {KEY_LENGTH}")
    salt = _b64_field(value["salt"], "kdf salt")
    if len(salt) != SALT_LENGTH:
        raise RestoreKeyError(f"malformed restore key: the salt must be {SALT_LENGTH} bytes")
    for name in ("iterations", "lanes", "memory_cost_kib"):
        if not _is_int(value[name]):
            raise RestoreKeyError(f"malformed restore key: kdf {name} is not an integer")
    params = KdfParams(
        iterations=value["iterations"],
        lanes=value["lanes"],
        memory_cost_kib=value["memory_cost_kib"],
    )
    problem = _kdf_params_problem(params)
    if problem:
        raise RestoreKeyError(f"malformed restore key: {problem}")
    return salt, params


def _kdf_params_problem(kdf: KdfParams) -> str | None:
    if not 1 <= kdf.iterations <= _MAX_ITERATIONS:
        return f"kdf iterations must be 1..{_MAX_ITERATIONS}"
    if not 1 <= kdf.lanes <= _MAX_LANES:
        return f"kdf lanes must be 1..{_MAX_LANES}"
    # Argon2 needs at least 8 KiB per lane.
    if not 8 * kdf.lanes <= kdf.memory_cost_kib <= _MAX_MEMORY_COST_KIB:
        return f"kdf memory_cost_kib must be {8 * kdf.lanes}..{_MAX_MEMORY_COST_KIB}"
    return None


def _parse_cipher(value: object) -> bytes:
    if not isinstance(value, dict):
        raise RestoreKeyError("malformed restore key: cipher is not an object")
    _expect_fields(value, _CIPHER_FIELDS, "cipher")
    if value["name"] != CIPHER_NAME:
        raise RestoreKeyError(f"malformed restore key: unsupported cipher {value['name']!r}")
    nonce = _b64_field(value["nonce"], "cipher nonce")
    if len(nonce) != NONCE_LENGTH:
        raise RestoreKeyError(f"malformed restore key: the nonce must be {NONCE_LENGTH} bytes")
    return nonce


def _parse_payload(plaintext: bytes) -> RestoreKeyContents:
    # Authenticated, so only a buggy or foreign writer gets here with bad content; still,
    # nothing is handed back that a restore could not use.
    try:
        payload = strict_json.loads(plaintext)
    except strict_json.JsonRefused:
        raise RestoreKeyError("malformed restore key: the sealed content is not JSON") from None
    if not isinstance(payload, dict):
        raise RestoreKeyError("malformed restore key: the sealed content is not an object")
    _expect_fields(payload, _PAYLOAD_FIELDS, "the sealed content")
    for name in _PAYLOAD_FIELDS:
        if not isinstance(payload[name], str):
            raise RestoreKeyError(f"malformed restore key: {name} is not a string")
    if not _is_canonical_uuid(payload["system_id"]):
        raise RestoreKeyError("malformed restore key: the system ID is not a UUID")
    created_at = _parse_utc(payload["created_at"])
    private_pem = payload["identity_private_key_pem"].encode("utf-8")
    public_pem = payload["identity_public_key_pem"].encode("utf-8")
    try:
        matches = keypair_matches(private_pem, public_pem)
    except ValueError as exc:
        raise RestoreKeyError(f"malformed restore key: {exc}") from None
    if not matches:
        raise RestoreKeyError(
            "malformed restore key: the public key does not match the private key"
        )
    return RestoreKeyContents(
        system_id=payload["system_id"],
        system_name=payload["system_name"],
        created_at=created_at,
        private_key_pem=private_pem,
        public_key_pem=public_pem,
    )


def _expect_fields(obj: dict[str, Any], expected: frozenset[str], where: str) -> None:
    missing = sorted(expected - obj.keys())
    if missing:
        raise RestoreKeyError(f"malformed restore key: {where} lacks {', '.join(missing)}")
    extra = sorted(obj.keys() - expected)
    if extra:
        raise RestoreKeyError(f"malformed restore key: {where} has unknown {', '.join(extra)}")


def _is_canonical_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except (ValueError, TypeError, AttributeError):
        return False


def _format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_utc(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RestoreKeyError("malformed restore key: created_at is not RFC 3339") from None
    if moment.tzinfo is None:
        raise RestoreKeyError("malformed restore key: created_at has no time zone")
    return moment.astimezone(UTC)


def _is_int(value: object) -> bool:
    # JSON true/false arrive as bool, a subclass of int.
    return isinstance(value, int) and not isinstance(value, bool)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64_field(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise RestoreKeyError(f"malformed restore key: {name} is not a string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RestoreKeyError(f"malformed restore key: {name} is not base64") from None
    if _b64(raw) != value:
        # Base64 has spare bits; only the one spelling we write is read, so no changed
        # character decodes to the same bytes.
        raise RestoreKeyError(f"malformed restore key: {name} is not base64 as written")
    return raw
