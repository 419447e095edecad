"""The identity key pair and the super admin passphrase."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bodyworn.controller.identity.keys import (
    generate_identity_keypair,
    hash_passphrase,
    keypair_matches,
    sign,
    validate_passphrase,
    verify,
    verify_passphrase,
)


def test_keypair_is_pem_pkcs8_and_spki() -> None:
    private_pem, public_pem = generate_identity_keypair()
    assert private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert keypair_matches(private_pem, public_pem)


def test_each_keypair_is_new() -> None:
    assert generate_identity_keypair()[0] != generate_identity_keypair()[0]


def test_sign_verify_round_trip() -> None:
    private_pem, public_pem = generate_identity_keypair()
    signature = sign(private_pem, b"camera 42 belongs to this system")
    assert verify(public_pem, signature, b"camera 42 belongs to this system")


def test_verify_fails_for_other_key_or_other_data() -> None:
    private_pem, public_pem = generate_identity_keypair()
    _, other_public_pem = generate_identity_keypair()
    signature = sign(private_pem, b"data")
    assert not verify(other_public_pem, signature, b"data")
    assert not verify(public_pem, signature, b"datA")
    assert not verify(public_pem, bytes(64), b"data")


def test_non_ed25519_keys_are_refused() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="Ed25519"):
        sign(ec_pem, b"data")
    with pytest.raises(ValueError):
        sign(b"not a key", b"data")


def test_passphrase_hash_round_trip() -> None:
    hashed = hash_passphrase("correct horse battery staple")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert verify_passphrase(hashed, "correct horse battery staple")
    assert not verify_passphrase(hashed, "correct horse battery stapler")


def test_verify_passphrase_with_garbage_hash_is_false() -> None:
    assert not verify_passphrase("not a hash", "correct horse battery staple")


def test_passphrase_is_unicode_normalised() -> None:
    composed = "caf\u00e9 au lait, s'il vous pla\u00eet"
    decomposed = "cafe\u0301 au lait, s'il vous plai\u0302t"
    assert verify_passphrase(hash_passphrase(composed), decomposed)


@pytest.mark.parametrize("passphrase", ["a" * 12, "twelve chars", "x" * 1024, "ö" * 12])
def test_acceptable_passphrases(passphrase: str) -> None:
    assert validate_passphrase(passphrase) == []


@pytest.mark.parametrize(
    ("passphrase", "fragment"),
    [("", "at least 12"), ("a" * 11, "at least 12"), ("x" * 1025, "at most 1024")],
)
def test_refused_passphrases(passphrase: str, fragment: str) -> None:
    errors = validate_passphrase(passphrase)
    assert len(errors) == 1
    assert fragment in errors[0]
