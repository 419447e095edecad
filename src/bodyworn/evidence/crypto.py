"""End-to-end clip encryption: AES-256-CBC content, RSA-OAEP wrapped key, the `.key` object.

The content destination decrypts with its private key and plain tools (the public
specification documents `openssl` commands), so every choice here is the one those
commands expect: AES-256 in CBC mode with PKCS#7 padding, and the content key wrapped
with RSA-OAEP using SHA-1 for both the OAEP hash and MGF1 (openssl's OAEP default).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from bodyworn.domain import strict_json

KEY_BYTES = 32
IV_BYTES = 16
BLOCK_BYTES = 16
CHUNK_BYTES = 1024 * 1024

CONTENT_ALGORITHM = "AES-256-CBC-PKCS7"
KEY_WRAP_ALGORITHM = "RSA-OAEP-SHA1-MGF1-SHA1"


class EvidenceCryptoError(ValueError):
    """Encrypted content, a key or a key file could not be used."""


@dataclass(frozen=True, repr=False)
class ContentKey:
    """One clip's AES-256 key and CBC IV; never reused for a second object."""

    key: bytes
    iv: bytes

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES or len(self.iv) != IV_BYTES:
            raise EvidenceCryptoError("content key must be 32 bytes and IV 16 bytes")

    def __repr__(self) -> str:
        # Keys end up in logs through reprs of the objects that hold them.
        return "ContentKey(<secret>)"

    @classmethod
    def generate(cls) -> ContentKey:
        """Return a fresh random key and IV from the OS CSPRNG."""
        return cls(key=os.urandom(KEY_BYTES), iv=os.urandom(IV_BYTES))


def load_public_key(pem: bytes | str) -> rsa.RSAPublicKey:
    """Parse an RSA public key from PEM (SubjectPublicKeyInfo or PKCS#1)."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise EvidenceCryptoError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise EvidenceCryptoError("public key is not RSA")
    return key


def load_private_key(pem: bytes | str, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """Parse an RSA private key from PEM."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        raise EvidenceCryptoError(f"not a usable PEM private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise EvidenceCryptoError("private key is not RSA")
    return key


def _oaep_sha1() -> OAEP:
    # SHA-1 here is what the CD side's documented openssl unwrap uses; OAEP's security
    # does not rest on SHA-1 collision resistance.
    return OAEP(mgf=MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303


def wrap_key(key: bytes, public_key: rsa.RSAPublicKey) -> bytes:
    """Encrypt a content key with the CD's RSA public key (OAEP, SHA-1, MGF1-SHA-1)."""
    return public_key.encrypt(key, _oaep_sha1())


def unwrap_key(wrapped: bytes, private_key: rsa.RSAPrivateKey) -> bytes:
    """Recover a content key wrapped by `wrap_key`."""
    try:
        key = private_key.decrypt(wrapped, _oaep_sha1())
    except ValueError as exc:
        raise EvidenceCryptoError("wrapped key does not decrypt with this private key") from exc
    if len(key) != KEY_BYTES:
        raise EvidenceCryptoError("unwrapped key is not 32 bytes")
    return key


def encrypted_size(plain_size: int) -> int:
    """Return the ciphertext length for `plain_size` bytes (PKCS#7 always adds 1..16 bytes)."""
    return (plain_size // BLOCK_BYTES + 1) * BLOCK_BYTES


class StreamEncryptor:
    """Incremental AES-256-CBC/PKCS#7 encryption: feed chunks, then call finish()."""

    def __init__(self, content_key: ContentKey) -> None:
        cipher = Cipher(algorithms.AES(content_key.key), modes.CBC(content_key.iv))
        self._enc: CipherContext = cipher.encryptor()
        self._pad = padding.PKCS7(BLOCK_BYTES * 8).padder()

    def update(self, chunk: bytes) -> bytes:
        """Encrypt the next piece of plaintext; may return fewer bytes than given."""
        return self._enc.update(self._pad.update(chunk))

    def finish(self) -> bytes:
        """Pad and return the final ciphertext block(s)."""
        return self._enc.update(self._pad.finalize()) + self._enc.finalize()


class StreamDecryptor:
    """Incremental AES-256-CBC/PKCS#7 decryption: feed chunks, then call finish()."""

    def __init__(self, content_key: ContentKey) -> None:
        cipher = Cipher(algorithms.AES(content_key.key), modes.CBC(content_key.iv))
        self._dec: CipherContext = cipher.decryptor()
        self._unpad = padding.PKCS7(BLOCK_BYTES * 8).unpadder()
        self._count = 0

    def update(self, chunk: bytes) -> bytes:
        """Decrypt the next piece of ciphertext."""
        self._count += len(chunk)
        return self._unpad.update(self._dec.update(chunk))

    def finish(self) -> bytes:
        """Check the padding and return the last plaintext bytes."""
        if self._count == 0 or self._count % BLOCK_BYTES:
            raise EvidenceCryptoError("ciphertext is not a whole number of AES blocks")
        try:
            return self._unpad.update(self._dec.finalize()) + self._unpad.finalize()
        except ValueError as exc:
            raise EvidenceCryptoError("bad padding: wrong key or corrupt ciphertext") from exc


def encrypt_chunks(chunks: Iterable[bytes], content_key: ContentKey) -> Iterator[bytes]:
    """Yield the ciphertext of `chunks`, holding at most one chunk in memory."""
    enc = StreamEncryptor(content_key)
    for chunk in chunks:
        out = enc.update(chunk)
        if out:
            yield out
    yield enc.finish()


async def aencrypt_chunks(
    chunks: AsyncIterable[bytes], content_key: ContentKey
) -> AsyncIterator[bytes]:
    """Async twin of `encrypt_chunks`, usable as an httpx streaming request body."""
    enc = StreamEncryptor(content_key)
    async for chunk in chunks:
        out = enc.update(chunk)
        if out:
            yield out
    yield enc.finish()


def decrypt_chunks(chunks: Iterable[bytes], content_key: ContentKey) -> Iterator[bytes]:
    """Yield the plaintext of ciphertext `chunks`; raises at the end on bad padding."""
    dec = StreamDecryptor(content_key)
    for chunk in chunks:
        out = dec.update(chunk)
        if out:
            yield out
    tail = dec.finish()
    if tail:
        yield tail


def read_chunks(stream: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Yield a binary stream in chunks of at most `chunk_bytes`."""
    while chunk := stream.read(chunk_bytes):
        yield chunk


def encrypt_file(src: Path, dst: Path, content_key: ContentKey) -> None:
    """Encrypt a file to another file in constant memory."""
    with src.open("rb") as fin, dst.open("wb") as fout:
        for piece in encrypt_chunks(read_chunks(fin), content_key):
            fout.write(piece)


def decrypt_file(src: Path, dst: Path, content_key: ContentKey) -> None:
    """Decrypt a file to another file in constant memory."""
    with src.open("rb") as fin, dst.open("wb") as fout:
        for piece in decrypt_chunks(read_chunks(fin), content_key):
            fout.write(piece)


def ciphertext_md5(chunks: Iterable[bytes], content_key: ContentKey) -> tuple[str, int]:
    """Return the hex md5 and length of the ciphertext, without keeping it."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    for piece in encrypt_chunks(chunks, content_key):
        digest.update(piece)
        size += len(piece)
    return digest.hexdigest(), size


@dataclass(frozen=True)
class KeyFile:
    """The parsed `.key` object that travels beside an encrypted clip."""

    encrypted_key: bytes
    iv: bytes
    public_key_id: str

    def to_bytes(self) -> bytes:
        """Render as pretty-printed JSON, one field per line (the CD greps it line by line)."""
        doc = {
            "EncryptedKey": base64.b64encode(self.encrypted_key).decode("ascii"),
            "ContentEncryptionIV": base64.b64encode(self.iv).decode("ascii"),
            "PublicKeyId": self.public_key_id,
            "ContentEncryptionAlgorithm": CONTENT_ALGORITHM,
            "KeyWrapAlgorithm": KEY_WRAP_ALGORITHM,
        }
        return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_bytes(cls, body: bytes) -> KeyFile:
        """Parse a key object body; raises EvidenceCryptoError when malformed."""
        try:
            doc = strict_json.loads(body)
        except strict_json.JsonRefused as exc:
            raise EvidenceCryptoError(f"key file is not strict JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise EvidenceCryptoError("key file is not a JSON object")
        key_b64, iv_b64 = doc.get("EncryptedKey"), doc.get("ContentEncryptionIV")
        key_id = doc.get("PublicKeyId", "")
        if not isinstance(key_b64, str) or not isinstance(iv_b64, str):
            raise EvidenceCryptoError("key file lacks EncryptedKey or ContentEncryptionIV")
        if not isinstance(key_id, str):
            raise EvidenceCryptoError("key file PublicKeyId is not a string")
        try:
            wrapped = base64.b64decode(key_b64, validate=True)
            iv = base64.b64decode(iv_b64, validate=True)
        except binascii.Error as exc:
            raise EvidenceCryptoError("key file fields are not base64") from exc
        if len(iv) != IV_BYTES:
            raise EvidenceCryptoError("ContentEncryptionIV is not 16 bytes")
        return cls(encrypted_key=wrapped, iv=iv, public_key_id=key_id)


@dataclass(frozen=True, repr=False)
class ObjectEncryption:
    """Everything needed to encrypt one object and describe it in its `.key` object."""

    content_key: ContentKey
    key_file: KeyFile

    def __repr__(self) -> str:
        return f"ObjectEncryption(public_key_id={self.key_file.public_key_id!r})"


def new_object_encryption(public_key: rsa.RSAPublicKey, public_key_id: str) -> ObjectEncryption:
    """Make a fresh content key for one object and its wrapped key file."""
    content_key = ContentKey.generate()
    key_file = KeyFile(
        encrypted_key=wrap_key(content_key.key, public_key),
        iv=content_key.iv,
        public_key_id=public_key_id,
    )
    return ObjectEncryption(content_key=content_key, key_file=key_file)


def open_key_file(key_file: KeyFile, private_key: rsa.RSAPrivateKey) -> ContentKey:
    """Unwrap a key file's content key with the CD's private key."""
    return ContentKey(key=unwrap_key(key_file.encrypted_key, private_key), iv=key_file.iv)
