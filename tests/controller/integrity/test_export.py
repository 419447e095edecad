"""Verifiable exports: recordings out of the embedded CD with their proof, checked offline;
any edit to any file is caught and named; every export is logged."""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bodyworn.cli import app
from bodyworn.destination.browser_auth import ensure_browser_password
from bodyworn.destination.config import build_site
from bodyworn.destination.export import (
    EXPORT_LOG,
    Exporter,
    ExportLog,
    ExportRefused,
    exporter_identity,
)
from bodyworn.evidence.archive import (
    MANIFEST,
    MANIFEST_SIGNATURE,
    ArchiveWriter,
    verify_archive,
)
from bodyworn.evidence.signing import fingerprint
from tests.controller.integrity.conftest import IntegrityRig, make_rig

runner = CliRunner()
PASSWORD = "correct horse battery staple"


@pytest.fixture
def delivered(irig: IntegrityRig) -> tuple[IntegrityRig, list[str]]:
    """Two cameras' recordings delivered signed, the audit log anchored at the CD."""
    for serial in ("B8A44F000001", "B8A44F000002"):
        cam = irig.certified_camera(serial)
        irig.record(cam, seconds=50)
        irig.dock(cam)
    irig.deliver()
    _anchor_now(irig)
    return irig, sorted(irig.recordings())


def _anchor_now(rig: IntegrityRig) -> None:
    from datetime import timedelta

    from bodyworn.controller.integrity import service as integrity

    async def go(cd):  # type: ignore[no-untyped-def]
        await integrity.ensure_bound(rig.ctx, cd)
        await integrity.anchor_if_due(rig.ctx, cd, every=timedelta(0))

    rig.run(go)


def _export(rig: IntegrityRig, containers: list[str], reader: object = None) -> bytes:
    assert rig.cd_dir is not None and rig.cd_config is not None
    exporter = Exporter(reader or rig.reader(), rig.cd_dir, rig.cd_config.site_name,  # type: ignore[arg-type]
                        rig.clock)
    out = io.BytesIO()
    exporter.export(containers, out, actor="investigator", source="test", case="Case 7")
    return out.getvalue()


def _rewrite(archive: bytes, change: Callable[[str, bytes], bytes]) -> bytes:
    """The archive with each member passed through `change` (nothing re-signed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, change(info.filename, src.read(info.filename)))
    return out.getvalue()


def _flip(data: bytes, at: int | None = None) -> bytes:
    changed = bytearray(data)
    changed[len(data) // 2 if at is None else at] ^= 0x01
    return bytes(changed)


def _members(archive: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        return zf.namelist()


def _resealed(rig: IntegrityRig, archive: bytes, change: Callable[[str, bytes], bytes]) -> bytes:
    """The archive edited and sealed again with the exporting CD's own key: what someone
    holding that key could make. The camera's and the system's signatures remain."""
    assert rig.cd_dir is not None
    key, cert = exporter_identity(rig.cd_dir, "x", rig.clock)
    out = io.BytesIO()
    writer = ArchiveWriter(out)
    with zipfile.ZipFile(io.BytesIO(archive)) as src:
        manifest = json.loads(src.read(MANIFEST))
        for name in src.namelist():
            if name not in (MANIFEST, MANIFEST_SIGNATURE):
                writer.add_bytes(name, change(name, src.read(name)))
    manifest.pop("files")
    writer.seal(manifest, key, cert)
    return out.getvalue()


def test_one_recording_exports_and_verifies(delivered: tuple[IntegrityRig, list[str]]) -> None:
    rig, containers = delivered
    archive = _export(rig, containers[:1])
    report = verify_archive(io.BytesIO(archive))
    assert report.ok, report.lines()
    names = _members(archive)
    assert MANIFEST in names and MANIFEST_SIGNATURE in names
    assert any(n.startswith("certificates/system-") for n in names)
    assert "audit/entries.json" in names and any(n.startswith("audit/anchors/") for n in names)
    text = "\n".join(report.lines())
    assert "signed by camera" in text and "audit entries are in anchors" in text
    entries = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("audit/entries.json"))
    actions = {e["action"] for e in entries}
    assert {"recording.received", "recording.delivered", "camera.certify"} <= actions
    # Only this recording's camera: the other camera's entries stay out.
    other = containers[1].split("_")[1]
    assert not any(other in e["detail"] for e in entries)


def test_a_case_of_several_recordings_is_one_archive(
        delivered: tuple[IntegrityRig, list[str]]) -> None:
    rig, containers = delivered
    archive = _export(rig, containers)
    report = verify_archive(io.BytesIO(archive))
    assert report.ok, report.lines()
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read(MANIFEST))
    assert manifest["recordings"] == containers and manifest["case"] == "Case 7"
    for container in containers:
        assert f"recordings/{container}/container.json" in manifest["files"]


@pytest.mark.parametrize("target", ["clip", "metadata", "signature", "manifest",
                                    "manifest signature", "audit"])
def test_a_flipped_byte_anywhere_is_caught_and_named(
        delivered: tuple[IntegrityRig, list[str]], target: str) -> None:
    rig, containers = delivered
    archive = _export(rig, containers[:1])
    names = _members(archive)
    base = f"recordings/{containers[0]}"
    victim = {
        "clip": next(n for n in names if n.endswith(".mkv")),
        "metadata": f"{base}/container.json",
        "signature": next(n for n in names if n.endswith("_signatures.json")),
        "manifest": MANIFEST,
        "manifest signature": MANIFEST_SIGNATURE,
        "audit": "audit/entries.json",
    }[target]
    # Flip a byte where it matters (the signature's last part; the manifest's hashes).
    at = -5 if target in ("signature", "manifest signature") else None
    tampered = _rewrite(archive, lambda n, d: _flip(d, at) if n == victim else d)
    report = verify_archive(io.BytesIO(tampered))
    assert not report.ok
    assert any(f.split(": ", 1)[0] == victim for f in report.failures), report.failures


@pytest.mark.parametrize("target", ["clip", "container metadata", "bookmark", "audit entry"])
def test_edits_resealed_with_the_exporters_key_are_still_caught(
        delivered: tuple[IntegrityRig, list[str]], target: str) -> None:
    rig, containers = delivered
    archive = _export(rig, containers[:1])
    base = f"recordings/{containers[0]}"

    def change(name: str, data: bytes) -> bytes:
        if target == "clip" and name.endswith(".mkv") and "/objects/" in name:
            return _flip(data)
        if target == "container metadata" and name == f"{base}/container.json":
            doc = json.loads(data)
            key = next(k for k in doc["metadata"] if k.lower() == "triggerontime")
            doc["metadata"][key] = str(int(doc["metadata"][key]) - 3600)
            return json.dumps(doc).encode()
        if target == "bookmark" and "/objects/bookmark_" in name and data:
            return b"Nothing happened here."
        if target == "audit entry" and name == "audit/entries.json":
            entries = json.loads(data)
            entries[-1]["detail"] = "recording deleted by nobody"
            return json.dumps(entries).encode()
        return data

    report = verify_archive(io.BytesIO(_resealed(rig, archive, change)))
    assert not report.ok, report.lines()
    expected = {"clip": "not the ones the camera signed", "container metadata": "TriggerOnTime",
                "bookmark": "notes are not the ones", "audit entry": "was edited"}[target]
    assert any(expected in f for f in report.failures), report.failures


def test_the_system_identity_can_be_pinned(delivered: tuple[IntegrityRig, list[str]]) -> None:
    rig, containers = delivered
    archive = _export(rig, containers[:1])
    from bodyworn.controller.integrity.service import system_cert

    with rig.ctx.factory() as session, session.begin():
        right = fingerprint(system_cert(session, rig.clock))
    assert verify_archive(io.BytesIO(archive), system_fingerprint=right.lower()).ok
    wrong = verify_archive(io.BytesIO(archive), system_fingerprint="AB" * 32)
    assert not wrong.ok and any("no system identity" in f for f in wrong.failures)


def test_an_encrypted_cd_exports_plain_clips_or_keeps_them_sealed(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, encryption=True)
    try:
        cam = rig.certified_camera()
        rig.record(cam)
        rig.dock(cam)
        rig.deliver()
        [container] = rig.recordings()
        opened = _export(rig, [container])
        assert not any(n.endswith(".key") for n in _members(opened))
        assert verify_archive(io.BytesIO(opened)).ok
        blind = rig.reader()
        key = blind.private_key
        blind.private_key = None
        sealed = _export(rig, [container], blind)
        assert any(n.endswith(".key") for n in _members(sealed))
        report = verify_archive(io.BytesIO(sealed))
        assert report.ok and any("unchecked" in w for w in report.warnings)
        with_key = verify_archive(io.BytesIO(sealed), private_key=key)
        assert with_key.ok and not any("unchecked" in w for w in with_key.warnings)
    finally:
        for _, server in rig.stations:
            server.stop()
        rig.ctx.engine.dispose()


def test_exports_are_logged_in_a_chain(delivered: tuple[IntegrityRig, list[str]]) -> None:
    rig, containers = delivered
    _export(rig, containers[:1])
    _export(rig, containers)
    assert rig.cd_dir is not None
    log = ExportLog(rig.cd_dir / EXPORT_LOG)
    entries = log.entries()
    assert [e["seq"] for e in entries] == [1, 2]
    assert entries[1]["recordings"] == containers and entries[1]["actor"] == "investigator"
    assert log.verify() is None
    lines = (rig.cd_dir / EXPORT_LOG).read_text().splitlines()
    lines[0] = lines[0].replace("investigator", "someone else")
    (rig.cd_dir / EXPORT_LOG).write_text("\n".join(lines) + "\n")
    assert "was edited" in (log.verify() or "")


def test_an_unknown_recording_is_refused(delivered: tuple[IntegrityRig, list[str]]) -> None:
    rig, _ = delivered
    with pytest.raises(ExportRefused):
        _export(rig, ["no_such_recording"])
    with pytest.raises(ExportRefused):
        _export(rig, ["System"])


def test_the_evidence_browser_exports_and_lists_exports(
        delivered: tuple[IntegrityRig, list[str]]) -> None:
    rig, containers = delivered
    assert rig.cd_dir is not None and rig.cd_config is not None
    pw = rig.tmp / "pw.txt"
    pw.write_text(PASSWORD + "\n")
    ensure_browser_password(rig.cd_dir, pw)

    async def go() -> tuple[httpx.Response, str, httpx.Response]:
        site = await build_site(rig.cd_config, rig.cd_dir, clock=rig.clock)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app),
                                     base_url="http://cd.test") as http:
            page = await http.get("/browser/login")
            token = re.search(r'name="login_token" value="([^"]+)"', page.text)
            assert token
            await http.post("/browser/login", data={"login_token": token.group(1),
                                                    "password": PASSWORD})
            view = (await http.get(f"/browser/recordings/{containers[0]}")).text
            csrf = re.search(r'name="csrf" value="([^"]+)"', view)
            assert csrf
            forged = await http.post("/browser/export", data={"container": containers[0]})
            assert forged.status_code == 403
            got = await http.post("/browser/export", data={
                "csrf": csrf.group(1), "container": containers, "case": "Harbour gate"})
            listed = await http.get("/browser/exports")
            return got, view, listed

    got, view, listed = asyncio.run(go())
    assert "signature valid" in view and "Export with proof" in view
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert "evidence-Harbour_gate.zip" in got.headers["content-disposition"]
    assert verify_archive(io.BytesIO(got.content)).ok
    assert "Harbour gate" in listed.text and got.headers["x-export-id"]
    assert not list((rig.cd_dir / "exports-tmp").iterdir())


def test_the_command_line_exports_and_verifies(
        delivered: tuple[IntegrityRig, list[str]], tmp_path: Path) -> None:
    rig, containers = delivered
    out = tmp_path / "case.zip"
    result = runner.invoke(app, ["evidence", "export", "--data-dir", str(rig.cd_dir),
                                 "--output", str(out), "--case", "C-1", "--actor", "Inv. Ek",
                                 *containers])
    assert result.exit_code == 0, result.output
    assert "Exported 2 recording(s)" in result.output
    checked = runner.invoke(app, ["evidence", "verify", str(out)])
    assert checked.exit_code == 0, checked.output
    assert "RESULT: the archive verifies" in checked.output
    tampered = tmp_path / "tampered.zip"
    clip = next(n for n in _members(out.read_bytes()) if n.endswith(".mkv"))
    tampered.write_bytes(_rewrite(out.read_bytes(),
                                  lambda n, d: _flip(d) if n == clip else d))
    failed = runner.invoke(app, ["evidence", "verify", str(tampered)])
    assert failed.exit_code == 1 and f"FAIL  {clip}" in failed.output
    missing = runner.invoke(app, ["evidence", "export", "--data-dir", str(rig.cd_dir),
                                  "--output", str(tmp_path / "x.zip"), "nope"])
    assert missing.exit_code == 2 and not (tmp_path / "x.zip").exists()
