"""The evidence signing library: JWS statements, the certificate chain, the checks' rules."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodyworn.cdclient.records import GnssPoint, RecordingUpload, gnss_body, recording_metadata
from bodyworn.evidence.anchors import anchor_body, anchor_payload, check_anchor, parse_anchor_body
from bodyworn.evidence.audit_chain import GENESIS, ChainedEntry, entry_digest
from bodyworn.evidence.metadata import Location, recording_container_name
from bodyworn.evidence.signing import (
    CLIP_STATEMENT,
    RECORDING_STATEMENT,
    Fix,
    SignatureProblem,
    camera_certificate,
    check_chain,
    clip_statement,
    fingerprint,
    normal_fingerprint,
    parse_jws,
    parse_signature_bundle,
    recording_statement,
    sign_jws,
    signature_bundle,
    system_certificate,
    verify_jws,
)
from bodyworn.evidence.verify import (
    Material,
    RecordingMaterial,
    Verdict,
    check_recording,
    metadata_mismatches,
)

T0 = datetime(2026, 3, 2, 7, 14, 32, 250000, tzinfo=UTC)
SERIAL = "B8A44F000001"


def _system(name: str = "sys-1") -> tuple[Ed25519PrivateKey, object]:
    key = Ed25519PrivateKey.generate()
    return key, system_certificate(key, name, T0)


def _camera(key: Ed25519PrivateKey, root: object, serial: str = SERIAL
            ) -> tuple[Ed25519PrivateKey, list[object]]:
    device = Ed25519PrivateKey.generate()
    leaf = camera_certificate(key, root, device.public_key(), serial, T0)  # type: ignore[arg-type]
    return device, [leaf, root]


def _clip_jws(device: Ed25519PrivateKey, chain: list[object], sha: str = "ab" * 32) -> str:
    payload = clip_statement(camera=SERIAL, recording="R1", clip="c.mkv", index=0, start=T0,
                             end=T0 + timedelta(seconds=40), size=10, sha256=sha)
    return sign_jws(payload, device, chain)  # type: ignore[arg-type]


def test_a_statement_verifies_and_any_change_breaks_it() -> None:
    key, root = _system()
    device, chain = _camera(key, root)
    text = _clip_jws(device, chain)
    jws = parse_jws(text)
    verify_jws(jws, CLIP_STATEMENT)
    assert check_chain(jws, {"sys-1": root}, signer_cn=SERIAL) is root  # type: ignore[comparison-overlap]
    header, payload, signature = text.split(".")
    for broken in (f"{header}.{payload[:-2]}x{payload[-1]}.{signature}",
                   f"{header}.{payload}.{signature[:-3]}AAA"):
        with pytest.raises(SignatureProblem):
            verify_jws(parse_jws(broken), CLIP_STATEMENT)
    with pytest.raises(SignatureProblem, match="where a"):
        verify_jws(jws, RECORDING_STATEMENT)
    for junk in ("", "a.b", "not.a.jws", "e30.e30.AA"):
        with pytest.raises(SignatureProblem):
            parse_jws(junk)


def test_the_chain_must_lead_to_a_trusted_system() -> None:
    key, root = _system()
    other_key, other_root = _system("sys-2")
    device, chain = _camera(key, root)
    jws = parse_jws(_clip_jws(device, chain))
    with pytest.raises(SignatureProblem, match="not certified by a system this destination"):
        check_chain(jws, {"sys-2": other_root})  # type: ignore[dict-item]
    # A forged root with the right name but another key.
    _, forged_root = _system("sys-1")
    with pytest.raises(SignatureProblem):
        check_chain(jws, {"sys-1": forged_root})  # type: ignore[dict-item]
    # Self-made: a camera certificate issued by a key of its own but naming sys-1.
    rogue_key = Ed25519PrivateKey.generate()
    rogue_root = system_certificate(rogue_key, "sys-1", T0)
    rogue_device, rogue_chain = _camera(rogue_key, rogue_root)
    with pytest.raises(SignatureProblem):
        check_chain(parse_jws(_clip_jws(rogue_device, rogue_chain)), {"sys-1": root})  # type: ignore[dict-item]
    # Only the leaf (no issuer).
    with pytest.raises(SignatureProblem, match="not issued by any system"):
        check_chain(parse_jws(_clip_jws(device, chain[:1])), {"sys-1": root})  # type: ignore[dict-item]
    with pytest.raises(SignatureProblem, match="signed by camera"):
        check_chain(jws, {"sys-1": root}, signer_cn="B8A44F000002")  # type: ignore[dict-item]
    assert other_key is not None


def test_fingerprints_read_as_typed() -> None:
    _, root = _system()
    printed = fingerprint(root)  # type: ignore[arg-type]
    assert len(printed) == 95 and printed.count(":") == 31
    assert normal_fingerprint(printed.replace(":", "").lower()) == printed


def _upload(tmp_path: Path) -> RecordingUpload:
    return RecordingUpload(
        recording_id="R1", user_uuid="6f1c1f7e-0000-4000-8000-000000000001",
        bwc_serial=SERIAL, scu_serial="sys-1", bwc_model="AXIS W100",
        firmware_version="10.2.0.3", trigger_on="button", trigger_off="button",
        trigger_on_time=T0 + timedelta(seconds=5), trigger_off_time=T0 + timedelta(seconds=95),
        start_time=T0, stop_time=T0 + timedelta(seconds=95), clips=(),
        time_zone="Europe/Stockholm",
        trigger_on_location=Location(59.3293, 18.0686, 0.0, T0 + timedelta(seconds=5)),
        gnss_track=tuple(GnssPoint(59.3293 + i / 1e5, 18.0686 - i / 1e5,
                                   T0 + timedelta(seconds=10 * i)) for i in range(5)),
    )


def _statement(rec: RecordingUpload, **changes: object) -> dict[str, object]:
    facts: dict[str, object] = dict(
        camera=SERIAL, recording="R1", user="officer-17", firmware="10.2.0.3",
        timezone="Europe/Stockholm", trigger="button", trigger_on=rec.trigger_on_time,
        trigger_off=rec.trigger_off_time, started_at=rec.start_time, stopped_at=rec.stop_time,
        stop_reason="button", trigger_on_location=Fix(59.3293, 18.0686,
                                                      T0 + timedelta(seconds=5)),
        trigger_off_location=None,
        track=[Fix(p.latitude, p.longitude, p.time) for p in rec.gnss_track],
        categories=[], notes=[], clips=[])
    facts.update(changes)
    return recording_statement(**facts)  # type: ignore[arg-type]


def test_the_controllers_metadata_matches_what_the_camera_signs(tmp_path: Path) -> None:
    rec = _upload(tmp_path)
    name = recording_container_name(rec.user_uuid, SERIAL, rec.trigger_on_time)
    meta = {k: v for k, v in recording_metadata(rec, name, "Complete").items() if v}
    users = {rec.user_uuid: "officer-17"}
    assert metadata_mismatches(meta, _statement(rec), users) == []
    later = _statement(rec, trigger_on=rec.trigger_on_time + timedelta(seconds=2))
    assert any("TriggerOnTime" in m for m in metadata_mismatches(meta, later, users))
    moved = _statement(rec, trigger_on_location=Fix(59.4, 18.0686, T0 + timedelta(seconds=5)))
    assert any("TriggerOnLocation" in m for m in metadata_mismatches(meta, moved, users))
    someone = _statement(rec, user="officer-99")
    assert any("UserID" in m for m in metadata_mismatches(meta, someone, users))


def _material(name: str, body: bytes, meta: dict[str, str] | None = None) -> Material:
    return Material(name, meta or {}, lambda: None, lambda: body)


def test_the_track_the_controller_sends_is_the_track_the_camera_signed(tmp_path: Path) -> None:
    rec = _upload(tmp_path)
    key, root = _system()
    device, chain = _camera(key, root)
    statement = sign_jws(_statement(rec), device, chain)  # type: ignore[arg-type]
    meta = {"BWCSerialNumber": SERIAL}
    track = gnss_body(rec)
    objects = {
        "x_signatures.json": _material("x_signatures.json", signature_bundle(statement, {})),
        "x_gpstrail.json": _material("x_gpstrail.json", track),
    }
    found = check_recording(RecordingMaterial("c", meta, objects), {"sys-1": root})  # type: ignore[dict-item]
    # The statement came out of the signatures object (this metadata is partial).
    assert found.recording.verdict is not Verdict.MISSING, found.recording
    assert {f.subject: f.verdict for f in found.details}["GNSS track"] is Verdict.VALID
    moved = track.replace(b"18.068", b"18.069", 1)
    objects["x_gpstrail.json"] = _material("x_gpstrail.json", moved)
    found = check_recording(RecordingMaterial("c", meta, objects), {"sys-1": root})  # type: ignore[dict-item]
    assert {f.subject: f.verdict for f in found.details}["GNSS track"] is Verdict.INVALID


def _entries(n: int) -> list[ChainedEntry]:
    out, prev = [], GENESIS
    for i in range(1, n + 1):
        at = (T0 + timedelta(seconds=i)).isoformat(timespec="microseconds")
        digest = entry_digest(prev, at, "root", "test", f"step {i}", "here", "success")
        out.append(ChainedEntry(i, at, "root", "test", f"step {i}", "here", "success", prev,
                                digest))
        prev = digest
    return out


def test_an_anchor_holds_its_entries_and_nothing_else() -> None:
    key, root = _system()
    entries = _entries(4)
    jws = sign_jws(anchor_payload(system="sys-1", seq=1, entries=entries, prev_anchor=None,
                                  at=T0), key, [root])  # type: ignore[list-item]
    stored = parse_anchor_body(anchor_body(jws, entries))
    check_anchor(stored, {"sys-1": root})  # type: ignore[dict-item]
    edited = [*entries[:2], ChainedEntry(**{**entries[2].__dict__, "detail": "nothing"}),
              entries[3]]
    with pytest.raises(SignatureProblem, match="entry 3"):
        check_anchor(parse_anchor_body(anchor_body(jws, edited)), {"sys-1": root})  # type: ignore[dict-item]
    _, other = _system()
    with pytest.raises(SignatureProblem, match="system identity"):
        check_anchor(stored, {"sys-1": other})  # type: ignore[dict-item]
    # A camera's key cannot sign anchors, even one this system certified.
    device, chain = _camera(key, root)
    by_camera = sign_jws(anchor_payload(system="sys-1", seq=1, entries=entries,
                                        prev_anchor=None, at=T0), device, chain)  # type: ignore[arg-type]
    with pytest.raises(SignatureProblem):
        check_anchor(parse_anchor_body(anchor_body(by_camera, entries)), {"sys-1": root})  # type: ignore[dict-item]


def test_the_controller_and_the_verifier_share_the_audit_formula() -> None:
    from bodyworn.controller.audit.service import entry_digest as controller_digest

    at = T0
    assert controller_digest(GENESIS, at, "a", "b", "c", "d", "success") == entry_digest(
        GENESIS, at.isoformat(timespec="microseconds"), "a", "b", "c", "d", "success")


def test_a_signatures_object_that_cannot_be_read_makes_its_clips_invalid() -> None:
    key, root = _system()
    device, chain = _camera(key, root)
    clip = b"clip bytes"
    statement = sign_jws(clip_statement(
        camera=SERIAL, recording="R1", clip="c1.mkv", index=0, start=T0,
        end=T0 + timedelta(seconds=40), size=len(clip),
        sha256=hashlib.sha256(clip).hexdigest()), device, chain)  # type: ignore[arg-type]
    meta = {"BWCSerialNumber": SERIAL}
    name = "20260101_000000_R1.mkv"
    stored = Material(name, {}, lambda: hashlib.sha256(clip).hexdigest(), lambda: clip)
    bundle = signature_bundle(None, {name: statement})
    good = {name: stored, "x_signatures.json": _material("x_signatures.json", bundle)}
    found = check_recording(RecordingMaterial("c", meta, good), {"sys-1": root})  # type: ignore[dict-item]
    assert found.clips[name].verdict is Verdict.VALID, found.clips
    assert found.recording.verdict is Verdict.MISSING
    broken = {name: stored, "x_signatures.json": _material("x_signatures.json", bundle[:-3])}
    found = check_recording(RecordingMaterial("c", meta, broken), {"sys-1": root})  # type: ignore[dict-item]
    # Not "missing": a signatures object is there, and it does not hold.
    assert found.clips[name].verdict is Verdict.INVALID
    assert "not JSON" in found.clips[name].detail
    assert found.recording.verdict is Verdict.INVALID
    with pytest.raises(SignatureProblem):
        parse_signature_bundle(b'{"format": "something-else", "clips": {}}')
