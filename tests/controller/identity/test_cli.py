"""`restore-key inspect` through typer's test runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bodyworn.controller.identity.cli import restore_key_app

from .conftest import PASSPHRASE, Sealed

runner = CliRunner()


@pytest.fixture
def key_file(tmp_path: Path, sealed: Sealed) -> Path:
    path = tmp_path / "restore-key.json"
    path.write_bytes(sealed.data)
    return path


def test_prompted_passphrase_shows_the_identity(key_file: Path, sealed: Sealed) -> None:
    result = runner.invoke(restore_key_app, ["inspect", str(key_file)], input=PASSPHRASE + "\n")
    assert result.exit_code == 0, result.output
    assert "Super admin passphrase" in result.output
    assert sealed.system_id in result.stdout
    assert sealed.system_name in result.stdout
    assert "Ed25519" in result.stdout
    assert "2026-11-27T07:30:05Z" in result.stdout
    assert PASSPHRASE not in result.output
    assert "PRIVATE KEY" not in result.output


def test_passphrase_file(key_file: Path, sealed: Sealed, tmp_path: Path) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    result = runner.invoke(
        restore_key_app, ["inspect", str(key_file), "--passphrase-file", str(secret)]
    )
    assert result.exit_code == 0, result.output
    assert sealed.system_id in result.stdout
    assert "Super admin passphrase" not in result.output


def test_wrong_passphrase_exits_1_with_a_clear_message(key_file: Path, sealed: Sealed) -> None:
    result = runner.invoke(
        restore_key_app, ["inspect", str(key_file)], input="not the passphrase\n"
    )
    assert result.exit_code == 1
    assert "wrong passphrase (or the file was altered)" in result.stderr
    assert sealed.system_id not in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_not_a_restore_key(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello", encoding="utf-8")
    result = runner.invoke(restore_key_app, ["inspect", str(path)], input=PASSPHRASE + "\n")
    assert result.exit_code == 1
    assert "not a bodyworn restore key file" in result.stderr
    assert "Traceback" not in result.output


def test_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(
        restore_key_app, ["inspect", str(tmp_path / "absent.json")], input=PASSPHRASE + "\n"
    )
    assert result.exit_code == 1
    assert "cannot read" in result.stderr
    assert isinstance(result.exception, SystemExit)


def test_missing_passphrase_file(key_file: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        restore_key_app,
        ["inspect", str(key_file), "--passphrase-file", str(tmp_path / "absent")],
    )
    assert result.exit_code == 1
    assert "cannot read" in result.stderr


def test_help_lists_inspect() -> None:
    result = runner.invoke(restore_key_app, ["--help"])
    assert result.exit_code == 0
    assert "inspect" in result.output


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "folder"])
def test_special_files_are_refused_without_reading_them(key_file: Path, tmp_path: Path,
                                                       special: str) -> None:
    import os

    path = Path(special)
    if special == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    elif special == "folder":
        path = tmp_path
    for args in (["inspect", str(path)], ["inspect", str(key_file), "--passphrase-file",
                                          str(path)]):
        result = runner.invoke(restore_key_app, args, input=PASSPHRASE + "\n")
        assert result.exit_code == 1, result.output
        assert "cannot read" in result.stderr


def test_without_a_terminal_it_asks_for_a_passphrase_file(key_file: Path) -> None:
    import subprocess
    import sys

    # A new session has no controlling terminal: getpass cannot open /dev/tty.
    done = subprocess.run(
        [sys.executable, "-m", "bodyworn.cli", "restore-key", "inspect", str(key_file)],
        input=PASSPHRASE + "\n", capture_output=True, text=True, timeout=60,
        start_new_session=True,
    )
    assert done.returncode == 2, done.stderr
    assert "--passphrase-file" in done.stderr
    assert "GetPassWarning" not in done.stderr and "echoed" not in done.stderr
