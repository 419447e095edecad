"""The backup file format: sealed with the passphrase, every changed or missing byte refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bodyworn.controller.backup import format as fmt
from bodyworn.controller.backup.format import BackupFileError
from bodyworn.controller.identity.restore_key import KdfParams

PASSPHRASE = "a long super admin passphrase"
SYSTEM_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
WHEN = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
# Cheap costs so that every byte of a file can be tried; the real ones are DEFAULT_KDF.
FAST = KdfParams(iterations=1, lanes=1, memory_cost_kib=8)


def _payload(**more: object) -> dict[str, object]:
    return {"system_id": SYSTEM_ID, "created_at": fmt.format_utc(WHEN), "users": ["Å"],
            **more}


def _sealed(kdf: KdfParams = FAST, **more: object) -> bytes:
    key = fmt.derive_key(PASSPHRASE, kdf=kdf)
    return fmt.seal(_payload(**more), key, system_id=SYSTEM_ID, created_at=WHEN)


def test_sealed_backup_opens_with_the_passphrase_only() -> None:
    data = _sealed()
    header, payload = fmt.open_sealed(data, PASSPHRASE)
    assert payload == _payload()
    assert header.system_id == SYSTEM_ID and header.created_at == WHEN
    assert PASSPHRASE.encode() not in data and b"users" not in data  # the content is sealed
    with pytest.raises(BackupFileError, match="passphrase is wrong"):
        fmt.open_sealed(data, PASSPHRASE + "!")


def test_the_default_costs_are_the_restore_keys() -> None:
    data = _sealed(kdf=fmt.DEFAULT_KDF)
    envelope = json.loads(data)
    assert envelope["kdf"]["memory_cost_kib"] == 65536 and envelope["kdf"]["iterations"] == 3
    assert fmt.open_sealed(data, PASSPHRASE)[1] == _payload()


def test_the_stored_key_opens_what_the_passphrase_opens() -> None:
    key = fmt.derive_key(PASSPHRASE, kdf=FAST)
    again = fmt.derive_key(PASSPHRASE, key.salt, FAST)
    assert again.key == key.key
    assert fmt.derive_key(PASSPHRASE, kdf=FAST).salt != key.salt  # a new salt each time


def test_every_flipped_byte_is_refused() -> None:
    data = _sealed()
    for i in range(len(data)):
        for bit in (0x01, 0x20):
            changed = bytearray(data)
            changed[i] ^= bit
            with pytest.raises(BackupFileError):
                fmt.open_sealed(bytes(changed), PASSPHRASE)


def test_every_truncation_is_refused() -> None:
    data = _sealed()
    for end in range(len(data) - 1):  # the final newline is part of the canonical form
        with pytest.raises(BackupFileError):
            fmt.open_sealed(data[:end], PASSPHRASE)


def test_a_reformatted_file_is_refused_though_its_values_are_the_same() -> None:
    data = _sealed()
    pretty = json.dumps(json.loads(data), indent=2).encode()
    with pytest.raises(BackupFileError, match="changed"):
        fmt.open_sealed(pretty, PASSPHRASE)


def _resealed(data: bytes, change: dict[str, object]) -> bytes:
    envelope = json.loads(data)
    envelope.update(change)
    return fmt.canonical(envelope) + b"\n"


@pytest.mark.parametrize(("change", "message"), [
    ({"version": 2}, "version 2"),
    ({"format": "bodyworn-restore-key"}, "not a system backup"),
    ({"extra": 1}, "unknown extra"),
    ({"system_id": SYSTEM_ID.upper()}, "not a UUID"),
    ({"created_at": "2026-11-27T09:30:00+00:00"}, "not a UTC time"),
    ({"kdf": {"name": "scrypt"}}, "lacks"),
    ({"cipher": {"name": "AES-256-GCM", "nonce": "AAAA"}}, "nonce"),
])
def test_header_faults_are_named(change: dict[str, object], message: str) -> None:
    with pytest.raises(BackupFileError, match=message):
        fmt.open_sealed(_resealed(_sealed(), change), PASSPHRASE)


def test_a_header_value_changed_in_canonical_form_fails_the_seal() -> None:
    other = "0f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
    with pytest.raises(BackupFileError, match="passphrase is wrong, or the backup file"):
        fmt.open_sealed(_resealed(_sealed(), {"system_id": other}), PASSPHRASE)


def test_costs_out_of_bounds_are_refused_before_any_work() -> None:
    envelope = json.loads(_sealed())
    envelope["kdf"]["memory_cost_kib"] = 64 * 1024 * 1024
    with pytest.raises(BackupFileError, match="out of bounds"):
        fmt.open_sealed(fmt.canonical(envelope) + b"\n", PASSPHRASE)


def test_payload_must_name_the_headers_system_and_time() -> None:
    key = fmt.derive_key(PASSPHRASE, kdf=FAST)
    data = fmt.seal(_payload(system_id="0f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"), key,
                    system_id=SYSTEM_ID, created_at=WHEN)
    with pytest.raises(BackupFileError, match="another system or time"):
        fmt.open_sealed(data, PASSPHRASE)


def test_not_json_and_too_large_are_refused() -> None:
    with pytest.raises(BackupFileError, match="not a system backup"):
        fmt.open_sealed(b"\x00\xff", PASSPHRASE)
    with pytest.raises(BackupFileError, match="larger"):
        fmt.read_header(b" " * (fmt.MAX_FILE_SIZE + 1))
