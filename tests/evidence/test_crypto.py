"""Clip encryption: our output must open with the openssl command line alone."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from bodyworn.evidence.crypto import (
    BLOCK_BYTES,
    CHUNK_BYTES,
    ContentKey,
    EvidenceCryptoError,
    KeyFile,
    aencrypt_chunks,
    ciphertext_md5,
    decrypt_chunks,
    decrypt_file,
    encrypt_chunks,
    encrypt_file,
    encrypted_size,
    load_private_key,
    load_public_key,
    new_object_encryption,
    open_key_file,
)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture()
def key_pem_paths(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> tuple[Path, bytes]:
    priv = tmp_path / "private_key.pem"
    priv.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pub_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return priv, pub_pem


def _field_from_line(key_file: bytes, name: str) -> str:
    # The CD side's documented recipe finds the line naming the field and takes the
    # fourth '"'-separated part, so the value must sit on its own line.
    for line in key_file.decode().splitlines():
        if f'"{name}"' in line:
            return line.split('"')[3]
    raise AssertionError(f"{name} not found")


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True).stdout


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 100_003, 3 * CHUNK_BYTES + 5])
def test_openssl_decrypts_our_output(
    tmp_path: Path, key_pem_paths: tuple[Path, bytes], size: int
) -> None:
    priv_path, pub_pem = key_pem_paths
    plain = os.urandom(size)
    src = tmp_path / "clip.mkv"
    src.write_bytes(plain)
    enc = new_object_encryption(load_public_key(pub_pem), "contentkey.public.pem")
    encrypt_file(src, tmp_path / "clip.enc", enc.content_key)
    key_body = enc.key_file.to_bytes()
    (tmp_path / "clip.key").write_bytes(key_body)

    wrapped = _openssl(
        "base64", "-d", "-A", stdin=_field_from_line(key_body, "EncryptedKey").encode()
    )
    (tmp_path / "wrapped.bin").write_bytes(wrapped)
    key = _openssl(
        "pkeyutl",
        "-decrypt",
        "-inkey",
        str(priv_path),
        "-in",
        str(tmp_path / "wrapped.bin"),
        "-pkeyopt",
        "rsa_padding_mode:oaep",
    )
    iv = _openssl(
        "base64", "-d", "-A", stdin=_field_from_line(key_body, "ContentEncryptionIV").encode()
    )
    _openssl(
        "enc",
        "-d",
        "-aes-256-cbc",
        "-K",
        key.hex(),
        "-iv",
        iv.hex(),
        "-in",
        str(tmp_path / "clip.enc"),
        "-out",
        str(tmp_path / "clip.out"),
    )
    assert (tmp_path / "clip.out").read_bytes() == plain
    assert (tmp_path / "clip.enc").stat().st_size == encrypted_size(size)


def test_key_file_is_one_field_per_line(key_pem_paths: tuple[Path, bytes]) -> None:
    _, pub_pem = key_pem_paths
    body = new_object_encryption(load_public_key(pub_pem), "kid-1").key_file.to_bytes()
    doc = json.loads(body)
    assert doc["PublicKeyId"] == "kid-1"
    lines = body.decode().splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    assert len(lines) == len(doc) + 2


def test_each_object_gets_a_fresh_key(key_pem_paths: tuple[Path, bytes]) -> None:
    pub = load_public_key(key_pem_paths[1])
    a, b = new_object_encryption(pub, "k"), new_object_encryption(pub, "k")
    assert a.content_key.key != b.content_key.key
    assert a.content_key.iv != b.content_key.iv
    assert "secret" in repr(a.content_key) and a.content_key.key.hex() not in repr(a)


def test_our_decrypt_round_trips_and_rejects_wrong_key(
    key_pem_paths: tuple[Path, bytes], tmp_path: Path
) -> None:
    priv_path, pub_pem = key_pem_paths
    enc = new_object_encryption(load_public_key(pub_pem), "k")
    plain = os.urandom(70_001)
    (tmp_path / "p").write_bytes(plain)
    encrypt_file(tmp_path / "p", tmp_path / "c", enc.content_key)
    parsed = KeyFile.from_bytes(enc.key_file.to_bytes())
    content_key = open_key_file(parsed, load_private_key(priv_path.read_bytes()))
    decrypt_file(tmp_path / "c", tmp_path / "d", content_key)
    assert (tmp_path / "d").read_bytes() == plain

    other = ContentKey.generate()
    with pytest.raises(EvidenceCryptoError):
        b"".join(decrypt_chunks([(tmp_path / "c").read_bytes()], other))
    with pytest.raises(EvidenceCryptoError):
        b"".join(decrypt_chunks([b"short"], other))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(EvidenceCryptoError):
        open_key_file(parsed, stranger)


def test_streaming_is_constant_memory() -> None:
    """50 MB through the encryptor: it never holds more than one chunk ahead."""
    total = 50 * 1024 * 1024
    chunk = os.urandom(CHUNK_BYTES)
    consumed = 0

    def source() -> Iterator[bytes]:
        nonlocal consumed
        for _ in range(total // CHUNK_BYTES):
            consumed += CHUNK_BYTES
            yield chunk

    produced = 0
    digest = hashlib.md5()
    for out in encrypt_chunks(source(), ContentKey.generate()):
        assert len(out) <= CHUNK_BYTES + BLOCK_BYTES
        produced += len(out)
        # Lazy: output keeps pace with input, within one chunk.
        assert consumed - produced <= CHUNK_BYTES
        digest.update(out)
    assert produced == encrypted_size(total)


def test_ciphertext_md5_matches_a_second_pass() -> None:
    key = ContentKey.generate()
    chunks = [os.urandom(1000), os.urandom(5000)]
    md5, size = ciphertext_md5(chunks, key)
    data = b"".join(encrypt_chunks(chunks, key))
    assert md5 == hashlib.md5(data).hexdigest() and size == len(data)


async def test_async_encrypt_matches_sync() -> None:
    key = ContentKey.generate()
    chunks = [os.urandom(n) for n in (3, 4096, 17, 0, 9000)]

    async def agen():  # type: ignore[no-untyped-def]
        for c in chunks:
            yield c

    got = b"".join([piece async for piece in aencrypt_chunks(agen(), key)])
    assert got == b"".join(encrypt_chunks(chunks, key))


@given(st.binary(max_size=300))
def test_malformed_key_files_raise_cleanly(body: bytes) -> None:
    with contextlib.suppress(EvidenceCryptoError):
        KeyFile.from_bytes(body)


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'{"EncryptedKey": 1, "ContentEncryptionIV": "AA=="}',
        b'{"EncryptedKey": "!!", "ContentEncryptionIV": "AA=="}',
        b'{"EncryptedKey": "AA==", "ContentEncryptionIV": "AA=="}',
        b'{"EncryptedKey": "AA==", "ContentEncryptionIV": "AAAAAAAAAAAAAAAAAAAAAA==",'
        b' "PublicKeyId": 3}',
        # Otherwise well formed, but with a key given twice (readers differ on which wins).
        b'{"EncryptedKey": "AA==", "EncryptedKey": "AA==",'
        b' "ContentEncryptionIV": "AAAAAAAAAAAAAAAAAAAAAA=="}',
    ],
)
def test_bad_key_files(body: bytes) -> None:
    with pytest.raises(EvidenceCryptoError):
        KeyFile.from_bytes(body)


def test_bad_pem_is_a_clear_error() -> None:
    with pytest.raises(EvidenceCryptoError):
        load_public_key("not a key")
    with pytest.raises(EvidenceCryptoError):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
