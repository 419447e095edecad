"""Release keys: the public half that ships with the code, and keys for the release tool.

The controller trusts firmware signed by the release key whose public half is
`release-key.pem` beside this file. Its private half is never in the repository: whoever
makes releases keeps it offline and signs with `bodyworn firmware build`. A controller may
be told to trust another key instead (the `firmware_key_file` setting): test systems and
organisations that build their own firmware do that.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from bodyworn.domain.user_files import read_user_file

RELEASE_KEY_FILE = Path(__file__).with_name("release-key.pem")
KEY_FILE_MAX = 64 * 1024


def public_key_from_pem(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (ValueError for anything else)."""
    key = load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("a firmware release key must be an Ed25519 public key")
    return key


def trusted_keys(key_file: Path | None = None) -> list[Ed25519PublicKey]:
    """The keys firmware must be signed with: `key_file`'s when given, else the release
    key that ships with the code."""
    pem = read_user_file(key_file or RELEASE_KEY_FILE, limit=KEY_FILE_MAX,
                         what="firmware key file")
    return [public_key_from_pem(pem)]


def new_private_key() -> tuple[bytes, bytes]:
    """A new release key: (private PEM, public PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    public = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return private, public


def private_key_from_pem(pem: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM (ValueError for anything else)."""
    key = load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("a firmware release key must be an Ed25519 private key")
    return key
