"""Pairing codes: the QR code's text, the PIN, and what a camera keeps to check them.

The QR code carries a pairing id, the fingerprint of the system identity key (the app
trusts cameras whose certificate that key issued) and a one-time secret. A camera is given
only verifiers: the secret's hash and an HMAC of the PIN keyed by the secret, so a camera
that is read out reveals neither, and the PIN cannot be guessed offline without the QR.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from bodyworn.wireless.wire import PIN_DIGITS

CODE_PREFIX = "BWA1"
SECRET_BYTES = 20
_SECRET_CONTEXT = b"bodyworn-assistant-secret-v1\n"
_PIN_CONTEXT = b"bodyworn-assistant-pin-v1\n"


class PairingCodeError(ValueError):
    """A QR code (or pasted text) that is not a pairing code of this app."""


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def _unb32(text: str) -> bytes:
    padded = text.upper() + "=" * (-len(text) % 8)
    return base64.b32decode(padded.encode("ascii"), casefold=False)


@dataclass(frozen=True)
class PairingCode:
    """What the QR code holds: pairing id (32 hex), identity fingerprint (64 hex), secret."""

    pairing_id: str
    fingerprint: str
    secret: bytes = field(repr=False)

    def to_text(self) -> str:
        """The QR code's text: upper-case base32 fields (QR alphanumeric mode keeps it small)."""
        return ":".join([
            CODE_PREFIX,
            _b32(uuid.UUID(hex=self.pairing_id).bytes),
            _b32(bytes.fromhex(self.fingerprint)),
            _b32(self.secret),
        ])

    @property
    def secret_text(self) -> str:
        """The secret as the app sends it to the camera (base32)."""
        return _b32(self.secret)

    @classmethod
    def parse(cls, text: str) -> PairingCode:
        """Read a scanned or pasted code; PairingCodeError when it is not one."""
        parts = text.strip().split(":")
        if len(parts) != 4 or parts[0].upper() != CODE_PREFIX:
            raise PairingCodeError("not a pairing code of AXIS Body Worn Assistant")
        try:
            pairing = _unb32(parts[1])
            fingerprint = _unb32(parts[2])
            secret = _unb32(parts[3])
        except (binascii.Error, ValueError) as exc:
            raise PairingCodeError("the pairing code is damaged") from exc
        if len(pairing) != 16 or len(fingerprint) != 32 or len(secret) != SECRET_BYTES:
            raise PairingCodeError("the pairing code is damaged")
        return cls(uuid.UUID(bytes=pairing).hex, fingerprint.hex(), secret)


def new_pairing_code(fingerprint: str) -> PairingCode:
    """A fresh pairing for the system whose identity key has `fingerprint`."""
    return PairingCode(uuid.uuid4().hex, fingerprint.lower(), secrets.token_bytes(SECRET_BYTES))


def new_pin() -> str:
    """A random PIN of PIN_DIGITS digits."""
    return f"{secrets.randbelow(10 ** PIN_DIGITS):0{PIN_DIGITS}d}"


def secret_from_text(text: str) -> bytes:
    """The secret the app sent (base32); ValueError when it is not one."""
    try:
        secret = _unb32(text)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the secret is not base32") from exc
    if len(secret) != SECRET_BYTES:
        raise ValueError("the secret has the wrong length")
    return secret


def secret_verifier(secret: bytes) -> str:
    """What a camera keeps to recognise the secret (hex SHA-256)."""
    return hashlib.sha256(_SECRET_CONTEXT + secret).hexdigest()


def pin_verifier(secret: bytes, pairing_id: str, pin: str) -> str:
    """What a camera keeps to check the PIN: HMAC-SHA256 keyed by the secret (hex)."""
    message = _PIN_CONTEXT + f"{pairing_id}\n{pin}".encode("ascii")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def normalize_pin(text: str) -> str:
    """The PIN as typed, without spaces; ValueError unless it is PIN_DIGITS digits."""
    pin = "".join(text.split())
    if len(pin) != PIN_DIGITS or not pin.isascii() or not pin.isdigit():
        raise ValueError(f"the PIN has {PIN_DIGITS} digits")
    return pin


def device_keypair() -> tuple[bytes, str]:
    """A new device key pair: (private PKCS8 PEM, public SubjectPublicKeyInfo PEM)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode("ascii")


def load_device_public_key(public_pem: str) -> ed25519.Ed25519PublicKey:
    """A device's public key; ValueError unless it is an Ed25519 SubjectPublicKeyInfo PEM."""
    try:
        key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError("not a public key") from exc
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError("a device key is Ed25519")
    return key


def device_fingerprint(public_pem: str) -> str:
    """Hex SHA-256 of a device public key's DER SubjectPublicKeyInfo."""
    der = load_device_public_key(public_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def sign_as_device(private_pem: bytes, message: bytes) -> bytes:
    """A device's Ed25519 signature over `message`."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError("a device key is Ed25519")
    return key.sign(message)


def device_signed(public_pem: str, message: bytes, signature: bytes) -> bool:
    """Whether `signature` over `message` was made with the device key `public_pem`."""
    from cryptography.exceptions import InvalidSignature

    try:
        load_device_public_key(public_pem).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
