"""Signed clips end to end: camera → controller → embedded CD → evidence browser checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from bodyworn.cdclient.capabilities import (
    READ_CATEGORIES,
    STORE_BOOKMARKS,
    STORE_GNSS_TRACK,
    STORE_READ_SYSTEM_ID,
)
from bodyworn.controller.audit.models import AuditEntry
from bodyworn.controller.docking import sync as docking_sync
from bodyworn.controller.integrity.models import CameraCertificate
from bodyworn.controller.integrity.service import enrol_camera
from bodyworn.destination.swift import CDMode
from bodyworn.evidence.signing import (
    camera_certificate,
    parse_signature_bundle,
    system_certificate,
)
from bodyworn.evidence.verify import Verdict
from tests.controller.integrity.conftest import IntegrityRig, make_rig


def _objects(rig: IntegrityRig, container: str) -> list[str]:
    return [o.name for o in rig.cd.store.list_objects(rig.cd_account, container)]


def test_every_clip_and_the_recording_arrive_signed_and_check_valid(irig: IntegrityRig) -> None:
    cam = irig.certified_camera()
    irig.record(cam)
    irig.dock(irig.cameras[cam.serial])
    irig.deliver()
    [container] = irig.recordings()
    names = _objects(irig, container)
    clips = [n for n in names if n.endswith(".mkv")]
    assert len(clips) >= 2
    # One signatures object for the recording: its statement and every clip's.
    [bundle] = [o for o in irig.cd.store.list_objects(irig.cd_account, container)
                if o.name.endswith("_signatures.json")]
    recording, by_clip = parse_signature_bundle(bundle.path.read_bytes())
    assert recording is not None and sorted(by_clip) == sorted(clips)
    assert not any(n.endswith(".sig") for n in names)
    found = irig.findings(container)
    assert {f.verdict for f in found.clips.values()} == {Verdict.VALID}
    assert found.recording.verdict is Verdict.VALID, found.recording.detail
    assert [f.verdict for f in found.details] == [Verdict.VALID] * 3, found.details
    assert found.ok


def test_a_camera_certified_already_is_not_certified_again(irig: IntegrityRig) -> None:
    cam = irig.certified_camera()
    chain = cam.device_chain
    with irig.ctx.factory() as session:
        assert session.get(CameraCertificate, cam.serial) is not None
    with irig.client(cam) as link:
        assert not enrol_camera(irig.ctx, cam.serial, link)
    irig.dock(cam)
    assert cam.device_chain == chain


def test_custody_entries_name_the_recording_its_clips_and_where_it_went(
        irig: IntegrityRig) -> None:
    cam = irig.certified_camera()
    rec_id = irig.record(cam)
    irig.dock(cam)
    irig.deliver()
    [container] = irig.recordings()
    with irig.ctx.factory() as session:
        entries = {e.action: e.detail for e in session.scalars(select(AuditEntry))}
    assert rec_id in entries["recording.received"] and "sha256" in entries["recording.received"]
    assert container in entries["recording.delivered"]


def test_signing_composes_with_encryption(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, encryption=True)
    try:
        cam = rig.certified_camera()
        rig.record(cam)
        rig.dock(cam)
        rig.deliver()
        [container] = rig.recordings()
        names = _objects(rig, container)
        assert any(n.endswith(".key") for n in names)
        # The CD holds ciphertext; the camera signed the plaintext, which the CD decrypts.
        found = rig.findings(container)
        assert {f.verdict for f in found.clips.values()} == {Verdict.VALID}
        assert found.ok
        # Without the private key the clips cannot be checked (never "valid" by default).
        blind = rig.reader()
        blind.private_key = None
        view = blind.recording(container)
        assert view.integrity is not None
        assert {f.verdict for f in view.integrity.clips.values()} == {Verdict.UNCHECKED}
    finally:
        for _, server in rig.stations:
            server.stop()
        rig.ctx.engine.dispose()


def test_a_flipped_byte_in_a_stored_clip_shows_invalid(irig: IntegrityRig) -> None:
    cam = irig.certified_camera()
    irig.record(cam)
    irig.dock(cam)
    irig.deliver()
    [container] = irig.recordings()
    clip = next(o for o in irig.cd.store.list_objects(irig.cd_account, container)
                if o.name.endswith(".mkv"))
    data = bytearray(clip.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    clip.path.chmod(0o600)
    clip.path.write_bytes(bytes(data))
    # The browser hashes the bytes it holds, not the hash noted when they were stored.
    found = irig.findings(container)
    assert found.clips[clip.name].verdict is Verdict.INVALID
    assert "not the ones the camera signed" in found.clips[clip.name].detail
    assert not found.ok


def test_a_camera_key_not_certified_by_this_system_is_invalid(
        irig: IntegrityRig, monkeypatch: pytest.MonkeyPatch) -> None:
    cam = irig.camera()
    # The camera holds a certificate from another system (moved, or forged).
    other_key = Ed25519PrivateKey.generate()
    other_root = system_certificate(other_key, "another-system", irig.clock.now())
    leaf = camera_certificate(other_key, other_root, cam.device_key.public_key(), cam.serial,
                              irig.clock.now())
    cam.device_chain = (leaf, other_root)
    irig.record(cam)
    # Docking would certify it (the controller sees a foreign certificate): keep it foreign.
    monkeypatch.setattr(docking_sync, "certify", lambda *a, **k: None)
    irig.dock(cam)
    irig.deliver()
    [container] = irig.recordings()
    found = irig.findings(container)
    assert {f.verdict for f in found.clips.values()} == {Verdict.INVALID}
    assert all("not certified by a system this destination knows" in f.detail
               for f in found.clips.values())
    assert found.recording.verdict is Verdict.INVALID


def test_a_camera_docked_with_a_foreign_certificate_is_certified_again(
        irig: IntegrityRig) -> None:
    cam = irig.camera()
    other_key = Ed25519PrivateKey.generate()
    other_root = system_certificate(other_key, "another-system", irig.clock.now())
    cam.device_chain = (camera_certificate(other_key, other_root, cam.device_key.public_key(),
                                           cam.serial, irig.clock.now()), other_root)
    irig.dock(cam)
    assert cam.device_chain[1].subject != other_root.subject


def test_no_signature_objects_where_the_cd_does_not_take_signed_video(tmp_path: Path) -> None:
    caps = {"Read": [READ_CATEGORIES],
            "Store": [STORE_BOOKMARKS, STORE_GNSS_TRACK],
            "StoreAndRead": [STORE_READ_SYSTEM_ID]}
    rig = make_rig(tmp_path, capabilities=caps)
    try:
        cam = rig.certified_camera()
        rig.record(cam)
        rig.dock(cam)
        rig.deliver()
        [container] = rig.recordings()
        assert not any(n.endswith(("_signatures.json", ".sig"))
                       for n in _objects(rig, container))
        found = rig.findings(container)
        assert {f.verdict for f in found.clips.values()} == {Verdict.MISSING}
        assert found.recording.verdict is Verdict.MISSING
    finally:
        for _, server in rig.stations:
            server.stop()
        rig.ctx.engine.dispose()


@pytest.mark.parametrize("mode", [CDMode.REFERENCE])
def test_the_reference_like_cd_stores_the_signatures_too(tmp_path: Path, mode: CDMode) -> None:
    rig = make_rig(tmp_path, mode=mode)
    try:
        cam = rig.certified_camera()
        rig.record(cam)
        rig.dock(cam)
        rig.deliver()
        [container] = rig.recordings()
        found = rig.findings(container)
        assert found.ok and {f.verdict for f in found.clips.values()} == {Verdict.VALID}
    finally:
        for _, server in rig.stations:
            server.stop()
        rig.ctx.engine.dispose()
