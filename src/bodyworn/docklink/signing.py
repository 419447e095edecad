"""Signing with the system identity key and checking such signatures.

The controller signs requests, deletion confirmations and unlocks with its identity private
key; a camera checks them against the identity public key it stored when it was added.
Ed25519 signs directly; ECDSA uses SHA-256; RSA uses PSS with SHA-256.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

SignatureVerifier = Callable[[str, bytes, bytes], bool]


def sign_with_pem(private_key_pem: bytes, message: bytes) -> bytes:
    """Sign with an Ed25519, ECDSA (SHA-256) or RSA-PSS (SHA-256) private key PEM."""
    key = load_pem_private_key(private_key_pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(message, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
        return key.sign(message, pss, hashes.SHA256())
    raise ValueError(f"unsupported identity key type {type(key).__name__}")


def check_public_key_pem(public_key_pem: str) -> None:
    """Raise ValueError unless the PEM holds a public key of a kind we can verify with."""
    key = load_pem_public_key(public_key_pem.encode("ascii"))
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise ValueError(f"unsupported identity key type {type(key).__name__}")


def verify_signature(public_key_pem: str, message: bytes, signature: bytes) -> bool:
    """Whether `signature` over `message` was made by the key's private half."""
    key = load_pem_public_key(public_key_pem.encode("ascii"))
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            key.verify(signature, message, pss, hashes.SHA256())
        else:
            return False
    except InvalidSignature:
        return False
    return True
