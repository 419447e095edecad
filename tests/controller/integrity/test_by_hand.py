"""The independent check: docs/integrity.md's "Checking by hand" block, run as written with
openssl, jq and coreutils (none of our code) against an exported clip."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodyworn.evidence.signing import camera_certificate, pem, system_certificate
from tests.controller.integrity.conftest import IntegrityRig
from tests.controller.integrity.test_export import _export

DOC = Path(__file__).resolve().parents[3] / "docs" / "integrity.md"
TOOLS = ("bash", "openssl", "jq", "sha256sum", "base64")


def steps() -> str:
    """The bash block under "Checking by hand"."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### Checking by hand"):]
    found = re.search(r"```bash\n(.*?)```", section, re.S)
    assert found, "docs/integrity.md has no bash block under Checking by hand"
    return found.group(1)


@pytest.fixture
def unpacked(irig: IntegrityRig, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An exported recording, unzipped; the paths the block's variables name."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing tools (scripts/debian-deps.sh installs them): {missing}")
    cam = irig.certified_camera()
    irig.record(cam)
    irig.dock(cam)
    irig.deliver()
    [container] = irig.recordings()
    where = tmp_path / "archive"
    zipfile.ZipFile(io.BytesIO(_export(irig, [container]))).extractall(where)
    objects = where / "recordings" / container / "objects"
    clip = sorted(objects.glob("*.mkv"))[0]
    env = {
        "CLIP": str(clip.relative_to(where)),
        "SIGS": str(next(objects.glob("*_signatures.json")).relative_to(where)),
        "CAMERA": f"certificates/camera-{cam.serial}.pem",
        "SYSTEM": f"certificates/system-{irig.system_id()}.pem",
    }
    return where, env


def run(where: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", steps()], cwd=where, env={"PATH": "/usr/bin:/bin",
                          **env}, capture_output=True, text=True, timeout=60, check=False)


def _relist(where: Path, name: str) -> None:
    """Put a changed file's new sha256 in manifest.json (as a forger would)."""
    manifest = json.loads((where / "manifest.json").read_text())
    data = (where / name).read_bytes()
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (where / "manifest.json").write_text(json.dumps(manifest))


def _flip(path: Path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if at is None else at] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_good_clip_passes_the_openssl_check(unpacked: tuple[Path, dict[str, str]]) -> None:
    where, env = unpacked
    done = run(where, env)
    assert done.returncode == 0, done.stderr
    assert "clip verified: signed by camera B8A44F000001" in done.stdout


def test_a_flipped_byte_in_the_clip_fails_the_manifest_step(
        unpacked: tuple[Path, dict[str, str]]) -> None:
    where, env = unpacked
    _flip(where / env["CLIP"])
    done = run(where, env)
    assert done.returncode != 0 and "clip verified" not in done.stdout
    assert env["CLIP"] in done.stdout + done.stderr


def test_a_flipped_byte_in_the_clip_fails_the_signature_step_too(
        unpacked: tuple[Path, dict[str, str]]) -> None:
    where, env = unpacked
    _flip(where / env["CLIP"])
    _relist(where, env["CLIP"])  # the manifest no longer helps: the camera's signature does
    done = run(where, env)
    assert done.returncode != 0 and "Signature Verified Successfully" in done.stdout
    assert "clip verified" not in done.stdout


def test_a_flipped_byte_in_the_signature_fails(unpacked: tuple[Path, dict[str, str]]) -> None:
    where, env = unpacked
    # A byte of the clip's JWS, in its signature part (the bundle is JSON around it).
    path = where / env["SIGS"]
    jws = json.loads(path.read_text())["clips"][Path(env["CLIP"]).name]
    at = path.read_bytes().index(jws.encode()) + len(jws) - 6
    _flip(path, at=at)
    _relist(where, env["SIGS"])
    done = run(where, env)
    assert done.returncode != 0 and "clip verified" not in done.stdout
    assert "Signature Verified Successfully" not in done.stdout


def test_a_camera_certificate_of_another_system_fails(
        unpacked: tuple[Path, dict[str, str]]) -> None:
    where, env = unpacked
    key = Ed25519PrivateKey.generate()
    root = system_certificate(key, "another-system", datetime_now())
    leaf = camera_certificate(key, root, Ed25519PrivateKey.generate().public_key(),
                              "B8A44F000001", datetime_now())
    (where / env["CAMERA"]).write_bytes(pem(leaf))
    _relist(where, env["CAMERA"])
    done = run(where, env)
    assert done.returncode != 0 and "clip verified" not in done.stdout


def datetime_now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)
