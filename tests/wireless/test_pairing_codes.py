"""Pairing codes, PINs and their verifiers; the system CA and camera certificates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bodyworn.controller.identity.keys import generate_identity_keypair, public_key_fingerprint
from bodyworn.wireless import wire
from bodyworn.wireless.certs import (
    UntrustedCamera,
    camera_certificate,
    camera_keypair,
    key_fingerprint,
    pinned_ca,
    system_ca,
    verify_issued,
)
from bodyworn.wireless.pairing import (
    PairingCode,
    PairingCodeError,
    device_fingerprint,
    device_keypair,
    device_signed,
    new_pairing_code,
    new_pin,
    normalize_pin,
    pin_verifier,
    secret_from_text,
    secret_verifier,
    sign_as_device,
)

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_a_code_reads_back_and_stays_small() -> None:
    code = new_pairing_code("ab" * 32)
    text = code.to_text()
    assert text.startswith("BWA1:") and text == text.upper()
    # QR alphanumeric characters only: a small code, easy to scan from a screen.
    assert set(text) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ:")
    assert PairingCode.parse(text) == code
    assert PairingCode.parse(f"  {text.lower()}\n") == code
    assert secret_from_text(code.secret_text) == code.secret
    assert code.secret_text not in repr(code)


@pytest.mark.parametrize("text", [
    "", "hello", "BWA2:AAAA:BBBB:CCCC", "BWA1:AAAA:BBBB", "BWA1:!!:??:**",
    "BWA1:" + ":".join(["A" * 10] * 3),
])
def test_other_text_is_not_a_code(text: str) -> None:
    with pytest.raises(PairingCodeError):
        PairingCode.parse(text)


def test_pins_and_their_verifier() -> None:
    pins = {new_pin() for _ in range(50)}
    assert all(len(p) == wire.PIN_DIGITS and p.isdigit() for p in pins) and len(pins) > 40
    assert normalize_pin(" 12 34 56 ") == "123456"
    for bad in ("12345", "1234567", "12a456", "１２３４５６"):
        with pytest.raises(ValueError):
            normalize_pin(bad)
    code = new_pairing_code("00" * 32)
    other = new_pairing_code("00" * 32)
    verifier = pin_verifier(code.secret, code.pairing_id, "123456")
    assert verifier == pin_verifier(code.secret, code.pairing_id, "123456")
    assert verifier != pin_verifier(code.secret, code.pairing_id, "123457")
    assert verifier != pin_verifier(other.secret, code.pairing_id, "123456")
    assert "123456" not in verifier
    assert secret_verifier(code.secret) != secret_verifier(other.secret)


def test_device_keys_sign_and_are_told_apart() -> None:
    private, public = device_keypair()
    _other_private, other_public = device_keypair()
    message = wire.session_message("b8a44f000001", "p" * 32, "challenge")
    signature = sign_as_device(private, message)
    assert device_signed(public, message, signature)
    assert not device_signed(other_public, message, signature)
    assert not device_signed(public, message + b"x", signature)
    assert device_fingerprint(public) != device_fingerprint(other_public)
    with pytest.raises(ValueError):
        device_fingerprint(camera_keypair()[1])  # not an Ed25519 key


def test_camera_names() -> None:
    host = wire.camera_host("B8A44F000001")
    assert host == "b8a44f000001.camera.bodyworn.invalid"
    assert wire.serial_of_host(host) == "B8A44F000001"
    for other in (None, "", "example.com", "a.b.camera.bodyworn.invalid",
                  ".camera.bodyworn.invalid", "x-y.camera.bodyworn.invalid"):
        assert wire.serial_of_host(other) is None


def test_the_identity_key_issues_camera_certificates_and_is_pinned() -> None:
    private, public = generate_identity_keypair()
    ca = system_ca(private, "system-1", NOW)
    fingerprint = public_key_fingerprint(public)
    assert key_fingerprint(ca) == fingerprint
    # Made again later, the CA is another certificate for the same pinned key.
    again = system_ca(private, "system-1", NOW.replace(year=2027))
    assert again != ca and key_fingerprint(again) == fingerprint
    _, camera_public = camera_keypair()
    cert = camera_certificate(private, "system-1", camera_public, "B8A44F000001", NOW)
    assert verify_issued(cert, ca) and verify_issued(cert, again)
    assert pinned_ca(ca, fingerprint) == ca
    other_private, _other_public = generate_identity_keypair()
    stranger = system_ca(other_private, "system-2", NOW)
    assert not verify_issued(cert, stranger)
    with pytest.raises(UntrustedCamera):
        pinned_ca(stranger, fingerprint)
    with pytest.raises(UntrustedCamera):
        pinned_ca(cert, key_fingerprint(cert))  # a camera certificate is no CA
    with pytest.raises(UntrustedCamera):
        pinned_ca(b"not a certificate", fingerprint)
