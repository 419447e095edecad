"""The camera's device key, the certificate it accepts over the dock link, what it signs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodyworn.devices.camera import CameraError
from bodyworn.docklink.messages import Manifest
from bodyworn.evidence.signing import (
    CLIP_STATEMENT,
    RECORDING_STATEMENT,
    camera_certificate,
    check_chain,
    load_ed25519_private,
    parse_jws,
    pem,
    system_certificate,
    verify_jws,
)
from tests.devices.test_docklink import SYSTEM_ID, Rig, _added, _refused
from tests.devices.test_docklink import rig as rig

NOW = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


@pytest.fixture
def system(rig: Rig) -> Iterator[tuple[Ed25519PrivateKey, object]]:
    """The rig's identity key and its system certificate."""
    key = load_ed25519_private(rig.identity.private_key_pem)
    yield key, system_certificate(key, SYSTEM_ID, NOW)


def _chain(rig: Rig, key: Ed25519PrivateKey, root: object, serial: str | None = None,
           device: Ed25519PrivateKey | None = None) -> list[str]:
    leaf = camera_certificate(key, root, (device or rig.camera.device_key).public_key(),  # type: ignore[arg-type]
                              serial or rig.camera.serial, NOW)
    return [pem(leaf).decode(), pem(root).decode()]  # type: ignore[arg-type]


def test_a_certified_camera_signs_clips_and_recordings(rig: Rig, system) -> None:  # type: ignore[no-untyped-def]
    key, root = system
    client = _added(rig)
    info = client.install_certificate(_chain(rig, key, root))
    assert info.device_key == rig.camera.device_public_pem and info.device_certificate
    rig.record()
    manifest = Manifest.from_json(client.manifest().to_json())
    [recording] = manifest.recordings
    assert recording.signature and all(c.signature for c in recording.clips)
    trusted = {SYSTEM_ID: root}
    for clip in recording.clips:
        jws = parse_jws(clip.signature or "")
        verify_jws(jws, CLIP_STATEMENT)
        check_chain(jws, trusted, signer_cn=rig.camera.serial)  # type: ignore[arg-type]
        assert jws.payload["sha256"] == clip.sha256 and jws.payload["clip"] == clip.name
    statement = parse_jws(recording.signature or "")
    verify_jws(statement, RECORDING_STATEMENT)
    assert statement.payload["categories"] == ["Traffic"]
    assert statement.payload["notes"] == ["Speeding at the gate."]
    assert [c["sha256"] for c in statement.payload["clips"]] == [c.sha256 for c in
                                                                 recording.clips]
    assert statement.payload["track_points"] == len(recording.gnss_track) > 0


def test_an_uncertified_camera_signs_nothing(rig: Rig) -> None:
    client = _added(rig)
    assert client.info().device_certificate is None
    rig.record()
    [recording] = client.manifest().recordings
    assert recording.signature is None and all(c.signature is None for c in recording.clips)


def test_adding_a_note_signs_the_recording_again(rig: Rig, system) -> None:  # type: ignore[no-untyped-def]
    key, root = system
    client = _added(rig)
    client.install_certificate(_chain(rig, key, root))
    rig.record()
    recording = rig.camera.recordings[0]
    before = recording.signature
    rig.camera.add_note(recording.id, "Second look.")
    assert recording.signature != before
    assert parse_jws(recording.signature or "").payload["notes"][-1] == "Second look."


def test_the_camera_refuses_certificates_that_are_not_for_it(rig: Rig, system) -> None:  # type: ignore[no-untyped-def]
    key, root = system
    client = _added(rig)
    other_key = Ed25519PrivateKey.generate()
    other_root = system_certificate(other_key, "elsewhere", NOW)
    for chain in (
        _chain(rig, key, root, device=Ed25519PrivateKey.generate()),  # another key
        _chain(rig, key, root, serial="B8A44F009999"),                 # another camera
        _chain(rig, other_key, other_root),                            # another system
        _chain(rig, key, root)[:1],                                    # no issuer
        ["not a certificate"],
    ):
        _refused(lambda c=chain: client.install_certificate(c), 400, "bad_certificate")
    assert rig.camera.device_chain == ()


def test_a_camera_in_shipping_mode_takes_no_certificate(rig: Rig, system) -> None:  # type: ignore[no-untyped-def]
    key, root = system
    leaf = camera_certificate(key, root, rig.camera.device_key.public_key(),
                              rig.camera.serial, NOW)
    with pytest.raises(CameraError):
        rig.camera.install_certificate([leaf, root])


def test_a_factory_reset_keeps_the_key_and_drops_the_certificate(
        rig: Rig, system, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key, root = system
    client = _added(rig)
    client.install_certificate(_chain(rig, key, root))
    device = rig.camera.device_public_pem
    client.factory_reset()
    assert rig.camera.device_chain == () and rig.camera.device_public_pem == device
