"""`bodyworn controller setup --answers`: the wizard's rules, every error, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bodyworn.cli import app
from bodyworn.controller.firmware import service as firmware
from bodyworn.controller.identity.restore_key import open_restore_key
from bodyworn.controller.settings import ControllerSettings
from bodyworn.store.db import make_engine, session_factory
from tests.controller.conftest import PASSPHRASE, ROOT_PASSWORD
from tests.domain.connection_factory import OMIT, connection_file_bytes
from tests.firmware_factory import make_bundle, write_trusted_key

runner = CliRunner()


def write_answers(tmp_path: Path, extra: str = "", **replace: str) -> Path:
    (tmp_path / "cd.json").write_bytes(connection_file_bytes())
    lines = {
        "language": '"en"',
        "root_password": f'"{ROOT_PASSWORD}"',
        "super_admin_passphrase": f'"{PASSPHRASE}"',
        "restore_key_path": '"keys/restore.json"',
        "system_name": '"Depot"',
        "timezone": '"America/New_York"',
        "manual_time": "true",
        "cloud_extensions": "true",
        "cloud_location": '"eu-de"',
        "connection_file": '"cd.json"',
        "power_line_frequency": "60",
        "camera_assignment": '"fixed"',
    }
    lines.update(replace)
    text = "\n".join(f"{k} = {v}" for k, v in lines.items() if v != "DROP") + "\n" + extra
    path = tmp_path / "answers.toml"
    path.write_text(text)
    return path


def test_unattended_setup_writes_system_and_restore_key(tmp_path: Path) -> None:
    answers = write_answers(tmp_path)
    data = tmp_path / "data"
    result = runner.invoke(app, ["controller", "setup", "--data-dir", str(data),
                                 "--answers", str(answers)])
    assert result.exit_code == 0, result.output
    key = tmp_path / "keys" / "restore.json"
    contents = open_restore_key(key.read_bytes(), PASSPHRASE)
    assert contents.system_name == "Depot"
    assert contents.system_id in result.output
    assert key.stat().st_mode & 0o077 == 0  # readable by the owner only
    again = runner.invoke(app, ["controller", "setup", "--data-dir", str(data),
                                "--answers", str(write_answers(tmp_path,
                                restore_key_path='"keys/other.json"'))])
    assert again.exit_code != 0 and "already set up" in again.output
    assert not (tmp_path / "keys" / "other.json").exists()


def test_bad_answers_list_every_error_and_write_nothing(tmp_path: Path) -> None:
    answers = write_answers(
        tmp_path, extra='colour = "blue"\n', root_password='"short"', power_line_frequency="55",
        camera_assignment='"lottery"', system_name="DROP",
    )
    data = tmp_path / "data"
    result = runner.invoke(app, ["controller", "setup", "--data-dir", str(data),
                                 "--answers", str(answers)])
    assert result.exit_code == 2
    for field in ("root_password", "power_line_frequency", "camera_assignment", "system_name",
                  "colour"):
        assert field in result.output, field
    assert "nothing was written" in result.output
    assert not (tmp_path / "keys").exists()
    assert not data.exists()


def test_wrong_types_and_conflicts_are_named(tmp_path: Path) -> None:
    answers = write_answers(tmp_path, power_line_frequency='"50"', cloud_extensions='"yes"',
                            extra='ntp_server = "pool.example"\n')
    result = runner.invoke(app, ["controller", "setup", "--data-dir", str(tmp_path / "d"),
                                 "--answers", str(answers)])
    assert result.exit_code == 2
    assert "power_line_frequency: must be of type int" in result.output
    assert "cloud_extensions: must be of type bool" in result.output
    assert "either ntp_server or manual_time" in result.output


def test_missing_connection_file_is_reported(tmp_path: Path) -> None:
    answers = write_answers(tmp_path, connection_file='"nowhere.json"')
    result = runner.invoke(app, ["controller", "setup", "--data-dir", str(tmp_path / "d"),
                                 "--answers", str(answers)])
    assert result.exit_code == 2 and "connection_file: cannot read" in result.output
    assert "does not exist" in result.output


def test_a_connection_file_without_the_ntp_attribute_sets_up_with_a_warning(
    tmp_path: Path,
) -> None:
    # The reference server writes connection files without ContentDestinationAsNTPServer.
    answers = write_answers(tmp_path)
    (tmp_path / "cd.json").write_bytes(connection_file_bytes(ContentDestinationAsNTPServer=OMIT))
    result = runner.invoke(app, ["controller", "setup", "--data-dir", str(tmp_path / "data"),
                                 "--answers", str(answers)])
    assert result.exit_code == 0, result.output
    assert "Warning: The connection file does not say whether" in result.output
    assert "Axis body worn integration API requires it" in result.output
    assert "set up." in result.output


def test_files_named_in_answers_are_read_with_a_bound(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "big.json").write_bytes(b" " * (64 * 1024 + 1))
    for named, why in (("/dev/zero", "not a regular file"), ("fifo", "not a regular file"),
                       (".", "is a folder"), ("big.json", "larger than 64 KiB")):
        answers = write_answers(tmp_path, connection_file=f'"{named}"')
        result = runner.invoke(app, ["controller", "setup", "--data-dir",
                                     str(tmp_path / "data"), "--answers", str(answers)])
        assert result.exit_code != 0
        assert why in result.output, (named, result.output)


def test_an_answers_file_that_is_a_device_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["controller", "setup", "--data-dir", str(tmp_path / "data"),
                                 "--answers", "/dev/zero"])
    assert result.exit_code != 0
    assert "not a regular file" in result.output


def test_the_answers_file_installs_a_firmware_file(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BODYWORN_FIRMWARE_KEY_FILE", str(write_trusted_key(tmp_path / "keys")))
    data = tmp_path / "data"
    (tmp_path / "broken.bwfw").write_bytes(make_bundle("9.9.0.0")[:-50])
    bad = runner.invoke(app, ["controller", "setup", "--data-dir", str(data), "--answers",
                              str(write_answers(tmp_path, firmware_file='"broken.bwfw"'))])
    assert bad.exit_code == 2 and "firmware_file" in bad.output
    assert "incomplete" in bad.output and not data.exists()
    (tmp_path / "fw.bwfw").write_bytes(make_bundle("9.9.0.0"))
    good = runner.invoke(app, ["controller", "setup", "--data-dir", str(data), "--answers",
                               str(write_answers(tmp_path, firmware_file='"fw.bwfw"'))])
    assert good.exit_code == 0, good.output
    settings = ControllerSettings(data_dir=data)
    engine = make_engine(settings.db_url)
    try:
        with session_factory(engine)() as session:
            row = firmware.installed(session)
            assert row is not None and row.version == "9.9.0.0" and row.during_setup
    finally:
        engine.dispose()
    assert (data / "firmware" / row.file_name).is_file()
