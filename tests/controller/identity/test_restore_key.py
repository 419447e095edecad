"""The System restore key envelope: sealing, opening, tampering, bad input."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bodyworn.controller.identity import restore_key as rk
from bodyworn.controller.identity.keys import generate_identity_keypair
from bodyworn.controller.identity.restore_key import (
    MAX_FILE_SIZE,
    KdfParams,
    RestoreKeyError,
    describe,
    open_restore_key,
    seal_restore_key,
)

from .conftest import PASSPHRASE, Sealed

WRONG = "wrong passphrase (or the file was altered)"
CHEAP_KDF = KdfParams(iterations=1, lanes=1, memory_cost_kib=8)


def _envelope(sealed: Sealed) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(sealed.data)
    return result


def _dump(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope).encode("utf-8")


def _flip_b64(text: str, index: int = 0) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode("ascii")


def _open_error(data: bytes, passphrase: str = PASSPHRASE) -> str:
    with pytest.raises(RestoreKeyError) as caught:
        open_restore_key(data, passphrase)
    return str(caught.value)


# Round trip and file shape


def test_round_trip(sealed: Sealed) -> None:
    contents = open_restore_key(sealed.data, sealed.passphrase)
    assert contents.system_id == sealed.system_id
    assert contents.system_name == sealed.system_name
    assert contents.created_at == sealed.created_at
    assert contents.created_at.tzinfo is not None
    assert contents.created_at.utcoffset() == timedelta(0)
    assert contents.private_key_pem == sealed.private_key_pem
    assert contents.public_key_pem == sealed.public_key_pem


def test_envelope_names_and_parameterises_everything(sealed: Sealed) -> None:
    envelope = _envelope(sealed)
    assert envelope["format"] == "bodyworn-restore-key"
    assert envelope["version"] == 1
    kdf = envelope["kdf"]
    assert kdf["name"] == "argon2id"
    assert len(base64.b64decode(kdf["salt"])) == 16
    assert (kdf["iterations"], kdf["lanes"], kdf["memory_cost_kib"]) == (3, 4, 65536)
    assert kdf["key_length"] == 32
    assert envelope["cipher"]["name"] == "AES-256-GCM"
    assert len(base64.b64decode(envelope["cipher"]["nonce"])) == 12
    assert base64.b64decode(envelope["ciphertext"])


def test_file_leaks_nothing_in_clear(sealed: Sealed) -> None:
    text = sealed.data.decode("utf-8")
    assert "PRIVATE KEY" not in text
    assert sealed.system_id not in text
    assert PASSPHRASE not in text
    key_body = b"".join(sealed.private_key_pem.splitlines()[1:-1]).decode()
    assert key_body not in text


def test_salt_and_nonce_are_fresh_each_time(sealed: Sealed) -> None:
    again = seal_restore_key(
        private_key_pem=sealed.private_key_pem,
        public_key_pem=sealed.public_key_pem,
        system_id=sealed.system_id,
        system_name=sealed.system_name,
        created_at=sealed.created_at,
        passphrase=PASSPHRASE,
        kdf=CHEAP_KDF,
    )
    first, second = _envelope(sealed), json.loads(again)
    assert first["kdf"]["salt"] != second["kdf"]["salt"]
    assert first["cipher"]["nonce"] != second["cipher"]["nonce"]


def test_created_at_is_stored_as_utc() -> None:
    private_pem, public_pem = generate_identity_keypair()
    stockholm_winter = timezone(timedelta(hours=1))
    data = seal_restore_key(
        private_key_pem=private_pem,
        public_key_pem=public_pem,
        system_id=str(uuid.uuid4()),
        system_name="x",
        created_at=datetime(2026, 1, 1, 9, 0, tzinfo=stockholm_winter),
        passphrase=PASSPHRASE,
        kdf=CHEAP_KDF,
    )
    contents = open_restore_key(data, PASSPHRASE)
    assert contents.created_at == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    assert describe(contents)["Created at"] == "2026-01-01T08:00:00Z"


def test_kdf_parameters_are_read_from_the_file() -> None:
    private_pem, public_pem = generate_identity_keypair()
    data = seal_restore_key(
        private_key_pem=private_pem,
        public_key_pem=public_pem,
        system_id=str(uuid.uuid4()),
        system_name="x",
        created_at=datetime.now(UTC),
        passphrase=PASSPHRASE,
        kdf=CHEAP_KDF,
    )
    assert json.loads(data)["kdf"]["memory_cost_kib"] == 8
    assert open_restore_key(data, PASSPHRASE).private_key_pem == private_pem


def test_reindented_file_still_opens(sealed: Sealed) -> None:
    compact = json.dumps(_envelope(sealed), separators=(",", ":")).encode()
    assert open_restore_key(compact, PASSPHRASE).system_id == sealed.system_id


# Wrong passphrase and tampering


def test_wrong_passphrase(sealed: Sealed) -> None:
    assert _open_error(sealed.data, "correct horse battery stapler") == WRONG


def test_empty_passphrase_is_just_wrong(sealed: Sealed) -> None:
    assert _open_error(sealed.data, "") == WRONG


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda e: e.update(ciphertext=_flip_b64(e["ciphertext"], 5)), id="ciphertext"),
        pytest.param(lambda e: e.update(ciphertext=_flip_b64(e["ciphertext"], -1)), id="gcm-tag"),
        pytest.param(lambda e: e["kdf"].update(salt=_flip_b64(e["kdf"]["salt"])), id="salt"),
        pytest.param(
            lambda e: e["cipher"].update(nonce=_flip_b64(e["cipher"]["nonce"])), id="nonce"
        ),
        pytest.param(lambda e: e["kdf"].update(iterations=2), id="iterations"),
        pytest.param(lambda e: e["kdf"].update(lanes=2), id="lanes"),
    ],
)
def test_tampering_is_detected(sealed: Sealed, tamper: Callable[[dict[str, Any]], None]) -> None:
    envelope = _envelope(sealed)
    tamper(envelope)
    assert _open_error(_dump(envelope)) == WRONG


def test_truncated_ciphertext_is_detected(sealed: Sealed) -> None:
    envelope = _envelope(sealed)
    raw = base64.b64decode(envelope["ciphertext"])
    envelope["ciphertext"] = base64.b64encode(raw[:-1]).decode()
    assert _open_error(_dump(envelope)) == WRONG


def test_flipped_version_byte(sealed: Sealed) -> None:
    data = sealed.data.replace(b'"version": 1', b'"version": 3', 1)
    assert data != sealed.data
    assert _open_error(data) == "unsupported restore key version 3"


@pytest.mark.parametrize("version", ["1", True, 1.0, None])
def test_non_integer_version_is_malformed(sealed: Sealed, version: object) -> None:
    envelope = _envelope(sealed)
    envelope["version"] = version
    assert _open_error(_dump(envelope)).startswith("malformed restore key")


def test_associated_data_binds_the_version() -> None:
    # A future version 2 reader must not accept a version 1 ciphertext relabelled.
    header = rk._kdf_header(bytes(16), rk.DEFAULT_KDF)
    cipher = {"name": "AES-256-GCM", "nonce": "AAAAAAAAAAAAAAAA"}
    v1 = rk._associated_data("bodyworn-restore-key", 1, header, cipher)
    v2 = rk._associated_data("bodyworn-restore-key", 2, header, cipher)
    assert v1 != v2


# Not a restore key, malformed, too large


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{not json", id="bad-json"),
        pytest.param(b"\xff\xfe\x00garbage", id="not-utf8"),
        pytest.param(b"[1, 2, 3]", id="json-list"),
        pytest.param(b'{"format": "something-else", "version": 1}', id="wrong-format"),
        pytest.param(b'{"version": 1}', id="no-format"),
        pytest.param(b"-----BEGIN PRIVATE KEY-----\n", id="pem"),
        pytest.param(b"[" * 10000 + b"]" * 10000, id="deep-nesting"),
    ],
)
def test_not_a_restore_key(data: bytes) -> None:
    assert _open_error(data).startswith("not a bodyworn restore key file")


def test_wrong_format_name(sealed: Sealed) -> None:
    envelope = _envelope(sealed)
    envelope["format"] = "bodyworn-restore-kez"
    assert _open_error(_dump(envelope)) == "not a bodyworn restore key file"


def test_too_large_is_refused_before_parsing(sealed: Sealed) -> None:
    data = sealed.data + b" " * (MAX_FILE_SIZE + 1 - len(sealed.data))
    message = _open_error(data)
    assert "too large" in message
    assert str(MAX_FILE_SIZE) in message
    # Trailing whitespace below the limit is harmless JSON.
    assert open_restore_key(data[:-1], PASSPHRASE).system_id == sealed.system_id


@pytest.mark.parametrize(
    ("tamper", "fragment"),
    [
        (lambda e: e.pop("ciphertext"), "lacks ciphertext"),
        (lambda e: e.update(extra="x"), "unknown extra"),
        (lambda e: e.update(kdf="argon2id"), "kdf is not an object"),
        (lambda e: e["kdf"].update(name="scrypt"), "unsupported KDF"),
        (lambda e: e["kdf"].update(passphrase_normalization="NFD"), "normalization"),
        (lambda e: e["kdf"].update(key_length=16), "key_length"),
        (lambda e: e["kdf"].update(salt="AAAA"), "salt must be 16 bytes"),
        (lambda e: e["kdf"].update(salt="not base64!"), "salt is not base64"),
        (lambda e: e["kdf"].update(salt=16), "salt is not a string"),
        (lambda e: e["kdf"].update(iterations="3"), "iterations is not an integer"),
        (lambda e: e["kdf"].update(iterations=0), "iterations must be"),
        (lambda e: e["kdf"].update(iterations=10**9), "iterations must be"),
        (lambda e: e["kdf"].update(memory_cost_kib=2**40), "memory_cost_kib must be"),
        (lambda e: e["kdf"].update(lanes=0), "lanes must be"),
        (lambda e: e["kdf"].pop("lanes"), "kdf lacks lanes"),
        (lambda e: e["cipher"].update(name="AES-128-CBC"), "unsupported cipher"),
        (lambda e: e["cipher"].update(nonce="AAAA"), "nonce must be 12 bytes"),
        (lambda e: e.update(cipher=[]), "cipher is not an object"),
        (lambda e: e.update(ciphertext=None), "ciphertext is not a string"),
    ],
)
def test_malformed_envelope(
    sealed: Sealed, tamper: Callable[[dict[str, Any]], None], fragment: str
) -> None:
    envelope = _envelope(sealed)
    tamper(envelope)
    message = _open_error(_dump(envelope))
    assert message.startswith("malformed restore key")
    assert fragment in message


def _seal_raw_payload(payload: bytes) -> bytes:
    """Seal arbitrary plaintext the way seal_restore_key does, to reach the payload checks."""
    salt, nonce = os.urandom(16), os.urandom(12)
    kdf_header = rk._kdf_header(salt, CHEAP_KDF)
    cipher_header = {"name": "AES-256-GCM", "nonce": base64.b64encode(nonce).decode()}
    aad = rk._associated_data("bodyworn-restore-key", 1, kdf_header, cipher_header)
    key = rk._derive_key(PASSPHRASE, salt, CHEAP_KDF)
    envelope = {
        "format": "bodyworn-restore-key",
        "version": 1,
        "kdf": kdf_header,
        "cipher": cipher_header,
        "ciphertext": base64.b64encode(AESGCM(key).encrypt(nonce, payload, aad)).decode(),
    }
    return _dump(envelope)


def _payload(**changes: Any) -> bytes:
    private_pem, public_pem = generate_identity_keypair()
    payload = {
        "system_id": str(uuid.uuid4()),
        "system_name": "x",
        "created_at": "2026-11-27T07:30:05Z",
        "identity_private_key_pem": private_pem.decode(),
        "identity_public_key_pem": public_pem.decode(),
    }
    payload.update(changes)
    return json.dumps(payload).encode()


def test_hand_sealed_valid_payload_opens() -> None:
    contents = open_restore_key(_seal_raw_payload(_payload()), PASSPHRASE)
    assert contents.created_at == datetime(2026, 11, 27, 7, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not an object"),
        (_payload(system_id="not-a-uuid"), "not a UUID"),
        (_payload(system_name=7), "system_name is not a string"),
        (_payload(created_at="yesterday"), "not RFC 3339"),
        (_payload(created_at="2026-11-27T07:30:05"), "no time zone"),
        (_payload(identity_public_key_pem=generate_identity_keypair()[1].decode()), "not match"),
        (_payload(identity_private_key_pem="garbage"), "private key"),
        (_payload(extra="x"), "unknown extra"),
    ],
)
def test_malformed_payload(payload: bytes, fragment: str) -> None:
    message = _open_error(_seal_raw_payload(payload))
    assert message.startswith("malformed restore key")
    assert fragment in message


# Sealing refuses what could not be restored


def _seal(**changes: Any) -> bytes:
    private_pem, public_pem = generate_identity_keypair()
    arguments: dict[str, Any] = {
        "private_key_pem": private_pem,
        "public_key_pem": public_pem,
        "system_id": str(uuid.uuid4()),
        "system_name": "x",
        "created_at": datetime.now(UTC),
        "passphrase": PASSPHRASE,
        "kdf": CHEAP_KDF,
    }
    arguments.update(changes)
    return seal_restore_key(**arguments)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"passphrase": "too short"}, "at least 12"),
        ({"created_at": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"system_id": "42"}, "not a UUID"),
        ({"system_id": str(uuid.uuid4()).upper()}, "not a UUID"),
        ({"public_key_pem": generate_identity_keypair()[1]}, "does not belong"),
        ({"system_name": "x" * MAX_FILE_SIZE}, "exceed"),
        ({"kdf": KdfParams(iterations=0)}, "iterations"),
    ],
)
def test_seal_refuses(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        _seal(**changes)


# What may be shown


def test_describe_shows_identity_never_the_private_key(sealed: Sealed) -> None:
    contents = open_restore_key(sealed.data, PASSPHRASE)
    shown = describe(contents)
    assert shown["System ID"] == sealed.system_id
    assert shown["System name"] == sealed.system_name
    assert shown["Created at"] == "2026-11-27T07:30:05Z"
    assert shown["Key type"] == "Ed25519"
    der = serialization.load_pem_public_key(sealed.public_key_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert shown["Public key fingerprint (SHA-256)"] == hashlib.sha256(der).hexdigest()
    everything = "\n".join([*shown.keys(), *shown.values()])
    assert "PRIVATE" not in everything
    key_body = b"".join(sealed.private_key_pem.splitlines()[1:-1]).decode()
    assert key_body not in everything


def test_contents_repr_hides_the_private_key(sealed: Sealed) -> None:
    contents = open_restore_key(sealed.data, PASSPHRASE)
    assert "PRIVATE" not in repr(contents)
    assert sealed.system_id in repr(contents)


def test_a_key_given_twice_is_not_a_restore_key(sealed: Sealed) -> None:
    """Readers differ on which of two equal keys wins, so such a file is refused whole
    rather than read as its last value."""
    text = sealed.data.decode("utf-8")
    doubled = text.replace("{", '{"format": "something-else", ', 1).encode("utf-8")
    assert _open_error(doubled).startswith("not a bodyworn restore key file")
