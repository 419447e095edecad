"""`bodyworn firmware keygen | build | inspect`: the release tool round trip."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner

from bodyworn.cli import app
from bodyworn.firmware.bundle import read_bundle
from bodyworn.firmware.keys import public_key_from_pem


def test_keygen_build_inspect(tmp_path: Path) -> None:
    runner = CliRunner()
    key = tmp_path / "release.pem"
    assert runner.invoke(app, ["firmware", "keygen", "--out", str(key)]).exit_code == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    again = runner.invoke(app, ["firmware", "keygen", "--out", str(key)])
    assert again.exit_code == 2  # never overwrites a key
    image = tmp_path / "W100.img"
    image.write_bytes(b"\x7fimage" * 100)
    bundle = tmp_path / "fw.bwfw"
    built = runner.invoke(app, ["firmware", "build", "--key", str(key), "--version", "10.3.1.0",
                                "--camera-image", f"AXIS W100={image}", "--out", str(bundle),
                                "--notes", "fixes"])
    assert built.exit_code == 0, built.output
    public = tmp_path / "release.pub.pem"
    checked = read_bundle(bundle.read_bytes(), [public_key_from_pem(public.read_bytes())])
    assert checked.version == "10.3.1.0" and checked.manifest.notes == "fixes"
    shown = runner.invoke(app, ["firmware", "inspect", str(bundle), "--public-key", str(public)])
    assert shown.exit_code == 0 and "camera/w100.img: camera-image for AXIS W100" in shown.output
    # The release key that ships with the code did not sign it.
    assert runner.invoke(app, ["firmware", "inspect", str(bundle)]).exit_code == 1
    bad = runner.invoke(app, ["firmware", "build", "--key", str(key), "--version", "latest",
                              "--camera-image", f"AXIS W100={image}", "--out", str(bundle)])
    assert bad.exit_code == 2
