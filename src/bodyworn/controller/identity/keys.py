"""The system identity key pair (Ed25519) and the super admin passphrase."""

from __future__ import annotations

import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_TYPE = "Ed25519"
PASSPHRASE_MIN_LENGTH = 12
PASSPHRASE_MAX_LENGTH = 1024

# argon2-cffi's defaults are argon2id with the RFC 9106 low-memory profile.
_hasher = PasswordHasher()


def generate_identity_keypair() -> tuple[bytes, bytes]:
    """Return a new Ed25519 identity key pair as (private PKCS8 PEM, public SPKI PEM)."""
    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    return private_pem, public_pem_of(private_key.public_key())


def public_pem_of(public_key: Ed25519PublicKey) -> bytes:
    """Return the SubjectPublicKeyInfo PEM of an Ed25519 public key."""
    return public_key.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )


def load_private_key(private_pem: bytes) -> Ed25519PrivateKey:
    """Parse an unencrypted PKCS8 PEM Ed25519 private key, raising ValueError otherwise."""
    try:
        key = serialization.load_pem_private_key(private_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"the identity private key must be {KEY_TYPE}")
    return key


def load_public_key(public_pem: bytes) -> Ed25519PublicKey:
    """Parse a SubjectPublicKeyInfo PEM Ed25519 public key, raising ValueError otherwise."""
    try:
        key = serialization.load_pem_public_key(public_pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"the identity public key must be {KEY_TYPE}")
    return key


def keypair_matches(private_pem: bytes, public_pem: bytes) -> bool:
    """Tell whether the public key PEM belongs to the private key PEM."""
    derived = load_private_key(private_pem).public_key()
    return derived == load_public_key(public_pem)


def public_key_fingerprint(public_pem: bytes) -> str:
    """Return the lowercase hex SHA-256 of the public key's DER SubjectPublicKeyInfo."""
    der = load_public_key(public_pem).public_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return digest.finalize().hex()


def sign(private_pem: bytes, data: bytes) -> bytes:
    """Sign data with the identity private key."""
    return load_private_key(private_pem).sign(data)


def verify(public_pem: bytes, signature: bytes, data: bytes) -> bool:
    """Tell whether signature is a valid identity signature of data."""
    try:
        load_public_key(public_pem).verify(signature, data)
    except InvalidSignature:
        return False
    return True


def normalize_passphrase(passphrase: str) -> str:
    """Return the passphrase in Unicode NFKC form, as hashed and as fed to the KDF."""
    # The same passphrase typed on another keyboard or OS may arrive composed differently;
    # NIST SP 800-63B asks for normalisation so it still matches.
    return unicodedata.normalize("NFKC", passphrase)


def hash_passphrase(passphrase: str) -> str:
    """Return an argon2id PHC hash of the (normalised) passphrase."""
    return _hasher.hash(normalize_passphrase(passphrase))


def verify_passphrase(hash: str, passphrase: str) -> bool:
    """Tell whether the passphrase matches an argon2id hash from hash_passphrase."""
    try:
        return _hasher.verify(hash, normalize_passphrase(passphrase))
    except (VerificationError, InvalidHashError):
        return False


def validate_passphrase(p: str) -> list[str]:
    """Return what is wrong with a proposed super admin passphrase (empty when acceptable)."""
    length = len(normalize_passphrase(p))
    errors: list[str] = []
    if length < PASSPHRASE_MIN_LENGTH:
        errors.append(
            f"The super admin passphrase must be at least {PASSPHRASE_MIN_LENGTH} characters"
            f" long (it has {length})."
        )
    if length > PASSPHRASE_MAX_LENGTH:
        errors.append(
            f"The super admin passphrase must be at most {PASSPHRASE_MAX_LENGTH} characters"
            f" long (it has {length})."
        )
    return errors
